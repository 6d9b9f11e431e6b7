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
//! - **Reports**: the summary table, the report collector, JSON, JUnit and HTML of runs of
//!   1 000, 10 000 and 100 000 trail-like steps (each with its four state calls);
//!   `-- reports` measures these alone.
//!
//! `BENCH_DIR` chooses where the state files go (default: `target/bench-checkpoint`, on
//! the same disk as the build).

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use prometheus_wasm::plugin::{
    Budgets, CallKind, HostCall, LogLevel, Package, RunCtx, StepEngine, StepInfo, StepLog,
    StepOutcome, Steps,
};
use prometheus_wasm::report::{
    Outline, PackageId, Redactor, ReportCollector, TerminalReport, html, json, junit,
};
use prometheus_wasm::runner::{
    self, ResumePoint, RunEvent, RunObserver, RunOptions, RunOutcome, RunSummary, StepRecord,
    StepStatus,
};
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

async fn long_runs(package: &Package) {
    println!(
        "| checkpoint | steps | median, first {WINDOW} | median, last {WINDOW} | last / first | median | total |"
    );
    println!("|---|---|---|---|---|---|---|");
    let settings: [(&str, u32, u8); 5] = [
        ("journal, durable (default)", ROUNDS, 0),
        ("journal, no sync", ROUNDS, 1),
        ("journal, durable", ROUNDS / 10, 0),
        ("whole file per step, durable (before)", ROUNDS, 2),
        ("whole file per step, durable (before)", ROUNDS / 10, 2),
    ];
    for (label, rounds, kind) in settings {
        let file = StateFile::new(&bench_dir(&format!("run-{kind}-{rounds}")));
        let (first, last, all, total, _) = match kind {
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
    }
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

/// Steps of the report measurements: each writer is timed on runs of these sizes.
const REPORT_SIZES: [usize; 3] = [1_000, 10_000, 100_000];

/// A run of `steps` trail-like steps (5 a round, all passed), as the runner summarises it.
fn synthetic_summary(steps: usize) -> RunSummary {
    let records: Vec<StepRecord> = (0..steps)
        .map(|i| StepRecord {
            round: (i / 5) as u32 + 1,
            step: format!("s{}", i % 5 + 1),
            worker: "worker1".into(),
            status: StepStatus::Passed,
            duration: Duration::from_micros(90 + (i % 17) as u64),
        })
        .collect();
    RunSummary {
        rounds_run: (1..=steps.div_ceil(5) as u32).collect(),
        passed: records.len(),
        skipped: 0,
        failed: 0,
        outcome: RunOutcome::Passed,
        total_duration: Duration::from_micros(100 * steps as u64),
        steps: records,
    }
}

/// Every report writer on runs of [`REPORT_SIZES`] steps; the ratio column is the time
/// for 10× the steps over the time for the previous size (10.0 is linear).
fn reports() {
    let summaries: Vec<RunSummary> = REPORT_SIZES.iter().map(|&n| synthetic_summary(n)).collect();
    let redactor = Redactor::new(["s3cret".to_owned()]);
    // Median of 5 renderings (3 for the largest run).
    let time = |f: &dyn Fn(&RunSummary), summary: &RunSummary| {
        let repeats = if summary.steps.len() >= 100_000 { 3 } else { 5 };
        let mut runs: Vec<Duration> = (0..repeats)
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
    let collect = |s: &RunSummary| {
        std::hint::black_box(collected(s, &redactor));
    };
    // The report files are built from the collector's record of the run, as `run` does;
    // the collector is filled outside the timed part (the row above times it alone).
    let json_doc = |c: &ReportCollector| {
        c.with_report(&package, |r| {
            // Streamed to a sink, as `json::write` streams it to its file.
            json::write_to(&mut std::io::sink(), r, None, &redactor).expect("write to a sink");
        })
    };
    let junit_doc = |c: &ReportCollector| {
        c.with_report(&package, |r| {
            // Streamed to a sink, as `junit::write` streams it to its file.
            junit::write_to(&mut std::io::sink(), r, &redactor).expect("write to a sink");
        })
    };
    let html_doc = |c: &ReportCollector| {
        c.with_report(&package, |r| {
            std::hint::black_box(html::render(r, &redactor));
        })
    };
    let from_collector: [(&str, &Writer); 3] = [
        ("JSON", &json_doc),
        ("JUnit", &junit_doc),
        ("HTML", &html_doc),
    ];
    let collectors: Vec<ReportCollector> =
        summaries.iter().map(|s| collected(s, &redactor)).collect();
    println!();
    print!("| report |");
    for n in REPORT_SIZES {
        print!(" {n} steps |");
    }
    for pair in REPORT_SIZES.windows(2) {
        print!(" ratio {}→{} |", pair[0], pair[1]);
    }
    println!();
    println!("|---|{}", "---|".repeat(REPORT_SIZES.len() * 2 - 1));
    let row = |label: &str, times: Vec<Duration>| {
        print!("| {label} |");
        for t in &times {
            print!(" {} |", us(*t));
        }
        for pair in times.windows(2) {
            print!(" {:.1} |", pair[1].as_secs_f64() / pair[0].as_secs_f64());
        }
        println!();
    };
    row(
        "terminal summary table",
        summaries.iter().map(|s| time(&terminal, s)).collect(),
    );
    row(
        "collector (events of the run)",
        summaries.iter().map(|s| time(&collect, s)).collect(),
    );
    for (label, f) in from_collector {
        let times = collectors
            .iter()
            .zip(&summaries)
            .map(|(c, s)| time(&|_: &RunSummary| f(c), s))
            .collect();
        row(label, times);
    }
}

/// A report collector (in memory) fed the events a run of `summary`'s steps sends: each
/// step's start, its four state calls (one `get`, three `set`s, as the trail steps make)
/// and its end.
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
    for (i, r) in summary.steps.iter().enumerate() {
        collector.event(&RunEvent::StepStarted {
            round: r.round,
            index: i % 5,
            total: 5,
            step: r.step.clone(),
            description: "records itself in the trail".into(),
            worker: r.worker.clone(),
        });
        let calls = [
            ("get count (global)", String::new(), i.to_string()),
            (
                "set trail.N (global)",
                format!("\"{}/{}\"", r.round, r.step),
                String::new(),
            ),
            ("set count (global)", (i + 1).to_string(), String::new()),
            ("set last (round)", format!("\"{}\"", r.step), String::new()),
        ];
        for (text, request, response) in calls {
            collector.event(&RunEvent::HostCalled {
                round: r.round,
                step: r.step.clone(),
                call: HostCall {
                    kind: CallKind::State,
                    summary: text.into(),
                    request,
                    response,
                    failed: false,
                    duration: Duration::from_micros(2),
                },
            });
        }
        collector.event(&RunEvent::StepFinished {
            round: r.round,
            step: r.step.clone(),
            worker: r.worker.clone(),
            outcome: StepOutcome::Done(serde_json::json!(i)),
            duration: r.duration,
        });
    }
    collector
}

fn main() {
    // `-- reports` measures the report writers alone (they need no component).
    if std::env::args().skip(1).any(|a| a == "reports") {
        reports();
        return;
    }
    // `-- trivial` measures the trivial step alone (compare allocators with
    // PROMETHEUS_WASM_ALLOCATOR=on-demand).
    let only_trivial = std::env::args().skip(1).any(|a| a == "trivial");
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    runtime.block_on(async {
        let package = trail_package().await;
        trivial_step(&package).await;
        if only_trivial {
            return;
        }
        sync_cost();
        println!();
        long_runs(&package).await;
    });
    if !only_trivial {
        reports();
    }
}

/// One report file writer under measurement, given the collector of a run.
type Writer<'a> = dyn Fn(&ReportCollector) + 'a;
