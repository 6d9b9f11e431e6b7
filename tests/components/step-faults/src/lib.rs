//! A step that breaks a worker itself, through the `prometheus:step/faults` interface.
//!
//! | step | worker | does |
//! |---|---|---|
//! | `kill-and-start` | worker1 | kills the worker named by config.yaml's `victim` (default `worker2`), then starts it again; returns both answers |

use prometheus_step::{Ctx, Error, Outcome, Steps, faults, json, no_prepare};

fn steps() -> Steps {
    Steps::new().step(
        "kill-and-start",
        "kills a worker and starts it again",
        "worker1",
        no_prepare,
        execute,
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
