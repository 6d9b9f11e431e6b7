//! `prometheus-wasm run`: validate everything, start the workers, run the steps, stop the
//! workers — also on failure, Ctrl-C and SIGTERM.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::anyhow;

use crate::cli::args::RunArgs;
use crate::cli::signals::{Stop, StopSignals};
use crate::cli::{EXIT_FAILED, EXIT_PASSED, UserError};
use crate::config::{self, TestConfig};
use crate::plugin::{
    Budgets, CodeCache, CodeSource, LogLevel, MongoCtx, Package, RunCtx, StepEngine, Steps,
};
use crate::report::{Redactor, TerminalReport};
use crate::runner::{self, ResumePoint, RunObserver, RunOptions};
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
    let config_path = config_path(&args)?;
    let process_env: BTreeMap<String, String> = std::env::vars().collect();
    let config = config::load(&config_path, &process_env).map_err(|e| {
        let hint = e.hint();
        UserError::usage(anyhow!(e), hint)
    })?;
    let report = Arc::new(TerminalReport::stdout(
        Redactor::new(config.secret_values()),
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
    let package = load_package(&args, &config, &report, &test_db).await?;
    check_workers(&package, &config)?;

    let state_file = StateFile::new(&config.data_dir);
    let existing = if args.reset {
        None
    } else {
        state_file.load().map_err(|e| {
            let hint = e.hint().map(str::to_string);
            UserError::usage(anyhow!(e), hint)
        })?
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
        Ok(code) => code,
        Err(stop) => Ok(interrupted(stop, &report)),
    }
}

async fn run_steps(
    package: &Package,
    state_file: &StateFile,
    state: &mut RunState,
    resume: ResumePoint,
    options: &RunOptions,
    observer: Arc<dyn RunObserver>,
    report: &TerminalReport,
) -> Result<u8, UserError> {
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
    .map_err(|e| {
        let hint = e.hint().map(str::to_string);
        UserError::usage(anyhow!(e), hint)
    })?;
    report.summary(&summary);
    Ok(if summary.is_passed() {
        EXIT_PASSED
    } else {
        EXIT_FAILED
    })
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

fn config_path(args: &RunArgs) -> Result<PathBuf, UserError> {
    if let Some(path) = &args.config {
        return Ok(path.clone());
    }
    let dir = args
        .steps
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    Ok(dir.join("config.yaml"))
}

async fn load_package(
    args: &RunArgs,
    config: &TestConfig,
    report: &TerminalReport,
    test_db: &super::mongo::TestDb,
) -> Result<Package, UserError> {
    let engine = Arc::new(StepEngine::new().map_err(|e| UserError::usage(anyhow!(e), None))?);
    let cache = if args.no_cache {
        None
    } else {
        args.cache_dir
            .clone()
            .or_else(CodeCache::default_dir)
            .map(CodeCache::new)
    };
    let package = Package::load(engine, &args.steps, cache.as_ref())
        .await
        .map_err(|e| {
            let hint = e.hint();
            UserError::usage(anyhow!(e), hint)
        })?;
    report.note(&format!(
        "steps: {} ({} steps, {} in {})",
        package.path().display(),
        package.manifest().len(),
        match package.code_source() {
            CodeSource::Compiled => "compiled",
            CodeSource::Cached => "loaded from cache",
        },
        crate::report::terminal::fmt_duration(package.load_time())
    ));
    let mut budgets = Budgets::default();
    if let Some(secs) = args.step_timeout {
        budgets.step_timeout = Duration::from_secs_f64(secs);
    }
    let mut run = RunCtx::from_config(config, budgets).map_err(|e| {
        let hint = e.hint();
        UserError::usage(anyhow!(e), hint)
    })?;
    run.mongo = MongoCtx::new(test_db.db.clone());
    Ok(package.with_run(run))
}

/// Every step must name a worker of workers.json: checked before any worker starts.
fn check_workers(package: &Package, config: &TestConfig) -> Result<(), UserError> {
    for step in package.manifest() {
        if config.worker(&step.worker).is_none() {
            let known: Vec<&str> = config.workers.iter().map(|w| w.name.as_str()).collect();
            return Err(UserError::usage(
                anyhow!(
                    "step `{}` of {} runs on worker `{}`, which {} does not define",
                    step.name,
                    package.path().display(),
                    step.worker,
                    config.workers_config.display()
                ),
                Some(format!("the workers are: {}", known.join(", "))),
            ));
        }
    }
    Ok(())
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
