//! A run (`prometheus-wasm run`, [`Session::run`](super::Session::run)): validate everything, start the workers, run the steps, stop the
//! workers — also on failure, Ctrl-C and SIGTERM.
//!
//! Nothing is wiped before the run is known to start: every check that needs no worker
//! process (inputs, package, the workers' ports, programs and directories, data_dir, the
//! report paths, the test's manifest and rounds) passes before the MongoDB collections
//! are emptied and the workers' `.db` files deleted. After that, only a worker that fails
//! to start, a database error or a signal can end the run before the steps.

use std::sync::Arc;
use std::time::Instant;

use super::outcome::Outcome;
use super::settings::Settings;
use super::signals::{Stop, StopSignals, install_signals};
use super::source::{self as plan_source, LockPolicy, Source};
use crate::config::TestConfig;
use crate::error::UserError;
use crate::exit::{FAILED as EXIT_FAILED, OK as EXIT_PASSED};
use crate::plugin::record::{Masker, RecordSink};
use crate::plugin::{Budgets, MongoCtx, RecordCtx, Steps};
use crate::report::{Redactor, TerminalReport};
use crate::runner::{self, ResumePoint, RunObserver, RunOptions, RunSummary};
use crate::store::state::RunState;
use crate::store::{JournalCheckpoint, StateFile};
use crate::timings::{RunPhase, Timings};
use crate::workers::{Fleet, OutputSink, Stream, SupervisorOptions};

use super::faulted::Faulted;
use super::reports::{Tee, package_identity, start_collector, write_reports};
use super::start as run_state;
use super::step_faults::RunFaults;
use super::timed::{TimedCheckpoint, TimedSteps};
use super::watched::Watched;
use super::workers::watchdog;

/// Forwards worker output to the terminal report.
struct WorkerOutput(Arc<TerminalReport>);

impl OutputSink for WorkerOutput {
    fn line(&self, worker: &str, stream: Stream, line: &str) {
        self.0
            .worker_line(worker, matches!(stream, Stream::Stderr), line);
    }
    fn exited(&self, worker: &str, status: &str) {
        // Said at once; the step running then fails with the details (`watched.rs`).
        self.0.warning(&format!(
            "worker {worker} exited during the run ({status}); the current step fails"
        ));
    }
}

/// Runs a test; returns how it ended.
pub(crate) async fn run(mut args: Settings) -> Result<Outcome, UserError> {
    let timings = Timings::new(Instant::now());
    // Handlers first: a signal during start-up must still stop what was started.
    let signals = if args.signals {
        install_signals()?
    } else {
        StopSignals::none()
    };

    // 1. Every input is validated before anything starts.
    let source = Source::read(&args.steps)?;
    let config_path = args
        .config
        .clone()
        .unwrap_or_else(|| source.default_config());
    let plan_file = match &source {
        Source::Plan(file) => Some(file),
        Source::Package(_) => None,
    };
    // Held to the end of the run: its data_dir is removed when it drops.
    let isolation = match args.isolated {
        true => Some(super::isolation::Isolation::new(&config_path, &args.sets)?),
        false => None,
    };
    if let Some(isolation) = &isolation {
        args.sets.extend(isolation.sets());
    }
    let inputs = super::prepare::inputs(
        &config_path,
        plan_file,
        &args.sets,
        &args.secrets,
        args.mongo_uri.as_deref(),
    )?;
    let redactor = inputs.redactor.clone();
    // From here on every error is redacted before cli prints it (a post-load failure
    // quoting a token, a worker's last stderr lines).
    let result = run_redacted(args, signals, source, inputs, &timings)
        .await
        .map_err(|e| e.redacted(&redactor));
    if let Some(isolation) = isolation
        && !matches!(&result, Ok(outcome) if outcome.passed())
    {
        // The failed steps' recordings (and the state) are what `replay` and the user
        // need; only a passing run's data_dir goes.
        let kept = isolation.keep();
        tracing::warn!(
            "isolated run did not pass: its data_dir is kept at {}",
            kept.display()
        );
    }
    result
}

/// The rest of [`run`], once the secrets are known.
async fn run_redacted(
    mut args: Settings,
    mut signals: StopSignals,
    source: Source,
    inputs: super::prepare::Inputs,
    timings: &Timings,
) -> Result<Outcome, UserError> {
    let super::prepare::Inputs {
        mut config,
        keys,
        secrets,
        redactor,
    } = inputs;
    let output = std::mem::take(&mut args.output);
    let mut report = output.report(redactor.clone());
    if let Some(rerun) = args.rerun.take() {
        report = report.with_rerun(rerun);
    }
    let report = Arc::new(report);
    // Cache, store and supervisor warnings go through the report (redacted) from here on.
    let _warnings = crate::report::warnings::route_to(report.clone());
    if !args.sets.is_empty() {
        report.line(&format!(
            "config: {} (over {})",
            args.sets
                .iter()
                .map(|s| format!("--set {s}"))
                .collect::<Vec<_>>()
                .join(", "),
            config.config_path.display()
        ));
    }
    for w in &config.warnings {
        report.warning(w);
    }
    for name in &secrets.unknown {
        report.warning(&format!(
            "--secret {name}: no variable {name} in the environment, the .env files or a worker's env; nothing to mask"
        ));
    }
    // Before the steps' grants are built from the workers' URLs: a proxied worker's URL
    // is its proxy's.
    let seed = super::faults::seed(args.seed);
    let proxies = super::faults::proxies(&mut config, seed)?;
    if !config.faults.is_empty() || config.faults_from_steps() {
        report.note(&super::faults::banner(&config, proxies.as_deref(), seed));
    }
    // 2. Everything `check` checks too, before any data is touched (prepare.rs): the
    // packages and the lock, the workers (ports, programs, directories), data_dir (their
    // databases live there), the report files, the manifest, the faults and rounds.
    // Loading runs guest code (instantiation, `manifest`): a signal stops it like a step.
    let select = args.select.clone();
    let prepared = match signals
        .until(prepare_run(&args, &source, &config, &select, &report))
        .await
    {
        Ok(prepared) => prepared?,
        Err(stop) => return Ok(interrupted(stop, &report)),
    };
    let super::prepare::Prepared {
        plan,
        lock,
        grants,
        specs,
    } = prepared;
    // The database once data_dir exists (the embedded store lives there): its errors are
    // then about the database, not about a folder `check` has already judged.
    let test_db = super::mongo::open(&args, &config, &report).await?;
    let mut grants = grants.with_keys(keys);
    grants.mongo = MongoCtx::new(test_db.db.clone());
    grants.record = record_ctx(&args, &config, &redactor);
    // The faults steps apply need the workers, which start later: the slot is filled then.
    let step_faults = grants.faults.clone();
    let package = plan.with_run(grants);
    let uses_mongo = package.packages().any(|(_, p)| {
        p.imports()
            .iter()
            .any(|i| i.starts_with("prometheus:step/mongo"))
    });
    test_db.announce(uses_mongo, &report);
    timings.phase_ended(RunPhase::Load);

    // External workers must be up before anything is seeded or deleted for them.
    let startup_timeout = args.startup_timeout.unwrap_or(config.startup_timeout);
    let external = super::external::external_workers(&config);
    tokio::select! {
        ready = super::external::wait_ready(&external, startup_timeout, &report) => ready?,
        stop = signals.recv() => return Ok(interrupted(stop, &report)),
    }

    let state_file = StateFile::new(&config.data_dir);
    // Every check passed: only now does the plan's lock change.
    if let Some(lock) = lock {
        lock.write(&|line: &str| report.note(line))?;
    }

    let existing = run_state::load_state(&state_file, args.reset, &report)?;
    timings.phase_ended(RunPhase::Preflight);
    let before_seed = async || super::external::reset(&external, &report).await;
    let start = if select.is_empty() {
        let (state, resume, options) = test_db
            .start(
                existing,
                package.manifest(),
                args.reset,
                &report,
                before_seed,
            )
            .await?;
        Start::Full(state, resume, options)
    } else {
        let start = run_state::start_selected(
            &select,
            run_state::Saved {
                state: existing,
                file: &state_file,
                reset: args.reset,
            },
            package.manifest(),
            &test_db,
            &report,
            before_seed,
        )
        .await?;
        Start::Selected(start)
    };
    // Before the databases go: a results journal that cannot be read refuses the run.
    let collector = Arc::new(start_collector(
        &state_file,
        &package,
        &start,
        &redactor,
        &report,
    )?);
    if start.is_fresh() {
        run_state::remove_databases(&config.data_dir, &report)?;
    }
    if config.max_rounds.is_none() {
        for line in super::faulted::unreached(&config.faults, start.max_rounds()) {
            report.warning(&line);
        }
    }
    timings.phase_ended(RunPhase::Seeding);

    // 3. Workers, guarded by a watchdog that kills their process groups if we die.
    let supervisor = SupervisorOptions {
        startup_timeout,
        watchdog: Some(watchdog(args.own_watchdog, &report)),
        ..SupervisorOptions::default()
    };
    report.note(&format!("starting {} worker(s)…", specs.len()));
    let started = Instant::now();
    let sink: Arc<dyn OutputSink> = Arc::new(WorkerOutput(report.clone()));
    let fleet = tokio::select! {
        fleet = Fleet::start(specs, supervisor, sink) => fleet.map_err(UserError::from)?,
        stop = signals.recv() => return Ok(interrupted(stop, &report)),
    };
    timings.phase_ended(RunPhase::WorkersReady);
    report.note(&format!(
        "workers ready in {}: {}",
        crate::report::terminal::fmt_duration(started.elapsed()),
        config
            .workers
            .iter()
            .map(|w| {
                let external = if w.is_external() { " (external)" } else { "" };
                format!("{} {}{external}", w.name, w.url)
            })
            .collect::<Vec<_>>()
            .join(", ")
    ));

    // 4. Steps, with the test's faults applied at their boundaries, failed when a worker
    // dies (not when a fault killed it), with the workers stopped whatever happens.
    let observer: Arc<dyn RunObserver> = Arc::new(Tee(report.clone(), collector.clone()));
    // Faults are applied outside the timed part, so a step's time is its own.
    let timed = TimedSteps {
        steps: &package,
        timings,
    };
    let from_steps = config.faults_from_steps().then(|| {
        Arc::new(RunFaults::new(
            fleet.control(),
            proxies.clone(),
            observer.clone(),
        ))
    });
    if let Some(from_steps) = &from_steps {
        // Set once per run, before any step: the slot is fresh.
        let _ = step_faults.set(from_steps.clone());
    }
    let faulted = Faulted {
        steps: &timed,
        schedule: &config.faults,
        control: fleet.control(),
        network: proxies.clone(),
        observer: observer.clone(),
        from_steps,
    };
    let watched = Watched {
        steps: &faulted,
        deaths: fleet.deaths(),
    };
    let selective = matches!(start, Start::Selected(_));
    let outcome = signals
        .until(run_steps(
            &watched,
            &state_file,
            start,
            observer,
            &report,
            timings,
        ))
        .await;
    report.note("stopping workers…");
    // A (second) Ctrl-C or SIGTERM during the grace period kills the workers at once.
    // The exit code stays the run's: a run that ended before the signal has its result.
    let hurry = async {
        let again = signals.recv().await;
        report.warning(&format!(
            "{} received while stopping: killing the workers now",
            again.name()
        ));
    };
    fleet.stop_or_kill(hurry).await;
    // Whatever ended the run (a failure, a signal), the journal is folded into
    // test_state.json so that the file a user reads or edits is the whole truth. A
    // selective run wrote neither.
    if !selective && let Err(e) = state_file.compact() {
        report.warning(&format!(
            "{e}; the journal beside it keeps the completed steps, the next run resumes from both"
        ));
    }
    timings.phase_ended(RunPhase::Stop);
    // The reports of whatever ended the run: its steps, a failed post-load, a signal.
    let write = || {
        write_reports(
            &args,
            &collector,
            &package_identity(&source, &package),
            &redactor,
            timings,
        )
    };
    let ended = match outcome {
        Ok(Ok((code, summary))) => {
            if let Some(e) = collector.take_error() {
                report.warning(&format!(
                    "{e}; the reports cover the run, the next invocation's may miss this one's steps"
                ));
            }
            write()?;
            Ok(Outcome::finished(code, summary, &redactor))
        }
        Ok(Err(e)) => {
            // A failed post-load is why nothing ran: the reports say so.
            if collector.post_load_failed(&e.message())
                && let Err(e) = write()
            {
                report.warning(&e.message());
            }
            Err(e)
        }
        Err(stop) => {
            // A cancelled or timed-out CI job still gets reports of what ran; a report that
            // cannot be written then does not hide the signal's exit code.
            collector.interrupted(stop.name());
            if let Err(e) = write() {
                report.warning(&e.message());
            }
            Ok(interrupted(stop, &report))
        }
    };
    timings.phase_ended(RunPhase::Reports);
    if args.timings {
        report.timings(&timings.snapshot());
    }
    ended
}

/// Where the steps start: a whole run (fresh or resumed) or a selection.
pub(crate) enum Start {
    /// Every remaining step, checkpointed.
    Full(RunState, ResumePoint, RunOptions),
    /// The selected steps on a working copy (`run_state.rs`).
    Selected(run_state::SelectedStart),
}

impl Start {
    /// The test's number of rounds.
    fn max_rounds(&self) -> u32 {
        match self {
            Start::Full(_, _, options) => options.max_rounds,
            Start::Selected(s) => s.max_rounds,
        }
    }

    /// Whether the data was seeded for a fresh start (post-load runs, `.db` files go).
    fn is_fresh(&self) -> bool {
        match self {
            Start::Full(_, resume, _) => matches!(resume, ResumePoint::Fresh { .. }),
            Start::Selected(s) => s.fresh,
        }
    }
}

async fn run_steps(
    package: &impl Steps,
    state_file: &StateFile,
    start: Start,
    observer: Arc<dyn RunObserver>,
    report: &TerminalReport,
    timings: &Timings,
) -> Result<(u8, RunSummary), UserError> {
    let fresh = start.is_fresh();
    let (mut state, resume) = match &start {
        Start::Full(state, resume, _) => (state.clone(), resume.clone()),
        Start::Selected(s) => (s.state.clone(), s.resume.clone()),
    };
    if fresh && let Err(failure) = runner::post_load(package, &mut state, observer.clone()).await {
        return Err(UserError::failed(
            format!("post-load failed: {failure}"),
            None,
        ));
    }
    timings.phase_ended(RunPhase::PostLoad);
    let summary = match &start {
        Start::Full(_, _, options) => {
            let mut checkpoint = TimedCheckpoint {
                inner: JournalCheckpoint::new(state_file.clone()),
                timings,
            };
            runner::run(package, &mut checkpoint, state, resume, options, observer)
                .await
                .map_err(UserError::from)?
        }
        Start::Selected(s) => {
            runner::run_selected(package, state, &s.selection, s.max_rounds, resume, observer).await
        }
    };
    timings.phase_ended(RunPhase::Steps);
    report.summary(&summary);
    let code = if summary.is_passed() {
        EXIT_PASSED
    } else {
        EXIT_FAILED
    };
    Ok((code, summary))
}

fn interrupted(stop: Stop, report: &TerminalReport) -> Outcome {
    report.warning(&format!(
        "{} received: workers stopped; the saved state keeps the last completed step, run again to resume",
        stop.name()
    ));
    Outcome::stopped(stop.exit_code(), stop.name())
}

/// [`super::prepare::prepare`] with the run's settings.
async fn prepare_run(
    args: &Settings,
    source: &Source,
    config: &TestConfig,
    select: &crate::runner::SelectSpec,
    report: &TerminalReport,
) -> Result<super::prepare::Prepared, UserError> {
    let resolver =
        plan_source::resolver(args.cache.dir.clone(), args.offline, args.registry.clone())?;
    let options = super::prepare::Options {
        budgets: budgets(args, config),
        cache: plan_source::code_cache(
            args.cache.dir.clone(),
            args.cache.disabled,
            args.cache.max_mib,
        ),
        resolver: &resolver,
        lock: args
            .lock
            .unwrap_or_else(|| LockPolicy::from_flags(false, false)),
        reports: [
            ("--junit", args.junit.as_deref()),
            ("--json", args.json.as_deref()),
            ("--html", args.html.as_deref()),
        ],
        select,
        mode: super::prepare::Mode::Run,
    };
    super::prepare::prepare(source, config, options, &|line: &str| report.note(line)).await
}

/// Default `limits.recording_max_mb`.
const RECORDING_MAX_MB: u64 = 64;

/// Where the run's recording goes (beside the state file), how large it may grow, and
/// the redactor masking what it holds.
fn record_ctx(args: &Settings, config: &TestConfig, redactor: &Redactor) -> RecordCtx {
    let mib = args
        .limits
        .or(&config.limits)
        .recording_max_mb
        .unwrap_or(RECORDING_MAX_MB);
    let redactor = redactor.clone();
    RecordCtx {
        mode: args.record,
        sink: Some(Arc::new(RecordSink::new(&config.data_dir, mib << 20))),
        mask: Masker::new(move |text| redactor.redact(text).into_owned()),
        player: None,
    }
}

/// The budgets of `limits:` in config.yaml, overridden by the settings' (the flags).
pub(crate) fn budgets(args: &Settings, config: &TestConfig) -> Budgets {
    Budgets::from_config(&args.limits.or(&config.limits))
}
