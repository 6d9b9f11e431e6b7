//! Short steps that leave a trail: each completed step is one entry of the global
//! `trail` object, so a test can check from the state alone that no step was skipped or
//! recorded twice, and in which order they ran.
//!
//! | step | worker | does |
//! |---|---|---|
//! | `s1` … `s5` | worker1 | reads the global `count` (0 when unset), sets `trail.<count>` to `"<round>/<step>"` and `count` to `count + 1` (global), and the round's `last` to the step's name |
//!
//! config.yaml's `pause_ms` makes every step sleep that long first (so that a kill lands
//! inside steps as well as between them); `fail_at` (`"<round>/<step>"`) fails that step.

use prometheus_step::{Ctx, Error, Outcome, Steps, fail, no_prepare};

/// The steps, in manifest order.
const STEPS: [&str; 5] = ["s1", "s2", "s3", "s4", "s5"];

fn steps() -> Steps {
    let mut steps = Steps::new();
    for name in STEPS {
        steps = steps.step(
            name,
            "records itself in the trail",
            "worker1",
            no_prepare,
            execute,
        );
    }
    steps
}

prometheus_step::export_steps!(steps);

fn execute(ctx: &Ctx, _: (), _: ()) -> Result<Outcome, Error> {
    let step = ctx.step().unwrap_or_default().to_owned();
    let here = format!("{}/{step}", ctx.round());
    if let Some(ms) = ctx.config::<u64>("pause_ms")? {
        std::thread::sleep(std::time::Duration::from_millis(ms));
    }
    if ctx.config::<String>("fail_at")?.as_deref() == Some(here.as_str()) {
        fail!("injected failure at {here} (config fail_at)");
    }
    let count: u64 = ctx.get("count")?.unwrap_or(0);
    ctx.set_global(&format!("trail.{count}"), &here)?;
    ctx.set_global("count", &(count + 1))?;
    ctx.set("last", &step)?;
    Ok(Outcome::done(count))
}
