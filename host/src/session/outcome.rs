//! [`Outcome`]: how a run that started ended — passed, a step failed, or a signal stopped
//! it — with the exit code the CLI ends with.

use crate::report::Redactor;
use crate::report::sanitize::{MESSAGE_MAX_BYTES, bounded_text, cut};
use crate::runner::{RunOutcome, RunSummary};

/// How a run ended. Its [`Display`](std::fmt::Display) is one line for an assertion
/// message: `passed: 9 step(s) in 3 round(s)`, `failed: step submit (worker alpha, round
/// 2): …`, `stopped by SIGINT`.
#[derive(Debug, Clone)]
pub struct Outcome {
    code: u8,
    summary: Option<RunSummary>,
    signal: Option<&'static str>,
    /// What [`Display`](std::fmt::Display) says: made once, masked and cut, since a
    /// failure quotes the guest.
    line: String,
}

impl Outcome {
    /// The steps ran; `code` is [`exit::OK`](crate::exit::OK) or
    /// [`exit::FAILED`](crate::exit::FAILED).
    pub(crate) fn finished(code: u8, summary: RunSummary, redactor: &Redactor) -> Self {
        let line = match &summary.outcome {
            RunOutcome::Passed => format!(
                "passed: {} step(s) in {} round(s), {} skipped",
                summary.passed,
                summary.rounds_run.len(),
                summary.skipped
            ),
            RunOutcome::Failed {
                round,
                step,
                worker,
                failure,
            } => format!("failed: step {step} (worker {worker}, round {round}): {failure}"),
        };
        Self {
            code,
            summary: Some(summary),
            signal: None,
            // Cut before masking (a guest message can be megabytes), escaped after.
            line: bounded_text(&redactor.redact(&cut(&line, MESSAGE_MAX_BYTES))),
        }
    }

    /// A signal stopped the run (`name`: `SIGINT`, `SIGTERM`) with exit code `code`.
    pub(crate) fn stopped(code: u8, name: &'static str) -> Self {
        Self {
            code,
            summary: None,
            signal: Some(name),
            line: format!("stopped by {name}"),
        }
    }

    /// Whether every step that ran passed (and no signal stopped the run).
    pub fn passed(&self) -> bool {
        self.code == crate::exit::OK
    }

    /// The process exit code the CLI ends with (see [`exit`](crate::exit)).
    pub fn code(&self) -> u8 {
        self.code
    }

    /// What the steps did; `None` when a signal stopped the run before they ended.
    pub fn summary(&self) -> Option<&RunSummary> {
        self.summary.as_ref()
    }

    /// The signal that stopped the run, if one did (`SIGINT`, `SIGTERM`).
    pub fn signal(&self) -> Option<&str> {
        self.signal
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.line)
    }
}
