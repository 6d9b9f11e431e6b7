//! A step that breaks a worker itself, through the `prometheus:step/faults` interface.
//!
//! | step | worker | does |
//! |---|---|---|
//! | `kill-and-start` | worker1 | kills the worker named by config.yaml's `victim` (default `worker2`), then starts it again; returns both answers |
//! | `error-then-clear` | worker1 | only when config.yaml sets `network_probe: true` (else skipped): answers worker2 with HTTP 503 through its proxy (`network`), asks `/health`, ends the fault (`clear`), asks again; fails unless it saw 503 then 200 |

use prometheus_step::{Ctx, Error, Outcome, Steps, ensure, faults, http, json, no_prepare};

fn steps() -> Steps {
    Steps::new()
        .step(
            "kill-and-start",
            "kills a worker and starts it again",
            "worker1",
            no_prepare,
            execute,
        )
        .step(
            "error-then-clear",
            "degrades worker2's network, then ends it",
            "worker1",
            no_prepare,
            error_then_clear,
        )
}

prometheus_step::export_steps!(steps);

fn execute(ctx: &Ctx, _: (), _: ()) -> Result<Outcome, Error> {
    let victim = ctx
        .config::<String>("victim")?
        .unwrap_or_else(|| "worker2".into());
    let killed = faults::kill(&victim)?;
    let started = faults::start(&victim)?;
    Ok(Outcome::done(
        json!({ "killed": killed, "started": started }),
    ))
}

fn error_then_clear(ctx: &Ctx, _: (), _: ()) -> Result<Outcome, Error> {
    if !ctx.config::<bool>("network_probe")?.unwrap_or(false) {
        return Ok(Outcome::skip("network_probe is not set"));
    }
    let health = format!("{}/health", ctx.worker_url(Some("worker2"))?);
    let set = faults::network(
        "worker2",
        &json!({ "http_error": { "status": 503, "rate": 1.0 }, "for": "step" }),
    )?;
    let during = http::get(&health)?.status;
    let cleared = faults::clear("worker2")?;
    let after = http::get(&health)?.status;
    ensure!(
        during == 503,
        "during the fault worker2 answered {during}, not 503"
    );
    ensure!(
        after == 200,
        "after clear worker2 answered {after}, not 200"
    );
    Ok(Outcome::done(json!({
        "set": set, "during": during, "cleared": cleared, "after": after,
    })))
}
