//! Per-step cost over long runs: is it flat in run length? Prints the tables of
//! docs/performance.md. Not part of `scripts/test.sh`.
//!
//! ```sh
//! scripts/build-components.sh       # the trail test component
//! cargo bench -p prometheus-wasm --bench checkpoint
//! ```
//!
//! - **Long runs**: 2 000 rounds × 5 steps of `tests/components/trail` (each step: one
//!   `state.get`, three `state.set`, two `config.get`), driven by the real runner with the
//!   real checkpoint and the terminal report writing to a sink. A step's time is the time
//!   between two `StepFinished` events: instantiate, prepare, execute, checkpoint, events.
//!   With durable syncs (the default) and without (the host's own overhead), and, for
//!   comparison, the whole-file checkpoint every step that this replaced.
//! - **Trivial step**: one `Package::run_step` of the trail component (instantiate,
//!   prepare, execute), no checkpoint.
//! - **Sync**: one record append + `fdatasync` on the same file system, alone.
//! - **Reports**: the summary table, JSON and JUnit of the 1 000- and 10 000-step runs.
//!
//! `BENCH_DIR` chooses where the state files go (default: `target/bench-checkpoint`, on
//! the same disk as the build).

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use prometheus_wasm::plugin::{
    Budgets, LogLevel, Package, RunCtx, StepEngine, StepInfo, StepLog, StepOutcome, Steps,
};
use prometheus_wasm::report::{
    Outline, PackageId, Redactor, ReportCollector, TerminalReport, html, json, junit,
};
use prometheus_wasm::runner::{self, ResumePoint, RunEvent, RunObserver, RunOptions, RunSummary};
use prometheus_wasm::store::{
    ChangedKey, Checkpoint, JournalCheckpoint, RunState, StateError, StateFile,
};

/// Rounds of the long run; 5 steps each.
const ROUNDS: u32 = 2_000;
/// Steps compared at each end of the long run.
const WINDOW: usize = 1_000;
/// Runs of the trivial step.
const TRIVIAL_RUNS: usize = 5_000;
/// Appends in the sync measurement.
const SYNC_RUNS: usize = 2_000;

struct Quiet;
impl StepLog for Quiet {
    fn line(&self, _: LogLevel, _: &str) {}
}

/// The terminal report (to a sink) plus the time each step finished.
struct Timing {
    report: TerminalReport,
    finished: Mutex<Vec<Instant>>,
}

impl RunObserver for Timing {
    fn event(&self, event: &RunEvent) {
        if let RunEvent::StepFinished { .. } = event {
            self.finished
                .lock()
                .expect("not poisoned")
                .push(Instant::now());
        }
        self.report.event(event);
    }
}

/// The checkpoint this replaced: the whole `test_state.json` rewritten and fsynced after
/// every step.
struct WholeFile(StateFile);
impl Checkpoint for WholeFile {
    fn save(&mut self, state: &RunState) -> Result<(), StateError> {
        self.0.save(state)
    }
    fn save_step(
        &mut self,
        state: &RunState,
        _: u32,
        _: &str,
        _: &[ChangedKey],
    ) -> Result<(), StateError> {
        self.0.save(state)
    }
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

async fn trail_package() -> Package {
    let path = root().join("target/wasm32-wasip2/guest/trail.wasm");
    assert!(
        path.exists(),
        "{} is missing: run scripts/build-components.sh",
        path.display()
    );
    let engine = Arc::new(StepEngine::for_budgets(&Budgets::default()).expect("engine"));
    Package::load(engine, &path, None, &Default::default())
        .await
        .expect("load the trail package")
        .with_run(RunCtx {
            config: serde_json::json!({"task_id": "bench"}),
            budgets: Budgets::default(),
            ..RunCtx::default()
        })
}

fn bench_dir(name: &str) -> PathBuf {
    let base = std::env::var_os("BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target/bench-checkpoint"));
    let dir = base.join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create the bench dir");
    dir
}

fn median(durations: &mut [Duration]) -> Duration {
    durations.sort();
    durations[durations.len() / 2]
}

fn us(d: Duration) -> String {
    format!("{:.0} µs", d.as_secs_f64() * 1e6)
}

/// One long run; returns (median of the first WINDOW steps, of the last WINDOW, the
/// whole run's median, total time, summary).
async fn long_run<C: Checkpoint>(
    package: &Package,
    mut checkpoint: C,
    rounds: u32,
) -> (Duration, Duration, Duration, Duration, RunSummary) {
    let timing = Arc::new(Timing {
        report: TerminalReport::new(
            Box::new(std::io::sink()),
            Redactor::default(),
            LogLevel::Info,
            false,
        ),
        finished: Mutex::new(Vec::with_capacity(rounds as usize * 5)),
    });
    let options = RunOptions {
        max_rounds: rounds,
        reset: true,
    };
    let started = Instant::now();
    let summary = runner::run(
        package,
        &mut checkpoint,
        RunState::default(),
        ResumePoint::Fresh {
            reason: "bench".into(),
        },
        &options,
        timing.clone(),
    )
    .await
    .expect("the run completes");
    let total = started.elapsed();
    assert!(summary.is_passed());
    let finished = timing.finished.lock().expect("not poisoned");
    let mut steps: Vec<Duration> = finished.windows(2).map(|w| w[1] - w[0]).collect();
    let window = WINDOW.min(steps.len() / 2);
    let first = median(&mut steps[..window].to_vec());
    let last = median(&mut steps[steps.len() - window..].to_vec());
    let all = median(&mut steps);
    (first, last, all, total, summary)
}

async fn long_runs(package: &Package) -> Vec<RunSummary> {
    println!(
        "| checkpoint | steps | median, first {WINDOW} | median, last {WINDOW} | last / first | median | total |"
    );
    println!("|---|---|---|---|---|---|---|");
    let mut summaries = Vec::new();
    let settings: [(&str, u32, u8); 5] = [
        ("journal, durable (default)", ROUNDS, 0),
        ("journal, no sync", ROUNDS, 1),
        ("journal, durable", ROUNDS / 10, 0),
        ("whole file per step, durable (before)", ROUNDS, 2),
        ("whole file per step, durable (before)", ROUNDS / 10, 2),
    ];
    for (label, rounds, kind) in settings {
        let file = StateFile::new(&bench_dir(&format!("run-{kind}-{rounds}")));
        let (first, last, all, total, summary) = match kind {
            0 => long_run(package, JournalCheckpoint::new(file), rounds).await,
            1 => {
                let checkpoint = JournalCheckpoint::new(file).with_durable_steps(false);
                long_run(package, checkpoint, rounds).await
            }
            _ => long_run(package, WholeFile(file), rounds).await,
        };
        println!(
            "| {label} | {} | {} | {} | {:.2} | {} | {:.2} s |",
            rounds * 5,
            us(first),
            us(last),
            last.as_secs_f64() / first.as_secs_f64(),
            us(all),
            total.as_secs_f64()
        );
        summaries.push(summary);
    }
    summaries
}

async fn trivial_step(package: &Package) {
    let step: StepInfo = package.manifest()[0].clone();
    let mut times = Vec::with_capacity(TRIVIAL_RUNS);
    let mut state = RunState::default();
    for _ in 0..TRIVIAL_RUNS {
        let started = Instant::now();
        package
            .run_step(&step, &mut state, Arc::new(Quiet))
            .await
            .expect("the step completes");
        times.push(started.elapsed());
        // Keep the state from growing: this measures the step, not the state.
        state = RunState::default();
    }
    let p90 = {
        times.sort();
        times[times.len() * 9 / 10]
    };
    println!();
    println!("| trivial step (instantiate, prepare, execute; 1 get, 3 sets) | median | p90 |");
    println!("|---|---|---|");
    println!(
        "| trail `s1`, {TRIVIAL_RUNS} runs | {} | {} |",
        us(median(&mut times)),
        us(p90)
    );
}

fn sync_cost() {
    let dir = bench_dir("sync");
    let mut file = std::fs::File::create(dir.join("records")).expect("create");
    let record = [b'x'; 199];
    let mut times = Vec::with_capacity(SYNC_RUNS);
    for _ in 0..SYNC_RUNS {
        let started = Instant::now();
        file.write_all(&record).expect("write");
        file.write_all(b"\n").expect("write");
        file.sync_data().expect("fdatasync");
        times.push(started.elapsed());
    }
    println!();
    println!("| durable sync alone (200-byte append + fdatasync) | median |");
    println!("|---|---|");
    println!("| {SYNC_RUNS} appends | {} |", us(median(&mut times)));
}

fn reports(summaries: &[RunSummary]) {
    println!();
    println!("| report | 1 000 steps | 10 000 steps | ratio |");
    println!("|---|---|---|---|");
    let small = summaries
        .iter()
        .find(|s| s.steps.len() == ROUNDS as usize / 2);
    let large = summaries
        .iter()
        .find(|s| s.steps.len() == ROUNDS as usize * 5);
    let (Some(small), Some(large)) = (small, large) else {
        return;
    };
    let redactor = Redactor::new(["s3cret".to_owned()]);
    // Median of 5 renderings of `summary`.
    let time = |f: &dyn Fn(&RunSummary), summary: &RunSummary| {
        let mut runs: Vec<Duration> = (0..5)
            .map(|_| {
                let started = Instant::now();
                f(summary);
                started.elapsed()
            })
            .collect();
        median(&mut runs)
    };
    let terminal = |s: &RunSummary| {
        TerminalReport::new(
            Box::new(std::io::sink()),
            redactor.clone(),
            LogLevel::Info,
            false,
        )
        .summary(s)
    };
    let package = PackageId {
        file: "bench".into(),
        ..PackageId::default()
    };
    // The report files are built from the collector's record of the run, as `run` does.
    let rows: [(&str, &Render); 4] = [
        ("terminal summary table", &terminal),
        ("JSON", &|s| {
            let c = collected(s, &redactor);
            c.with_report(&package, |r| {
                std::hint::black_box(json::render(r, &redactor).to_string());
            });
        }),
        ("JUnit", &|s| {
            let c = collected(s, &redactor);
            c.with_report(&package, |r| {
                std::hint::black_box(junit::render(r, &redactor))
            });
        }),
        ("HTML", &|s| {
            let c = collected(s, &redactor);
            c.with_report(&package, |r| {
                std::hint::black_box(html::render(r, &redactor))
            });
        }),
    ];
    for (label, f) in rows {
        let (a, b) = (time(f, small), time(f, large));
        println!(
            "| {label} | {} | {} | {:.1} |",
            us(a),
            us(b),
            b.as_secs_f64() / a.as_secs_f64()
        );
    }
}

/// A report collector (in memory) fed the events of `summary`'s steps.
fn collected(summary: &RunSummary, redactor: &Redactor) -> ReportCollector {
    let first_round = summary.rounds_run.first().copied().unwrap_or(1);
    let outline = Outline {
        max_rounds: summary.rounds_run.last().copied().unwrap_or(1),
        steps: summary
            .steps
            .iter()
            .filter(|r| r.round == first_round)
            .map(|r| (r.step.clone(), r.worker.clone()))
            .collect(),
        selection: None,
    };
    let fresh = ResumePoint::Fresh {
        reason: "bench".into(),
    };
    let (collector, _) = ReportCollector::start(None, outline, &fresh, redactor.clone())
        .expect("an in-memory collector");
    for r in &summary.steps {
        collector.event(&RunEvent::StepFinished {
            round: r.round,
            step: r.step.clone(),
            worker: r.worker.clone(),
            outcome: StepOutcome::Done(serde_json::Value::Null),
            duration: r.duration,
        });
    }
    collector
}

fn main() {
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    runtime.block_on(async {
        let package = trail_package().await;
        trivial_step(&package).await;
        sync_cost();
        println!();
        let summaries = long_runs(&package).await;
        reports(&summaries);
    });
}

/// One report writer under measurement.
type Render<'a> = dyn Fn(&RunSummary) + 'a;
