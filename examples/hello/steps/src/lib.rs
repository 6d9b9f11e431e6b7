//! Steps of the hello example: two `hello-worker` servers (`worker1`, `worker2`) greet and
//! audit each other, once per round.
//!
//! | step | worker | does |
//! |---|---|---|
//! | `check-health` | worker1 | `GET /health` of every worker; each must answer 200 with its own name |
//! | `submit-greeting` | worker1 | `POST /greetings` (201); stores `greeting_id` and `greeting_from` (round) and appends to `greeting_ids` (global) |
//! | `audit-greeting` | worker2 | `GET /greetings/{id}` from the submitter; checks round and sender; stores `audited` |
//! | `bonus-round` | worker2 | skipped in odd rounds; in even rounds `GET /health` |
//! | `summary` | worker1 | `greeting_ids` holds at least one id per round so far |
//!
//! The post-load callback logs `hello: post-load ran` and sets the global `post_load_ran`.
//!
//! Failure injection for the runner's tests: when config.yaml sets `fail_step` to a step's
//! name, that step's `execute` fails with
//! `injected failure in <step> (config fail_step)` before doing anything — in every round,
//! or only in round `fail_round` if set. `pause_ms` makes `check-health` sleep first.
//!
//! Build: `cargo build -p hello-steps --target wasm32-wasip2 --profile guest`.

use prometheus_step::{Context, Ctx, Error, Outcome, Steps, Value, ensure, fail, json, no_prepare};
use serde::{Deserialize, Serialize};

fn steps() -> Steps {
    Steps::new()
        .step(
            "check-health",
            "Both workers answer /health",
            "worker1",
            check_health_prepare,
            check_health_execute,
        )
        .step_with_params(
            "submit-greeting",
            "worker1 posts this round's greeting",
            "worker1",
            json!({"text": "hello"}),
            submit_greeting_prepare,
            submit_greeting_execute,
        )
        .step(
            "audit-greeting",
            "worker2 reads the greeting back from worker1",
            "worker2",
            audit_greeting_prepare,
            audit_greeting_execute,
        )
        .step(
            "bonus-round",
            "Even rounds only: worker2 answers /health",
            "worker2",
            no_prepare,
            bonus_round_execute,
        )
        .step(
            "summary",
            "Every round so far left a greeting",
            "worker1",
            no_prepare,
            summary_execute,
        )
        .post_load(post_load)
}

prometheus_step::export_steps!(steps);

/// Fails the step when config.yaml's `fail_step` names it (in every round, or only in
/// round `fail_round` when that is set), so that tests can make any step fail. Called
/// first in every `execute`.
fn fail_if_injected(ctx: &Ctx) -> Result<(), Error> {
    let step = ctx.step().unwrap_or_default();
    if ctx.config::<String>("fail_step")?.as_deref() == Some(step) {
        let round: Option<u32> = ctx.config("fail_round")?;
        if round.is_none_or(|r| r == ctx.round()) {
            fail!("injected failure in {step} (config fail_step)");
        }
    }
    Ok(())
}

fn post_load(ctx: &Ctx) -> Result<(), Error> {
    ctx.info("hello: post-load ran");
    ctx.set_global("post_load_ran", &true)
}

// check-health -------------------------------------------------------------------------

/// A worker and its base URL.
#[derive(Serialize, Deserialize)]
struct Target {
    name: String,
    url: String,
}

/// `GET /health` answer of a hello worker.
#[derive(Deserialize)]
struct Health {
    worker: String,
}

fn check_health_prepare(ctx: &Ctx, _params: ()) -> Result<Vec<Target>, Error> {
    ctx.worker_names()
        .into_iter()
        .map(|name| {
            let url = ctx.worker_url(Some(&name))?;
            Ok(Target { name, url })
        })
        .collect()
}

fn check_health_execute(ctx: &Ctx, _params: (), targets: Vec<Target>) -> Result<Outcome, Error> {
    fail_if_injected(ctx)?;
    // `pause_ms` in config.yaml keeps the step busy, so tests can signal a running run.
    if let Some(ms) = ctx.config::<u64>("pause_ms")? {
        ctx.info(format!("pausing {ms} ms (config pause_ms)"));
        std::thread::sleep(std::time::Duration::from_millis(ms));
    }
    let mut healthy = Vec::new();
    for target in targets {
        let url = format!("{}/health", target.url.trim_end_matches('/'));
        let health: Health = prometheus_step::get(url)?.expect_status(200)?.json()?;
        ensure!(
            health.worker == target.name,
            "{}: /health answered as worker `{}`",
            target.name,
            health.worker
        );
        healthy.push(target.name);
    }
    Ok(Outcome::done(json!({ "healthy": healthy })))
}

// submit-greeting ----------------------------------------------------------------------

/// Parameters of `submit-greeting`.
#[derive(Deserialize)]
struct SubmitParams {
    text: String,
}

/// Body of `POST /greetings`.
#[derive(Serialize, Deserialize)]
struct NewGreeting {
    round: u32,
    from: String,
    text: String,
}

fn submit_greeting_prepare(ctx: &Ctx, params: SubmitParams) -> Result<NewGreeting, Error> {
    let round = ctx.round();
    let worker = ctx.worker();
    Ok(NewGreeting {
        text: format!("{} from {worker} in round {round}", params.text),
        round,
        from: worker,
    })
}

fn submit_greeting_execute(
    ctx: &Ctx,
    _params: SubmitParams,
    greeting: NewGreeting,
) -> Result<Outcome, Error> {
    fail_if_injected(ctx)?;
    let url = ctx.worker_endpoint(None, "/greetings")?;
    let created: Value = prometheus_step::post_json(&url, &greeting)?
        .expect_status(201)?
        .json()?;
    let id = created["id"]
        .as_str()
        .with_context(|| format!("POST {url}: the answer has no string `id`: {created}"))?;

    ctx.set("greeting_id", id)?;
    ctx.set("greeting_from", &greeting.from)?;
    let mut ids: Vec<String> = ctx.get("greeting_ids")?.unwrap_or_default();
    ids.push(id.to_owned());
    ctx.set_global("greeting_ids", &ids)?;
    ctx.info(format!("greeting {id} posted ({} so far)", ids.len()));
    Ok(Outcome::done(created))
}

// audit-greeting -----------------------------------------------------------------------

/// What `audit-greeting` checks, found in the state.
#[derive(Serialize, Deserialize)]
struct Audit {
    id: String,
    submitter: String,
    url: String,
}

/// A stored greeting, as `GET /greetings/{id}` returns it.
#[derive(Deserialize)]
struct Greeting {
    id: String,
    round: u32,
    from: String,
}

fn audit_greeting_prepare(ctx: &Ctx, _params: ()) -> Result<Audit, Error> {
    let missing = "no greeting_id in state: did submit-greeting run this round?";
    let id: String = ctx.get("greeting_id")?.context(missing)?;
    let submitter: String = ctx
        .get("greeting_from")?
        .context("no greeting_from in state: did submit-greeting run this round?")?;
    let url = ctx.worker_endpoint(Some(&submitter), &format!("/greetings/{id}"))?;
    Ok(Audit { id, submitter, url })
}

fn audit_greeting_execute(ctx: &Ctx, _params: (), audit: Audit) -> Result<Outcome, Error> {
    fail_if_injected(ctx)?;
    let round = ctx.round();
    let greeting: Greeting = prometheus_step::get(&audit.url)?
        .expect_status(200)?
        .json()?;
    ensure!(
        greeting.id == audit.id,
        "GET {}: got greeting `{}`",
        audit.url,
        greeting.id
    );
    ensure!(
        greeting.round == round,
        "greeting {} is from round {}, expected round {round}",
        audit.id,
        greeting.round
    );
    ensure!(
        greeting.from == audit.submitter,
        "greeting {} is from `{}`, expected `{}`",
        audit.id,
        greeting.from,
        audit.submitter
    );
    ctx.set("audited", &true)?;
    Ok(Outcome::done(json!({ "audited": audit.id })))
}

// bonus-round --------------------------------------------------------------------------

fn bonus_round_execute(ctx: &Ctx, _params: (), _prepared: ()) -> Result<Outcome, Error> {
    fail_if_injected(ctx)?;
    let round = ctx.round();
    if round % 2 == 1 {
        return Ok(Outcome::skip(format!(
            "bonus runs only in even rounds (round {round})"
        )));
    }
    prometheus_step::get(ctx.worker_endpoint(None, "/health")?)?.expect_status(200)?;
    Ok(Outcome::done(json!({ "bonus": true })))
}

// summary ------------------------------------------------------------------------------

fn summary_execute(ctx: &Ctx, _params: (), _prepared: ()) -> Result<Outcome, Error> {
    fail_if_injected(ctx)?;
    let round = ctx.round();
    let ids: Vec<String> = ctx.get("greeting_ids")?.unwrap_or_default();
    let count = ids.len();
    ensure!(
        count >= round as usize,
        "expected at least {round} greeting ids after round {round}, found {count}"
    );
    ctx.info(format!("summary: {count} greetings after round {round}"));
    Ok(Outcome::done(json!({ "greetings": count })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_run_in_the_order_the_runner_tests_expect() {
        let names: Vec<_> = steps().names().map(str::to_owned).collect();
        assert_eq!(
            names,
            [
                "check-health",
                "submit-greeting",
                "audit-greeting",
                "bonus-round",
                "summary"
            ]
        );
    }
}
