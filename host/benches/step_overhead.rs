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
//!
//! Then the cost of recording (docs/replay.md): one host call through the recorder
//! against the bare call, and the hello example's `submit-greeting` against a real
//! `hello-worker` (`cargo build --workspace --bins` first) with `--record off`, `failed`
//! (kept in memory, not written) and `all` (written). `RECORD_RUNS` sets the step count.

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
        recording::per_call().await;
        recording::per_step().await;
    });
    if std::env::var_os("RECORD_ONLY").is_some() {
        return;
    }
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

/// The cost of recording, per host call and per step.
mod recording {
    use super::*;
    use prometheus_wasm::plugin::http::HttpCtx;
    use prometheus_wasm::plugin::record::{RecordSink, Recorder};
    use prometheus_wasm::plugin::{NetworkPolicy, RecordCtx, RecordMode, WorkerInfo};

    /// Host calls through the recorder per measurement.
    const CALLS: u32 = 100_000;

    fn runs() -> u32 {
        std::env::var("RECORD_RUNS")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(500)
    }

    /// A `state.get`-like call: the bare future, then through a recorder that shows only
    /// (`off`), and one that keeps the call too.
    pub async fn per_call() {
        let answer = || async { Some("\"value\"".to_string()) };
        let started = Instant::now();
        for _ in 0..CALLS {
            std::hint::black_box(answer().await);
        }
        let bare = started.elapsed() / CALLS;
        let mut rows = vec![("bare call".to_string(), bare)];
        for mode in [RecordMode::Off, RecordMode::All] {
            let ctx = RecordCtx {
                mode,
                ..RecordCtx::default()
            };
            let rec = Recorder::new(&ctx, Arc::new(Quiet));
            let started = Instant::now();
            for _ in 0..CALLS {
                let args = prometheus_wasm::plugin::record::Args::new(
                    11,
                    || serde_json::json!({ "key": "greeting_id" }),
                );
                std::hint::black_box(rec.call("state.get", args, answer(), |_| None).await)
                    .expect("answered");
            }
            rows.push((
                format!("through the recorder, {mode:?}"),
                started.elapsed() / CALLS,
            ));
        }
        println!("| one host call | mean of {CALLS} |");
        println!("|---|---|");
        for (label, time) in rows {
            println!("| {label} | {:.2} µs |", time.as_secs_f64() * 1e6);
        }
        println!();
    }

    /// `submit-greeting` of the hello example against a real worker, per recording mode.
    pub async fn per_step() {
        let dir = tempfile::tempdir().expect("temp dir");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut worker = std::process::Command::new(root.join("target/debug/hello-worker"))
            .env("PORT", port.to_string())
            .env("WORKER_ID", "worker1")
            .env("DATABASE_PATH", dir.path().join("worker1.db"))
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("target/debug/hello-worker (cargo build --workspace --bins)");
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            std::thread::sleep(Duration::from_millis(20));
        }
        let url = format!("http://127.0.0.1:{port}");
        let hello = root.join("target/wasm32-wasip2/guest/hello_steps.wasm");
        let budgets = Budgets::default();
        let engine = Arc::new(StepEngine::for_budgets(&budgets).expect("engine"));
        println!(
            "| `submit-greeting` against hello-worker | mean of {} steps | calls per step |",
            runs()
        );
        println!("|---|---|---|");
        // The worker's database grows with every greeting: the modes take turns, so each
        // sees the same worker.
        let mut setups = Vec::new();
        for (label, mode, sink) in [
            ("--record off", RecordMode::Off, false),
            (
                "--record failed (kept in memory, nothing written)",
                RecordMode::Failed,
                true,
            ),
            ("--record all (every step written)", RecordMode::All, true),
        ] {
            let mut policy = NetworkPolicy::deny_all();
            policy.allow_url(&url, "worker1").expect("allow");
            let data = serde_json::json!({ "name": "worker1", "url": url, "port": port });
            let sink = sink.then(|| Arc::new(RecordSink::new(dir.path(), u64::MAX)));
            let run = RunCtx {
                workers: vec![WorkerInfo {
                    name: "worker1".into(),
                    data: data.as_object().expect("object").clone(),
                    env: Default::default(),
                }],
                http: HttpCtx::new(policy, &budgets),
                record: RecordCtx {
                    mode,
                    sink,
                    ..RecordCtx::default()
                },
                budgets: budgets.clone(),
                ..RunCtx::empty()
            };
            let p = Package::load(engine.clone(), &hello, None, &budgets)
                .await
                .expect("load hello")
                .with_run(run);
            let greet = step(&p, "submit-greeting");
            time_step(&p, &greet).await;
            setups.push((label, p, greet, Duration::ZERO));
        }
        for _ in 0..runs() {
            for (_, p, greet, total) in &mut setups {
                *total += time_step(p, greet).await;
            }
        }
        let calls = std::fs::read_to_string(dir.path().join("recording.jsonl"))
            .ok()
            .and_then(|t| t.lines().nth(1).map(str::to_owned))
            .and_then(|l| serde_json::from_str::<serde_json::Value>(&l).ok())
            .and_then(|v| v["calls"].as_array().map(Vec::len))
            .map_or("-".to_string(), |n| n.to_string());
        for (label, _, _, total) in &setups {
            println!(
                "| {label} | {:.1} µs | {calls} |",
                (*total / runs()).as_secs_f64() * 1e6
            );
        }
        println!();
        let _ = worker.kill();
        let _ = worker.wait();
    }
}
