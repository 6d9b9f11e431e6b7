//! The step of the end-to-end benchmark against prometheus-test
//! (`scripts/bench-reference.sh`), which uses it many times through a plan (one use per
//! step of a round, each on its own worker, `params: {n: <index>}`). The Python steps of
//! the reference do the same, call for call.
//!
//! | step | does |
//! |---|---|
//! | `submit` | prepare: reads document `(round × 1000 + n) mod docs_count` of the seeded `docs` collection; execute: signs `{taskId, roundNumber, step: "step<n>", docIndex, text}` with the worker's staking key, posts `{signature, stakingKey}` to the worker's `/submit`, expects `{"success": true}`, stores the signature under `submissions.step<n>` (round scope) |

use prometheus_step::{Ctx, Error, KeyKind, Outcome, Steps, Value, ensure, json, mongo};
use serde::{Deserialize, Serialize};

fn steps() -> Steps {
    Steps::new().step_with_params(
        "submit",
        "reads a seeded document, submits it signed to the worker",
        "worker1",
        json!({"n": 0}),
        prepare,
        execute,
    )
}

prometheus_step::export_steps!(steps);

#[derive(Deserialize)]
struct Params {
    n: u64,
}

#[derive(Serialize, Deserialize)]
struct Doc {
    index: u64,
    text: String,
}

fn prepare(ctx: &Ctx, params: Params) -> Result<Doc, Error> {
    let count: u64 = ctx.config("docs_count")?.unwrap_or(200);
    let index = (u64::from(ctx.round()) * 1000 + params.n) % count;
    let doc: Option<Doc> =
        mongo::collection("docs").find_one(json!({"taskId": ctx.task_id(), "index": index}))?;
    doc.ok_or_else(|| Error::msg(format!("document {index} is missing")))
}

fn execute(ctx: &Ctx, params: Params, doc: Doc) -> Result<Outcome, Error> {
    // The plan's name of this use; the package itself only sees `submit`.
    let step = format!("step{}", params.n);
    let payload = json!({
        "taskId": ctx.task_id(),
        "roundNumber": ctx.round(),
        "step": step,
        "docIndex": doc.index,
        "text": doc.text,
    });
    let signature = ctx.sign(KeyKind::Staking, &payload)?;
    let staking_key = ctx.public_key(None, KeyKind::Staking)?;
    let url = ctx.worker_endpoint(None, "/submit")?;
    let answer: Value = prometheus_step::post_json(
        &url,
        &json!({"signature": signature, "stakingKey": staking_key}),
    )?
    .expect_status(200)?
    .json()?;
    ensure!(answer["success"] == json!(true), "the worker said {answer}");
    ctx.set(&format!("submissions.{step}"), &signature)?;
    Ok(Outcome::done(true))
}
