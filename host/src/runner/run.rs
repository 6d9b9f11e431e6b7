//! [`run`]: the rounds and steps of one invocation, a checkpoint after every completed
//! step; [`post_load`]: the package's `post-load` export after a fresh start.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::model::{HostCall, LogLevel, StepFailure, StepOutcome};
use crate::plugin::{StepInfo, StepLog, Steps};
use crate::store::{Checkpoint, RunState};

use super::plan::{Position, check_test, position};
use super::{
    POST_LOAD_STEP, ResumePoint, RunError, RunEvent, RunObserver, RunOptions, RunOutcome,
    RunSummary, StepRecord, StepStatus,
};

/// Runs the test from where `state` stands to the end of round `options.max_rounds`, or
/// to the first failed step.
///
/// `state` and `resume` come from [`plan_start`](super::plan_start) (after
/// [`post_load`] on a fresh start); the position is read from `state`, `resume` is
/// reported in [`RunEvent::RunStarted`] and, when fresh, makes the runner save the fresh
/// state before the first step, so that a stale file from an earlier run can never be
/// resumed into the new one.
///
/// Each step runs on the state: when it completes (done or skipped), the state records it
/// as `last_completed_step` (after a round's last step, except in the last round: the next
/// round with no step completed) and the step is saved through
/// [`Checkpoint::save_step`] with the keys it set, before the run goes on; after a round,
/// [`Checkpoint::round_finished`]. When a step fails, the run ends without saving: the
/// checkpoint holds the state as of the last completed step, none of the failed step's
/// `set`s, and a later run re-runs the failed step.
///
/// A failed step is `Ok` with [`RunOutcome::Failed`]; `Err` means the run could not go
/// on (a state that does not fit the test, or a checkpoint that could not be saved).
pub async fn run<S: Steps, C: Checkpoint>(
    steps: &S,
    checkpoint: &mut C,
    state: RunState,
    resume: ResumePoint,
    options: &RunOptions,
    observer: Arc<dyn RunObserver>,
) -> Result<RunSummary, RunError> {
    let started = Instant::now();
    let manifest = steps.manifest();
    let max_rounds = options.max_rounds;
    check_test(manifest, max_rounds)?;
    let (first_round, mut first_index) = match position(&state, manifest, max_rounds)? {
        Position::At { round, index } => (round, index),
        Position::Completed => return Err(RunError::AlreadyCompleted { max_rounds }),
    };
    let mut state = state;
    if matches!(resume, ResumePoint::Fresh { .. }) {
        checkpoint
            .save(&state)
            .map_err(|source| RunError::Checkpoint {
                round: state.current_round,
                step: None,
                source,
            })?;
    }
    observer.event(&RunEvent::RunStarted {
        max_rounds,
        steps: manifest.len(),
        resume,
    });

    let mut summary = RunSummary::new();
    for round in first_round..=max_rounds {
        observer.event(&RunEvent::RoundStarted { round, max_rounds });
        summary.rounds_run.push(round);
        for (index, step) in manifest.iter().enumerate().skip(first_index) {
            // The step changes the state in place (no copy: a copy costs the whole state
            // per step). A failed step's writes never reach the checkpoint: the run ends
            // there, and the checkpoint holds the state as of the last completed step.
            let (result, duration) = attempt(steps, index, round, &mut state, &observer).await;
            let outcome = match result {
                Ok(outcome) => outcome,
                Err(failure) => {
                    record_failure(&mut summary, round, step, failure, duration, started);
                    return Ok(summary);
                }
            };

            state.last_completed_step = Some(step.name.clone());
            if index + 1 == manifest.len() && round < max_rounds {
                // Advance in the same write, so no saved state sits between two rounds.
                state.current_round = round + 1;
                state.last_completed_step = None;
            }
            let changes = state.take_changes();
            checkpoint
                .save_step(&state, round, &step.name, &changes)
                .map_err(|source| RunError::Checkpoint {
                    round,
                    step: Some(step.name.clone()),
                    source,
                })?;

            record_finished(&mut summary, &*observer, round, step, outcome, duration);
        }
        checkpoint
            .round_finished(&state, round == max_rounds)
            .map_err(|source| RunError::Checkpoint {
                round,
                step: None,
                source,
            })?;
        observer.event(&RunEvent::RoundFinished { round });
        first_index = 0;
    }
    summary.total_duration = started.elapsed();
    Ok(summary)
}

/// Announces step `index` of `round`, runs it on `state` and, when it fails, reports the
/// failure and where it was recorded. The caller records the outcome: shared by whole and
/// selective runs.
pub(super) async fn attempt<S: Steps>(
    steps: &S,
    index: usize,
    round: u32,
    state: &mut RunState,
    observer: &Arc<dyn RunObserver>,
) -> (Result<StepOutcome, StepFailure>, Duration) {
    let manifest = steps.manifest();
    let step = &manifest[index];
    observer.event(&RunEvent::StepStarted {
        round,
        index,
        total: manifest.len(),
        step: step.name.clone(),
        description: step.description.clone(),
        worker: step.worker.clone(),
    });
    state.current_round = round;
    state.take_changes();
    let log = Arc::new(ObserverLog {
        observer: Arc::clone(observer),
        round,
        step: step.name.clone(),
        recording: Mutex::default(),
        ended: Mutex::default(),
    });
    let step_started = Instant::now();
    let result = steps.run_step(step, state, log.clone()).await;
    // Up to where the step's own work ended (`StepLog::ended`), not what a wrapper waited
    // after it.
    let ended = log.ended.lock().unwrap_or_else(|e| e.into_inner()).take();
    let duration = ended
        .unwrap_or_else(Instant::now)
        .saturating_duration_since(step_started);
    if let Err(failure) = &result {
        log.report_failure(step, failure, duration);
    }
    (result, duration)
}

/// Reports `step` of `round` as completed (done or skipped) and records it.
pub(super) fn record_finished(
    summary: &mut RunSummary,
    observer: &dyn RunObserver,
    round: u32,
    step: &StepInfo,
    outcome: StepOutcome,
    duration: Duration,
) {
    let status = match &outcome {
        StepOutcome::Done(_) => StepStatus::Passed,
        StepOutcome::Skipped(reason) => StepStatus::Skipped(reason.clone()),
    };
    observer.event(&RunEvent::StepFinished {
        round,
        step: step.name.clone(),
        worker: step.worker.clone(),
        outcome,
        duration,
    });
    summary.record(StepRecord {
        round,
        step: step.name.clone(),
        worker: step.worker.clone(),
        status,
        duration,
    });
}

/// Records `step`'s failure in `round` as the run's outcome: the run ends there.
pub(super) fn record_failure(
    summary: &mut RunSummary,
    round: u32,
    step: &StepInfo,
    failure: StepFailure,
    duration: Duration,
    started: Instant,
) {
    summary.record(StepRecord {
        round,
        step: step.name.clone(),
        worker: step.worker.clone(),
        status: StepStatus::Failed(failure.clone()),
        duration,
    });
    summary.outcome = RunOutcome::Failed {
        round,
        step: step.name.clone(),
        worker: step.worker.clone(),
        failure,
    };
    summary.total_duration = started.elapsed();
}

/// Runs the package's `post-load` export once (after seeding, on a fresh start), with
/// [`RunEvent::PostLoadStarted`], its lines as [`RunEvent::StepLogged`] under the name
/// [`POST_LOAD_STEP`], and [`RunEvent::PostLoadFinished`] when it succeeds.
///
/// Its `set`s reach `state` only when it succeeds. The caller reports a failure; nothing is
/// saved here ([`run`] saves the fresh state before the first step).
pub async fn post_load<S: Steps>(
    steps: &S,
    state: &mut RunState,
    observer: Arc<dyn RunObserver>,
) -> Result<(), StepFailure> {
    observer.event(&RunEvent::PostLoadStarted);
    let log = Arc::new(ObserverLog {
        observer: Arc::clone(&observer),
        round: state.current_round,
        step: POST_LOAD_STEP.to_owned(),
        recording: Mutex::default(),
        ended: Mutex::default(),
    });
    let mut working = state.clone();
    let started = Instant::now();
    steps.post_load(&mut working, log).await?;
    *state = working;
    observer.event(&RunEvent::PostLoadFinished {
        duration: started.elapsed(),
    });
    Ok(())
}

/// Forwards a step's lines to the observer as [`RunEvent::StepLogged`], and keeps where
/// its recording went until the step's end is reported.
struct ObserverLog {
    observer: Arc<dyn RunObserver>,
    round: u32,
    step: String,
    recording: Mutex<Option<PathBuf>>,
    /// When the step's own work ended, if a wrapper said so ([`StepLog::ended`]).
    ended: Mutex<Option<Instant>>,
}

impl ObserverLog {
    /// Reports the step's failure, and then where its recording went if it was kept.
    fn report_failure(&self, step: &StepInfo, failure: &StepFailure, duration: Duration) {
        self.observer.event(&RunEvent::StepFailed {
            round: self.round,
            step: step.name.clone(),
            worker: step.worker.clone(),
            failure: failure.clone(),
            duration,
        });
        let recording = self
            .recording
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(path) = recording {
            self.observer.event(&RunEvent::StepRecorded {
                round: self.round,
                step: step.name.clone(),
                path,
            });
        }
    }
}

impl StepLog for ObserverLog {
    fn line(&self, level: LogLevel, message: &str) {
        self.observer.event(&RunEvent::StepLogged {
            round: self.round,
            step: self.step.clone(),
            level,
            message: message.to_owned(),
        });
    }

    fn call(&self, call: &HostCall) {
        self.observer.event(&RunEvent::HostCalled {
            round: self.round,
            step: self.step.clone(),
            call: call.clone(),
        });
    }

    fn recorded(&self, path: &Path) {
        *self.recording.lock().unwrap_or_else(|e| e.into_inner()) = Some(path.to_path_buf());
    }

    fn ended(&self) {
        self.ended
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_or_insert_with(Instant::now);
    }
}
