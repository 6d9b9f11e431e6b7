//! `prometheus-wasm run`: validate everything, start the workers, run the steps, stop the
//! workers — also on failure, Ctrl-C and SIGTERM.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::anyhow;

use crate::cli::args::RunArgs;
use crate::cli::plan::{self as plan_source, Source};
use crate::cli::signals::{Stop, StopSignals};
use crate::cli::{EXIT_FAILED, EXIT_PASSED, UserError};
use crate::config::{self, TestConfig};
use crate::koii::Keyring;
use crate::plugin::{Budgets, LogLevel, MongoCtx, Plan, RunCtx, Steps};
use crate::report::{Redactor, TerminalReport};
use crate::runner::{self, ResumePoint, RunObserver, RunOptions, RunSummary};
use crate::store::StateFile;
use crate::store::state::RunState;
use crate::workers::{Fleet, LaunchSpec, OutputSink, Stream, SupervisorOptions};

/// Forwards worker output to the terminal report.
struct WorkerOutput(Arc<TerminalReport>);

impl OutputSink for WorkerOutput {
    fn line(&self, worker: &str, stream: Stream, line: &str) {
        self.0
            .worker_line(worker, matches!(stream, Stream::Stderr), line);
    }
    fn exited(&self, worker: &str, status: &str) {
        self.0
            .warning(&format!("worker {worker} exited during the run ({status})"));
    }
}

/// Runs a test; returns the exit code.
pub async fn run(args: RunArgs) -> Result<u8, UserError> {
    // Handlers first: a signal during start-up must still stop what was started.
    let mut signals = StopSignals::install()
        .map_err(|e| UserError::usage(anyhow!("cannot install signal handlers: {e}"), None))?;

    // 1. Every input is validated before anything starts.
    let source = Source::read(&args.steps)?;
    let config_path = args
        .config
        .clone()
        .unwrap_or_else(|| source.default_config());
    let process_env: BTreeMap<String, String> = std::env::vars().collect();
    let config = config::load(&config_path, &process_env).map_err(UserError::usage_from)?;
    // Keypairs are read and checked before anything starts; their private halves join
    // the secrets the report masks.
    let keys = Keyring::load(&config).map_err(UserError::usage_from)?;
    let redactor = Redactor::new(
        config
            .secret_values()
            .into_iter()
            .chain(keys.secret_values()),
    );
    let report = Arc::new(TerminalReport::stdout(
        redactor.clone(),
        if args.verbose {
            LogLevel::Debug
        } else {
            LogLevel::Info
        },
    ));
    for w in &config.warnings {
        report.warning(w);
    }
    let test_db = super::mongo::open(&args, &config, &report).await?;
    let package = load_package(&args, &source, &config, keys, &report, &test_db).await?;
    plan_source::check_workers(&package, &config)?;

    let state_file = StateFile::new(&config.data_dir);
    let existing = if args.reset {
        None
    } else {
        state_file.load().map_err(UserError::usage_from)?
    };
    let (mut state, resume, options) = test_db
        .start(existing, package.manifest(), args.reset, &report)
        .await?;
    if let ResumePoint::Fresh { .. } = resume {
        remove_databases(&config.data_dir, &report)?;
    }

    // 2. Workers. Their databases live in data_dir, which must exist before they start.
    std::fs::create_dir_all(&config.data_dir).map_err(|e| {
        UserError::usage(
            anyhow!("cannot create data_dir {}: {e}", config.data_dir.display()),
            None,
        )
    })?;
    let specs: Vec<LaunchSpec> = config
        .workers
        .iter()
        .map(|w| LaunchSpec {
            name: w.name.clone(),
            program: w.program.clone(),
            args: w.args.clone(),
            cwd: w.cwd.clone(),
            env: w.env.clone(),
            port: w.port,
        })
        .collect();
    let supervisor = SupervisorOptions {
        startup_timeout: args
            .startup_timeout
            .map(Duration::from_secs_f64)
            .unwrap_or(config.startup_timeout),
        ..SupervisorOptions::default()
    };
    report.note(&format!("starting {} worker(s)…", specs.len()));
    let started = Instant::now();
    let sink: Arc<dyn OutputSink> = Arc::new(WorkerOutput(report.clone()));
    let fleet = tokio::select! {
        fleet = Fleet::start(specs, supervisor, sink) => fleet.map_err(worker_error)?,
        stop = signals.recv() => return Ok(interrupted(stop, &report)),
    };
    report.note(&format!(
        "workers ready in {}: {}",
        crate::report::terminal::fmt_duration(started.elapsed()),
        config
            .workers
            .iter()
            .map(|w| format!("{} {}", w.name, w.url))
            .collect::<Vec<_>>()
            .join(", ")
    ));

    // 3. Steps, with the workers stopped whatever happens.
    let observer: Arc<dyn RunObserver> = report.clone();
    let outcome = tokio::select! {
        code = run_steps(&package, &state_file, &mut state, resume, &options, observer, &report) => Ok(code),
        stop = signals.recv() => Err(stop),
    };
    report.note("stopping workers…");
    fleet.stop().await;
    match outcome {
        Ok(Ok((code, summary))) => {
            write_reports(&args, &summary, &source.name(), &redactor)?;
            Ok(code)
        }
        Ok(Err(e)) => Err(e),
        Err(stop) => Ok(interrupted(stop, &report)),
    }
}

/// Writes the `--junit` and `--json` reports, if asked for.
fn write_reports(
    args: &RunArgs,
    summary: &RunSummary,
    name: &str,
    redactor: &Redactor,
) -> Result<(), UserError> {
    let fail = |e: crate::report::ReportError| UserError::usage(anyhow!(e), None);
    if let Some(path) = &args.junit {
        crate::report::junit::write(path, summary, name, redactor).map_err(fail)?;
    }
    if let Some(path) = &args.json {
        crate::report::json::write(path, summary, name, redactor).map_err(fail)?;
    }
    Ok(())
}

async fn run_steps(
    package: &Plan,
    state_file: &StateFile,
    state: &mut RunState,
    resume: ResumePoint,
    options: &RunOptions,
    observer: Arc<dyn RunObserver>,
    report: &TerminalReport,
) -> Result<(u8, RunSummary), UserError> {
    if let ResumePoint::Fresh { .. } = &resume
        && let Err(failure) = runner::post_load(package, state, observer.clone()).await
    {
        return Err(UserError::failed(
            anyhow!("post-load failed: {failure}"),
            None,
        ));
    }
    let mut checkpoint = state_file.clone();
    let summary = runner::run(
        package,
        &mut checkpoint,
        std::mem::take(state),
        resume,
        options,
        observer,
    )
    .await
    .map_err(UserError::usage_from)?;
    report.summary(&summary);
    let code = if summary.is_passed() {
        EXIT_PASSED
    } else {
        EXIT_FAILED
    };
    Ok((code, summary))
}

/// A worker that could not be set up (port taken, program missing) is a usage error: nothing
/// was tested. A worker that started and died, or never answered, fails the test.
fn worker_error(e: crate::workers::WorkerError) -> UserError {
    use crate::workers::WorkerErrorKind as K;
    let hint = e.hint();
    match e.kind() {
        K::ExitedAtStart { .. } | K::NotReady { .. } => UserError::failed(anyhow!(e), hint),
        _ => UserError::usage(anyhow!(e), hint),
    }
}

fn interrupted(stop: Stop, report: &TerminalReport) -> u8 {
    report.warning(&format!(
        "{} received: workers stopped; the saved state keeps the last completed step, run again to resume",
        stop.name()
    ));
    stop.exit_code()
}

/// Loads the package or plan, checks its lock, and grants it the run.
async fn load_package(
    args: &RunArgs,
    source: &Source,
    config: &TestConfig,
    keys: Keyring,
    report: &TerminalReport,
    test_db: &super::mongo::TestDb,
) -> Result<Plan, UserError> {
    let cache = plan_source::code_cache(args.cache_dir.clone(), args.no_cache, args.cache_max_mib);
    let note = |line: &str| report.note(line);
    let budgets = budgets(args, config);
    let resolver = args.fetch.resolver(args.cache_dir.clone())?;
    let package = plan_source::load(source, cache.as_ref(), &budgets, &resolver, &note).await?;
    if let Source::Plan(file) = source {
        plan_source::check_lock(file, &package, args.update_lock, &note)?;
    }
    let mut run = RunCtx::from_config(config, budgets)
        .map_err(UserError::usage_from)?
        .with_keys(keys);
    run.mongo = MongoCtx::new(test_db.db.clone());
    Ok(package.with_run(run))
}

/// The budgets of `limits:` in config.yaml, overridden by the command line's flags.
fn budgets(args: &RunArgs, config: &TestConfig) -> Budgets {
    let mut limits = config.limits;
    limits.step_timeout = args
        .step_timeout
        .map(Duration::from_secs_f64)
        .or(limits.step_timeout);
    limits.memory_mb = args.memory_mb.or(limits.memory_mb);
    limits.fuel = args.fuel.or(limits.fuel);
    limits.output_max_kb = args.output_max_kb.or(limits.output_max_kb);
    Budgets::from_config(&limits)
}

/// A fresh run starts from empty worker databases, as the reference's `clear_data` did.
fn remove_databases(data_dir: &Path, report: &TerminalReport) -> Result<(), UserError> {
    let entries = match std::fs::read_dir(data_dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => {
            return Err(UserError::usage(
                anyhow!("cannot read data_dir {}: {e}", data_dir.display()),
                None,
            ));
        }
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|x| x == "db") && path.is_file() {
            std::fs::remove_file(&path).map_err(|e| {
                UserError::usage(anyhow!("cannot delete {}: {e}", path.display()), None)
            })?;
            report.note(&format!("deleted {}", path.display()));
        }
    }
    Ok(())
}
