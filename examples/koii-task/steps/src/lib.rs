//! Steps of the koii-task example: a Koii-style task round by round. Three `koii-worker`
//! servers (`leader`, `worker1`, `worker2`) verify every signed payload they are sent.
//!
//! The runner seeds collection `todos` from `data/todos.json` (tagged `taskId: koii-task`);
//! the test runs `count(todos, {taskId}) + 1` rounds, round N working on the todo of
//! `order` N (the last round has none, and its steps skip).
//!
//! | step | worker | does |
//! |---|---|---|
//! | `submit` | worker1 | reads the round's todo from MongoDB, does the work (a string result), signs `{taskId, roundNumber, todo, result, stakingKey, pubKey}` with its staking key (`ctx.sign`) and posts `{signature, stakingKey}` to its own server's `/submit` (which verifies it) |
//! | `audit` | worker2 | skips the round when its own node does not answer `/health` (offline: the round is not audited); otherwise gets worker1's submission back (`GET /submission/{round}`), opens it with worker1's staking key (`ctx.verify`), checks the payload against the todo and a recomputed result, posts a signed audit to the leader's `/audit`, records it in the `audits` collection and the state |
//!
//! Tampering for the tests: config.yaml `sign_submission_as: <worker>` makes `submit` sign
//! with that worker's staking key while still claiming its own, which the server rejects
//! (401), so the step fails with the server's `message`.
//!
//! Build: `cargo build -p koii-task-steps --target wasm32-wasip2 --profile guest`.

use prometheus_step::mongo;
use prometheus_step::{Context, Ctx, Error, KeyKind, Outcome, Steps, Value, ensure, json};
use serde::{Deserialize, Serialize};

/// The collection the rounds' work comes from (config.yaml's `rounds_collection`).
const TODOS: &str = "todos";
/// The collection the audits are recorded in.
const AUDITS: &str = "audits";
/// The worker whose submissions are audited.
const SUBMITTER: &str = "worker1";
/// The worker that receives the audits.
const LEADER: &str = "leader";

fn steps() -> Steps {
    Steps::new()
        .step(
            "submit",
            "worker1 does the round's todo and submits the signed result",
            SUBMITTER,
            round_todo,
            submit_execute,
        )
        .step(
            "audit",
            "worker2 checks worker1's signed submission and sends a signed audit to the leader",
            "worker2",
            round_todo,
            audit_execute,
        )
}

prometheus_step::export_steps!(steps);

/// A document of `todos`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Todo {
    order: u32,
    title: String,
}

/// The payload a submission signs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Submission {
    task_id: String,
    round_number: u32,
    todo: String,
    result: String,
    staking_key: String,
    pub_key: String,
}

/// The work of a round: the todo's title reversed word by word, with its word count.
fn work(title: &str) -> String {
    let words: Vec<&str> = title.split_whitespace().collect();
    let reversed: Vec<&str> = words.iter().rev().copied().collect();
    format!("{} words: {}", words.len(), reversed.join(" "))
}

/// Prepare of both steps: the todo of this round (`order` = round), if any.
fn round_todo(ctx: &Ctx, _params: ()) -> Result<Option<Todo>, Error> {
    mongo::collection(TODOS).find_one(json!({"taskId": ctx.task_id(), "order": ctx.round()}))
}

fn submit_execute(ctx: &Ctx, _params: (), todo: Option<Todo>) -> Result<Outcome, Error> {
    let round = ctx.round();
    let Some(todo) = todo else {
        return Ok(Outcome::skip(format!("no todo for round {round}")));
    };
    let staking_key = ctx.public_key(None, KeyKind::Staking)?;
    let payload = Submission {
        task_id: ctx.task_id(),
        round_number: round,
        todo: todo.title.clone(),
        result: work(&todo.title),
        staking_key: staking_key.clone(),
        pub_key: ctx.public_key(None, KeyKind::Main)?,
    };
    let signature = match ctx.config::<String>("sign_submission_as")? {
        Some(other) => ctx.sign_as(&other, KeyKind::Staking, &payload)?,
        None => ctx.sign(KeyKind::Staking, &payload)?,
    };
    let url = ctx.worker_endpoint(None, "/submit")?;
    prometheus_step::post_json(
        &url,
        &json!({"signature": signature, "stakingKey": staking_key}),
    )?
    .expect_status(201)?;
    ctx.set("submitted_round", &round)?;
    ctx.info(format!(
        "todo {}: submitted `{}`",
        todo.order, payload.result
    ));
    Ok(Outcome::done(
        json!({"todo": todo.order, "result": payload.result}),
    ))
}

/// A submission as `GET /submission/{round}` returns it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Stored {
    signature: String,
    staking_key: String,
    payload: Value,
}

fn audit_execute(ctx: &Ctx, _params: (), todo: Option<Todo>) -> Result<Outcome, Error> {
    let round = ctx.round();
    let Some(todo) = todo else {
        return Ok(Outcome::skip(format!("no todo for round {round}")));
    };
    // An auditor node that is offline cannot audit: the round stays unaudited (no audit
    // reaches the leader or the `audits` collection) and the task goes on; the test with
    // `faults:` in tests/koii_task.rs takes worker2 offline in round 2.
    let own = ctx.worker_endpoint(None, "/health")?;
    if !prometheus_step::get(&own).is_ok_and(|health| health.is_success()) {
        ctx.warn(format!(
            "round {round}: auditor {} is offline, round not audited",
            ctx.worker()
        ));
        return Ok(Outcome::skip(format!(
            "auditor {} offline in round {round}",
            ctx.worker()
        )));
    }
    let url = ctx.worker_endpoint(Some(SUBMITTER), &format!("/submission/{round}"))?;
    let stored: Stored = prometheus_step::get(&url)?.expect_status(200)?.json()?;
    let submitter_key = ctx.public_key(Some(SUBMITTER), KeyKind::Staking)?;
    ensure!(
        stored.staking_key == submitter_key,
        "the submission of round {round} claims staking key {}, {SUBMITTER}'s is {submitter_key}",
        stored.staking_key
    );
    let opened: Submission = ctx
        .verify(&stored.signature, &submitter_key)
        .with_context(|| format!("the submission of round {round} from {SUBMITTER}"))?;
    let stored_payload: Submission = serde_json::from_value(stored.payload)
        .with_context(|| format!("GET {url}: the stored payload is not a submission"))?;
    ensure!(
        opened == stored_payload,
        "the server stored {stored_payload:?} but the signature carries {opened:?}"
    );
    let valid = opened.task_id == ctx.task_id()
        && opened.round_number == round
        && opened.todo == todo.title
        && opened.result == work(&todo.title);
    ensure!(
        valid,
        "the submission of round {round} does not match todo {} (`{}`): {opened:?}",
        todo.order,
        todo.title
    );
    let auditor_key = ctx.public_key(None, KeyKind::Staking)?;
    let audit = json!({
        "taskId": ctx.task_id(),
        "roundNumber": round,
        "submitterKey": submitter_key,
        "valid": valid,
        "stakingKey": auditor_key,
        "pubKey": ctx.public_key(None, KeyKind::Main)?,
    });
    let signature = ctx.sign(KeyKind::Staking, &audit)?;
    let leader = ctx.worker_endpoint(Some(LEADER), "/audit")?;
    prometheus_step::post_json(
        &leader,
        &json!({"signature": signature, "stakingKey": auditor_key}),
    )?
    .expect_status(201)?;
    mongo::collection(AUDITS).insert_one(&json!({
        "taskId": ctx.task_id(),
        "roundNumber": round,
        "submitter": SUBMITTER,
        "auditor": ctx.worker(),
        "valid": valid,
        "signature": signature,
    }))?;
    ctx.set("audited_round", &round)?;
    ctx.info(format!(
        "round {round}: {SUBMITTER}'s submission audited valid"
    ));
    Ok(Outcome::done(json!({"todo": todo.order, "valid": valid})))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_run_submit_then_audit() {
        let names: Vec<_> = steps().names().map(str::to_owned).collect();
        assert_eq!(names, ["submit", "audit"]);
    }

    #[test]
    fn work_counts_and_reverses_the_words() {
        assert_eq!(work("reverse the letters"), "3 words: letters the reverse");
    }
}
