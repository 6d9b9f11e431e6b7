//! A shareable step package: the step's worker audits another worker. Meant to be used
//! from plans, several times per round, with the worker and params each use needs
//! (see `examples/shared-steps/tests/plan.yaml` and docs/sharing-steps.md).
//!
//! | step | default worker | params (defaults) | does |
//! |---|---|---|---|
//! | `audit-health` | worker2 | `target: worker1` | `GET /health` of `target` answers 200 as `target`; appends the auditor to the round's `health_audits` |
//! | `audit-greeting` | worker2 | `id_key: greeting_id`, `from_key: greeting_from`, `min_length: 1` | reads the greeting whose id and submitter the state keys name back from the submitter; checks its round and that its text has at least `min_length` characters; appends the auditor to the round's `greeting_auditors` |
//!
//! It works against any worker with the hello-worker API (`examples/hello/worker`).
//!
//! Build: `cargo build -p audit-steps --target wasm32-wasip2 --profile guest`.

use prometheus_step::{Context, Ctx, Error, Outcome, Steps, ensure, json};
use serde::{Deserialize, Serialize};

fn steps() -> Steps {
    Steps::new()
        .step_with_params(
            "audit-health",
            "The step's worker checks another worker's /health",
            "worker2",
            json!({"target": "worker1"}),
            health_prepare,
            health_execute,
        )
        .step_with_params(
            "audit-greeting",
            "The step's worker reads this round's greeting back from its submitter",
            "worker2",
            json!({"id_key": "greeting_id", "from_key": "greeting_from", "min_length": 1}),
            greeting_prepare,
            greeting_execute,
        )
}

prometheus_step::export_steps!(steps);

/// Appends the current worker to the round-scoped list `key`.
fn record_auditor(ctx: &Ctx, key: &str) -> Result<Vec<String>, Error> {
    let mut auditors: Vec<String> = ctx.get(key)?.unwrap_or_default();
    auditors.push(ctx.worker());
    ctx.set(key, &auditors)?;
    Ok(auditors)
}

// audit-health -------------------------------------------------------------------------

/// Parameters of `audit-health`.
#[derive(Deserialize)]
struct HealthParams {
    /// The worker to audit.
    target: String,
}

/// `GET /health` answer of a hello worker.
#[derive(Deserialize)]
struct Health {
    worker: String,
}

fn health_prepare(ctx: &Ctx, params: HealthParams) -> Result<String, Error> {
    ensure!(
        params.target != ctx.worker(),
        "worker `{}` cannot audit itself: set params.target to another worker",
        params.target
    );
    ctx.worker_endpoint(Some(&params.target), "/health")
}

fn health_execute(ctx: &Ctx, params: HealthParams, url: String) -> Result<Outcome, Error> {
    let health: Health = prometheus_step::get(&url)?.expect_status(200)?.json()?;
    ensure!(
        health.worker == params.target,
        "{url} answered as worker `{}`, expected `{}`",
        health.worker,
        params.target
    );
    let auditors = record_auditor(ctx, "health_audits")?;
    ctx.info(format!(
        "{} audited {}: healthy",
        ctx.worker(),
        params.target
    ));
    Ok(Outcome::done(
        json!({ "target": params.target, "auditors": auditors }),
    ))
}

// audit-greeting -----------------------------------------------------------------------

/// Parameters of `audit-greeting`.
#[derive(Deserialize)]
struct GreetingParams {
    /// State key holding the greeting's id.
    id_key: String,
    /// State key holding the submitting worker's name.
    from_key: String,
    /// Shortest acceptable text.
    min_length: usize,
}

/// What `audit-greeting` reads back, found in the state.
#[derive(Serialize, Deserialize)]
struct Lookup {
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
    text: String,
}

fn greeting_prepare(ctx: &Ctx, params: GreetingParams) -> Result<Lookup, Error> {
    let id: String = ctx.get(&params.id_key)?.with_context(|| {
        format!(
            "no `{}` in state: did a submit step run this round?",
            params.id_key
        )
    })?;
    let submitter: String = ctx.get(&params.from_key)?.with_context(|| {
        format!(
            "no `{}` in state: did a submit step run this round?",
            params.from_key
        )
    })?;
    let url = ctx.worker_endpoint(Some(&submitter), &format!("/greetings/{id}"))?;
    Ok(Lookup { id, submitter, url })
}

fn greeting_execute(ctx: &Ctx, params: GreetingParams, lookup: Lookup) -> Result<Outcome, Error> {
    let round = ctx.round();
    let greeting: Greeting = prometheus_step::get(&lookup.url)?
        .expect_status(200)?
        .json()?;
    ensure!(
        greeting.id == lookup.id,
        "GET {}: got greeting `{}`",
        lookup.url,
        greeting.id
    );
    ensure!(
        greeting.round == round,
        "greeting {} is from round {}, expected round {round}",
        lookup.id,
        greeting.round
    );
    ensure!(
        greeting.from == lookup.submitter,
        "greeting {} is from `{}`, expected `{}`",
        lookup.id,
        greeting.from,
        lookup.submitter
    );
    let length = greeting.text.chars().count();
    ensure!(
        length >= params.min_length,
        "greeting {} has {length} characters, fewer than min_length {}",
        lookup.id,
        params.min_length
    );
    let auditors = record_auditor(ctx, "greeting_auditors")?;
    Ok(Outcome::done(
        json!({ "audited": lookup.id, "auditors": auditors }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_package_lists_its_two_audits() {
        let names: Vec<_> = steps().names().map(str::to_owned).collect();
        assert_eq!(names, ["audit-health", "audit-greeting"]);
    }
}
