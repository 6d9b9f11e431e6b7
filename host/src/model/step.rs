//! How a step ended and what it wrote: [`StepOutcome`], [`StepFailure`] (with the
//! [`Phase`] that failed) and [`LogLevel`].
//!
//! Plain values of the run, made by `plugin` (the package that ran the step) and carried
//! by the runner's [`RunEvent`](crate::runner::RunEvent)s to the reports.

use serde_json::Value;

use crate::workers::WorkerDeath;

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
