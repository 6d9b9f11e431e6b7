//! Per-step overhead of the sandbox budgets: the same steps of the hostile test package
//! (`tests/components/hostile`), run with no budgets (no epoch interruption, no fuel),
//! with the default budgets (epoch interruption, memory limiter, capped output) and with
//! fuel on top. Not part of `scripts/test.sh`; results go in docs/security.md.
//!
//! ```sh
//! scripts/build-components.sh
//! cargo bench -p prometheus-wasm --bench step_overhead
//! ```
//!
//! Two numbers per setting: an empty step (`warm-up`: instantiate, prepare, execute, one
//! `config.get`) averaged over many runs, and a CPU-bound step (`loop-in-execute` with
//! `spin_iterations`), the median of a few runs.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use prometheus_wasm::plugin::{
    Budgets, LogLevel, Package, RunCtx, StepEngine, StepInfo, StepLog, Steps,
};
use prometheus_wasm::store::state::RunState;

/// Runs of the empty step per setting.
const EMPTY_RUNS: u32 = 2000;
/// Runs of the CPU-bound step per setting.
const SPIN_RUNS: usize = 7;
/// Loop iterations of the CPU-bound step.
const SPIN_ITERATIONS: u64 = 50_000_000;

struct Quiet;
impl StepLog for Quiet {
    fn line(&self, _: LogLevel, _: &str) {}
}

fn component() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let path = root.join("target/wasm32-wasip2/guest/hostile.wasm");
    assert!(
        path.exists(),
        "{} is missing: run scripts/build-components.sh",
        path.display()
    );
    path
}

async fn package(epoch: bool, budgets: Budgets, spin: bool) -> Package {
    let engine =
        Arc::new(StepEngine::with_settings(epoch, budgets.fuel.is_some()).expect("engine"));
    let package = Package::load(engine, &component(), None, &budgets)
        .await
        .expect("load the hostile package");
    let mut config = serde_json::json!({ "hostile": "loop-in-execute" });
    if spin {
        config["spin_iterations"] = SPIN_ITERATIONS.into();
    }
    package.with_run(RunCtx {
        config,
        budgets,
        ..RunCtx::default()
    })
}

fn step(p: &Package, name: &str) -> StepInfo {
    p.manifest()
        .iter()
        .find(|s| s.name == name)
        .expect("step in manifest")
        .clone()
}

async fn time_step(p: &Package, step: &StepInfo) -> Duration {
    let mut state = RunState::default();
    let started = Instant::now();
    p.run_step(step, &mut state, Arc::new(Quiet))
        .await
        .expect("the step completes");
    started.elapsed()
}

async fn measure(label: &str, epoch: bool, budgets: Budgets) {
    let p = package(epoch, budgets.clone(), false).await;
    let warm = step(&p, "warm-up");
    time_step(&p, &warm).await;
    let mut total = Duration::ZERO;
    for _ in 0..EMPTY_RUNS {
        total += time_step(&p, &warm).await;
    }
    let empty = total / EMPTY_RUNS;

    let p = package(epoch, budgets, true).await;
    let spin = step(&p, "loop-in-execute");
    let mut runs = Vec::new();
    for _ in 0..SPIN_RUNS {
        runs.push(time_step(&p, &spin).await);
    }
    runs.sort();
    let median = runs[SPIN_RUNS / 2];
    println!(
        "| {label} | {:.1} µs | {:.1} ms |",
        empty.as_secs_f64() * 1e6,
        median.as_secs_f64() * 1e3
    );
}

fn main() {
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    runtime.block_on(async {
        println!("| setting | empty step (mean of {EMPTY_RUNS}) | CPU-bound step, {SPIN_ITERATIONS} iterations (median of {SPIN_RUNS}) |");
        println!("|---|---|---|");
        measure("no budgets (no epoch interruption, no fuel)", false, Budgets::default()).await;
        measure("default budgets (epoch interruption, memory limiter, output cap)", true, Budgets::default()).await;
        let fuel = Budgets {
            fuel: Some(u64::MAX / 2),
            ..Budgets::default()
        };
        measure("default budgets + fuel", true, fuel).await;
    });
}
