//! [`RunSummary`]: what a finished run returns (passed, or stopped by a failed step).

use std::time::Duration;

use crate::model::StepFailure;

/// How one step run ended.
#[derive(Debug, Clone, PartialEq)]
pub enum StepStatus {
    /// The step returned `done`.
    Passed,
    /// The step returned `skip`, for this reason.
    Skipped(String),
    /// The step failed or trapped.
    Failed(StepFailure),
}

/// One step run of this invocation (steps completed by an earlier, resumed run are not
/// listed).
#[derive(Debug, Clone, PartialEq)]
pub struct StepRecord {
    /// The round, from 1.
    pub round: u32,
    /// The step's name.
    pub step: String,
    /// The worker it ran against.
    pub worker: String,
    /// How it ended.
    pub status: StepStatus,
    /// How long it ran.
    pub duration: Duration,
}

/// How the whole run ended.
#[derive(Debug, Clone, PartialEq)]
pub enum RunOutcome {
    /// Every remaining step of every round completed.
    Passed,
    /// A step failed and the run stopped there; the saved state resumes at that step.
    Failed {
        /// The round, from 1.
        round: u32,
        /// The failed step.
        step: String,
        /// The worker it ran against.
        worker: String,
        /// The error or trap.
        failure: StepFailure,
    },
}

/// What a run did, for the summary table and the reports.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSummary {
    /// The rounds in which steps ran, in order.
    pub rounds_run: Vec<u32>,
    /// Every step run, in order.
    pub steps: Vec<StepRecord>,
    /// Steps that returned `done`.
    pub passed: usize,
    /// Steps that returned `skip`.
    pub skipped: usize,
    /// Steps that failed (0 or 1: the run stops at the first).
    pub failed: usize,
    /// Passed or where it failed.
    pub outcome: RunOutcome,
    /// Wall time from the start of the run to its end (post-load not included).
    pub total_duration: Duration,
}

impl RunSummary {
    /// An empty summary; the runner adds to it as steps end.
    pub(super) fn new() -> Self {
        RunSummary {
            rounds_run: Vec::new(),
            steps: Vec::new(),
            passed: 0,
            skipped: 0,
            failed: 0,
            outcome: RunOutcome::Passed,
            total_duration: Duration::ZERO,
        }
    }

    /// Whether every step that ran completed.
    pub fn is_passed(&self) -> bool {
        self.outcome == RunOutcome::Passed
    }

    /// Adds a step's record and counts it.
    pub(super) fn record(&mut self, record: StepRecord) {
        match &record.status {
            StepStatus::Passed => self.passed += 1,
            StepStatus::Skipped(_) => self.skipped += 1,
            StepStatus::Failed(_) => self.failed += 1,
        }
        self.steps.push(record);
    }
}
