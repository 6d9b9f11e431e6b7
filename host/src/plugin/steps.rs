//! The seam between the runner and a loaded step package: plain values and one trait.
//!
//! The runner drives any [`Steps`] implementation; the real one runs WebAssembly
//! components ([`crate::plugin::Package`]), tests use scripted fakes. Nothing here names a
//! wasmtime type.

use std::future::Future;
use std::sync::Arc;

use serde_json::Value;

use crate::store::state::RunState;
use crate::workers::WorkerDeath;

/// One step as a package's manifest declares it (the WIT `step-info`).
#[derive(Debug, Clone, PartialEq)]
pub struct StepInfo {
    /// Unique name in the package; recorded as `last_completed_step`.
    pub name: String,
    /// One line for the step banner.
    pub description: String,
    /// The workers.json key of the worker the step runs against.
    pub worker: String,
    /// Parameters passed to `prepare` and `execute` (a JSON object).
    pub params: Value,
}

/// How a step ended when it did not fail.
#[derive(Debug, Clone, PartialEq)]
pub enum StepOutcome {
    /// The step completed with this result value.
    Done(Value),
    /// The step chose not to run, for this reason.
    Skipped(String),
}

/// Which export of the step package was running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// `prepare`.
    Prepare,
    /// `execute`.
    Execute,
    /// `post-load`.
    PostLoad,
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Phase::Prepare => "prepare",
            Phase::Execute => "execute",
            Phase::PostLoad => "post-load",
        })
    }
}

/// Why a step failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StepFailure {
    /// The guest returned `err(message)`.
    #[error("{phase} returned an error: {message}")]
    Failed {
        /// The export that failed.
        phase: Phase,
        /// The guest's message.
        message: String,
    },
    /// The guest trapped (panic, budget exceeded, host invariant broken); the instance is
    /// gone.
    #[error("{phase} trapped: {message}")]
    Trapped {
        /// The export that trapped.
        phase: Phase,
        /// What happened, e.g. the panic message or the budget that ran out.
        message: String,
        /// Where in the guest it happened (the wasm backtrace), shown with `-v` only.
        backtrace: Option<String>,
    },
    /// A worker died (exited on its own) before or while the step ran. The step fails
    /// whatever it returned: the system under test is broken from then on, and what the
    /// step saw (often only "connection refused") is a consequence, not the cause.
    #[error("{}", worker_died(death, *before, step_error.as_deref()))]
    WorkerDied {
        /// Who died, how, and their last output lines.
        death: WorkerDeath,
        /// True when it died before the step started (between steps).
        before: bool,
        /// The step's own failure, when it failed too (usually because of the death).
        step_error: Option<Box<StepFailure>>,
    },
    /// A fault the test scheduled before or after the step could not be applied (the
    /// worker was not in the state the action needs, or did not come back after a start).
    #[error("fault {fault} could not be applied: {error}")]
    FaultFailed {
        /// The fault, as `faults[2] (round 1, after submit): kill worker1`.
        fault: String,
        /// Why, naming the worker and what to do.
        error: String,
    },
}

/// `worker `w` died during this step (exit status: 3); the step's own error: …; last
/// stderr lines: …` — the death first, as it is the cause.
fn worker_died(death: &WorkerDeath, before: bool, step_error: Option<&StepFailure>) -> String {
    let when = if before {
        "before this step started"
    } else {
        "during this step"
    };
    let mut message = format!("worker `{}` died {when} ({})", death.worker, death.status);
    if let Some(error) = step_error {
        message.push_str(&format!("; the step's own error: {error}"));
    }
    message.push_str(&death.last_lines());
    message
}

impl StepFailure {
    /// The wasm backtrace of a trap, if there is one.
    pub fn backtrace(&self) -> Option<&str> {
        match self {
            StepFailure::Trapped { backtrace, .. } => backtrace.as_deref(),
            StepFailure::WorkerDied { step_error, .. } => {
                step_error.as_deref().and_then(StepFailure::backtrace)
            }
            StepFailure::Failed { .. } | StepFailure::FaultFailed { .. } => None,
        }
    }
}

/// Severity of a guest log line (the WIT `log.level`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    /// Very detailed diagnostics.
    Trace,
    /// Diagnostics.
    Debug,
    /// Normal progress.
    Info,
    /// Something looks wrong.
    Warn,
    /// Something failed.
    Error,
}

/// Receives what a step writes while it runs (log lines, captured stdout/stderr), as it
/// happens, so the terminal can show it under the step's banner.
pub trait StepLog: Send + Sync {
    /// One line written by the step.
    fn line(&self, level: LogLevel, message: &str);

    /// One host call the step made, after it returned. Most receivers ignore calls.
    fn call(&self, call: &super::HostCall) {
        let _ = call;
    }

    /// The step was written to the run's recording at `path` (a failed step, or every
    /// step with `--record all`), before the step's end is reported.
    fn recorded(&self, path: &std::path::Path) {
        let _ = path;
    }

    /// The step's own work ended now: what a wrapper does after it (waiting for news of a
    /// worker that died meanwhile) is not the step's time. The step's reported duration
    /// ends at the first call; without one, when `run_step` returns.
    fn ended(&self) {}

    /// A part of the step took `took` (`run --timings`): the store and instantiation,
    /// each export, each host call. Most receivers ignore it.
    fn timed(&self, part: crate::timings::StepPart, took: std::time::Duration) {
        let _ = (part, took);
    }

    /// The faults applied on purpose before this step and the seed of the network
    /// faults' decisions, for its recording: a replay shows under which faults the
    /// recorded answers were given.
    fn faults(&self) -> FaultNotes {
        FaultNotes::default()
    }
}

/// What a step's recording keeps about the faults of its run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FaultNotes {
    /// The seed of the run's network fault decisions, when the run has fault proxies.
    pub seed: Option<u64>,
    /// The faults applied before the step, in order: `before x: killed worker1 (pid 123)`.
    pub applied: Vec<String>,
}

/// A loaded step package, ready to run steps.
pub trait Steps {
    /// The package's steps in round order.
    fn manifest(&self) -> &[StepInfo];

    /// Runs `step`: `prepare`, then `execute` with its result, in one fresh instance.
    ///
    /// `state` is the run state as of the last completed step, with `current_round` set;
    /// the guest's `state.set` calls change it in place. The caller discards those changes
    /// when the step fails.
    fn run_step(
        &self,
        step: &StepInfo,
        state: &mut RunState,
        log: Arc<dyn StepLog>,
    ) -> impl Future<Output = Result<StepOutcome, StepFailure>> + Send;

    /// Runs the package's `post-load` export once, after a fresh start.
    fn post_load(
        &self,
        state: &mut RunState,
        log: Arc<dyn StepLog>,
    ) -> impl Future<Output = Result<(), StepFailure>> + Send;
}
