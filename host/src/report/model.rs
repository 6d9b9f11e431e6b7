//! [`RunReport`]: the whole run as the JUnit, JSON and HTML reports show it, built once
//! from the results journal's entries (every invocation that made the run) and the test's
//! outline (rounds × steps), so the three reports cannot disagree.

use std::collections::HashMap;
use std::sync::Arc;

use crate::report::history::{Entry, InvocationEntry, Status, StepEntry};

/// The package a run tested, as the reports name it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PackageId {
    /// The component's declared name, when its metadata has one.
    pub name: Option<String>,
    /// The component's declared version, when its metadata has one.
    pub version: Option<String>,
    /// The package or plan file's name (`steps.wasm`, `plan.yaml`).
    pub file: String,
    /// The sha256 (hex) of the package's bytes; empty when unknown.
    pub sha256: String,
}

impl PackageId {
    /// `name@version` from the component's metadata when it declares both, else
    /// `file@sha256:<first 12 hex digits>`: what the reports show as the package.
    pub fn label(&self) -> String {
        match (&self.name, &self.version) {
            (Some(name), Some(version)) => format!("{name}@{version}"),
            _ if self.sha256.is_empty() => self.file.clone(),
            _ => format!(
                "{}@sha256:{}",
                self.file,
                &self.sha256[..self.sha256.len().min(12)]
            ),
        }
    }
}

/// Decides whether a step of a round was selected to run (`--step`, `--from`, `--round`…).
pub type Selection = Arc<dyn Fn(u32, &str) -> bool + Send + Sync>;

/// The test's shape: which steps every round has.
#[derive(Clone)]
pub struct Outline {
    /// Rounds in the test.
    pub max_rounds: u32,
    /// The manifest's steps in order: name and worker.
    pub steps: Vec<(String, String)>,
    /// Which (round, step) cells this run selected; `None`: all.
    pub selection: Option<Selection>,
}

impl Outline {
    /// The index of `step` in a round, if the manifest has it.
    pub fn index_of(&self, step: &str) -> Option<usize> {
        self.steps.iter().position(|(name, _)| name == step)
    }
}

/// Where a case ended up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaseStatus {
    /// Its last attempt passed.
    Passed,
    /// Its last attempt returned `skip`.
    Skipped,
    /// Its last attempt failed.
    Failed,
    /// It did not run; [`Case::reason`] says why.
    NotRun,
}

impl CaseStatus {
    /// `passed`, `skipped`, `failed`, `not_run`.
    pub fn as_str(self) -> &'static str {
        match self {
            CaseStatus::Passed => "passed",
            CaseStatus::Skipped => "skipped",
            CaseStatus::Failed => "failed",
            CaseStatus::NotRun => "not_run",
        }
    }
}

/// One step of one round: its attempts across invocations, the last one deciding.
#[derive(Debug, Clone)]
pub struct Case<'a> {
    /// The round, from 1.
    pub round: u32,
    /// The step's name.
    pub step: &'a str,
    /// The worker it runs against.
    pub worker: &'a str,
    /// Where it ended up.
    pub status: CaseStatus,
    /// Why it did not run (for [`CaseStatus::NotRun`]).
    pub reason: Option<String>,
    /// Every attempt, oldest first; empty when it did not run.
    pub attempts: Vec<&'a StepEntry>,
}

impl Case<'_> {
    /// The attempt that decides the case.
    pub fn last(&self) -> Option<&StepEntry> {
        self.attempts.last().copied()
    }

    /// True when an earlier attempt failed and the last one did not.
    pub fn is_flaky(&self) -> bool {
        self.status != CaseStatus::Failed
            && self.status != CaseStatus::NotRun
            && self.attempts.iter().any(|a| a.status == Status::Failed)
    }

    /// Milliseconds of every attempt.
    pub fn duration_ms(&self) -> f64 {
        // A fold from +0.0: `sum` of nothing is -0.0, which the JUnit time pattern refuses.
        self.attempts
            .iter()
            .map(|a| a.duration_ms)
            .fold(0.0, |a, b| a + b)
    }
}

/// Counts over the cases.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// Cases (rounds × steps).
    pub tests: usize,
    /// Whose last attempt passed.
    pub passed: usize,
    /// Whose last attempt failed.
    pub failed: usize,
    /// Whose last attempt returned `skip`.
    pub skipped: usize,
    /// Not run (not reached or not selected).
    pub not_run: usize,
    /// Passed or skipped after a failed attempt.
    pub flaky: usize,
}

/// The whole run, for the reports.
pub struct RunReport<'a> {
    /// The package tested.
    pub package: &'a PackageId,
    /// Every invocation that made the run, oldest first.
    pub invocations: Vec<&'a InvocationEntry>,
    /// Every case, by round then manifest order.
    pub cases: Vec<Case<'a>>,
    /// Counts.
    pub totals: Totals,
    /// Milliseconds of every attempt.
    pub duration_ms: f64,
    /// The signal that stopped the last invocation, if one did.
    pub interrupted: Option<String>,
}

impl<'a> RunReport<'a> {
    /// Builds the report from the journal's `entries` (linear in entries and cases).
    pub fn build(package: &'a PackageId, outline: &'a Outline, entries: &'a [Entry]) -> Self {
        let mut invocations = Vec::new();
        let mut attempts: HashMap<(u32, &str), Vec<&StepEntry>> = HashMap::new();
        let mut last_step: Option<&StepEntry> = None;
        // The signal that stopped the last invocation; a later invocation clears it.
        let mut interrupted = None;
        for entry in entries {
            match entry {
                Entry::Invocation(i) => {
                    invocations.push(i);
                    interrupted = None;
                }
                Entry::Step(s) => {
                    attempts
                        .entry((s.round, s.step.as_str()))
                        .or_default()
                        .push(s);
                    last_step = Some(s);
                }
                Entry::Interrupted(i) => interrupted = Some(i.signal.as_str()),
            }
        }
        // A run resumed without a journal: what came before its first known step ran in
        // an invocation whose results were not kept.
        let unknown_before = invocations
            .first()
            .and_then(|i| i.resumed_at)
            .unwrap_or((1, 0));
        let stopped = match (interrupted, last_step) {
            (None, Some(s)) if s.round == 0 => format!("not reached: {} failed", s.step),
            (Some(signal), Some(s)) => format!(
                "not reached: the run was stopped by {signal} after round {}, step {}",
                s.round, s.step
            ),
            (Some(signal), None) => {
                format!("not reached: the run was stopped by {signal} before any step ended")
            }
            (None, Some(s)) if s.status == Status::Failed => format!(
                "not reached: the run stopped at round {}, step {} (failed)",
                s.round, s.step
            ),
            (None, Some(s)) => format!(
                "not reached: the run stopped after round {}, step {}",
                s.round, s.step
            ),
            (None, None) => "not reached: no step ran".to_owned(),
        };
        let mut cases = Vec::with_capacity(outline.max_rounds as usize * outline.steps.len() + 1);
        let mut totals = Totals::default();
        let mut duration_ms = 0.0;
        // `post-load` is a case (round 0) only when it failed: it is then why nothing ran.
        let post_load: Option<&'a str> = attempts
            .keys()
            .find(|(round, _)| *round == 0)
            .map(|(_, step)| *step);
        let cells = post_load.into_iter().map(|step| (0, 0, step, "")).chain(
            (1..=outline.max_rounds).flat_map(|round| {
                outline
                    .steps
                    .iter()
                    .enumerate()
                    .map(move |(i, (step, worker))| (round, i, step.as_str(), worker.as_str()))
            }),
        );
        for (round, index, step, worker) in cells {
            let tries = attempts.remove(&(round, step)).unwrap_or_default();
            let (status, reason) = match tries.last().map(|a| a.status) {
                Some(Status::Passed) => (CaseStatus::Passed, None),
                Some(Status::Skipped) => (CaseStatus::Skipped, None),
                Some(Status::Failed) => (CaseStatus::Failed, None),
                None if outline.selection.as_ref().is_some_and(|s| !s(round, step)) => {
                    (CaseStatus::NotRun, Some("not selected".to_owned()))
                }
                None if (round, index) < unknown_before => (
                    CaseStatus::NotRun,
                    Some(
                        "completed by an earlier invocation whose results were not kept".to_owned(),
                    ),
                ),
                None => (CaseStatus::NotRun, Some(stopped.clone())),
            };
            let case = Case {
                round,
                step,
                worker,
                status,
                reason,
                attempts: tries,
            };
            totals.tests += 1;
            match status {
                CaseStatus::Passed => totals.passed += 1,
                CaseStatus::Skipped => totals.skipped += 1,
                CaseStatus::Failed => totals.failed += 1,
                CaseStatus::NotRun => totals.not_run += 1,
            }
            totals.flaky += usize::from(case.is_flaky());
            duration_ms += case.duration_ms();
            cases.push(case);
        }
        RunReport {
            package,
            invocations,
            cases,
            totals,
            duration_ms,
            interrupted: interrupted.map(str::to_owned),
        }
    }

    /// True when no case's last attempt failed.
    pub fn is_passed(&self) -> bool {
        self.totals.failed == 0
    }

    /// True when the run was continued by a later invocation (resumed at least once).
    pub fn resumed(&self) -> bool {
        self.invocations.iter().any(|i| i.resumed_at.is_some())
    }

    /// `failed` when a case's last attempt failed, else `interrupted` when a signal stopped
    /// the last invocation, else `passed`.
    pub fn outcome(&self) -> &'static str {
        if !self.is_passed() {
            "failed"
        } else if self.interrupted.is_some() {
            "interrupted"
        } else {
            "passed"
        }
    }

    /// One line on how the run was made: "1 invocation" or "3 invocations (resumed 2×)".
    pub fn history_line(&self) -> String {
        let n = self.invocations.len().max(1);
        let resumes = self
            .invocations
            .iter()
            .filter(|i| i.resumed_at.is_some())
            .count();
        match (n, resumes) {
            (1, 0) => "1 invocation".to_owned(),
            (n, 0) => format!("{n} invocations"),
            (n, r) => format!(
                "{n} invocation{} (resumed {r}×)",
                if n == 1 { "" } else { "s" }
            ),
        }
    }

    /// The cases whose last attempt failed.
    pub fn failures(&self) -> impl Iterator<Item = &Case<'a>> {
        self.cases.iter().filter(|c| c.status == CaseStatus::Failed)
    }
}
