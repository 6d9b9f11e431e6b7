//! Where a run starts: [`plan_start`] decides, without side effects, between a fresh run
//! and resuming the saved one, and refuses saved states that no longer fit the test.

use std::collections::HashSet;

use crate::plugin::StepInfo;
use crate::store::RunState;

use super::error::plural_rounds;
use super::{ResumePoint, RunError};

/// What the user asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunOptions {
    /// Rounds in the test (from config, or the rounds collection's count + 1).
    pub max_rounds: u32,
    /// Start over even when a saved state could be resumed (`--reset`).
    pub reset: bool,
}

/// Where the next step to run is, for a state that fits the test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Position {
    /// Run from step `index` (0-based) of `round`.
    At { round: u32, index: usize },
    /// The state's run completed every round; nothing is left.
    Completed,
}

/// Decides how a run starts from the saved state `existing` (`None` when there is no
/// state file, or the caller set a broken one aside).
///
/// - `options.reset` or no saved state: a fresh [`RunState::default`] (round 1, always:
///   the Python runner's `--reset` kept the old round counter).
/// - A saved run that completed every round: fresh, with the reason (never a run of zero
///   steps that passes).
/// - Otherwise resume at the saved round after `last_completed_step`; with no completed
///   step, from the round's first step. A state saved after a round's last step but before
///   moving on (the reference wrote those) resumes at the next round's first step.
///
/// Errors when the manifest is empty or has duplicate names, `max_rounds` is 0, the saved
/// step is not in the manifest ([`RunError::StepsChanged`]) or the saved round is 0 or past
/// `max_rounds` ([`RunError::RoundOutOfRange`]).
pub fn plan_start(
    existing: Option<RunState>,
    manifest: &[StepInfo],
    options: &RunOptions,
) -> Result<(RunState, ResumePoint), RunError> {
    check_test(manifest, options.max_rounds)?;
    let fresh = |reason: String| Ok((RunState::default(), ResumePoint::Fresh { reason }));
    if options.reset {
        return fresh("--reset".to_owned());
    }
    let Some(mut state) = existing else {
        return fresh("no saved state".to_owned());
    };
    match position(&state, manifest, options.max_rounds)? {
        Position::Completed => fresh(format!(
            "the previous run completed all {}",
            plural_rounds(options.max_rounds)
        )),
        Position::At { round, index } => {
            if round != state.current_round {
                // Record the move to the next round now, so the state handed to the steps
                // and the resume point agree.
                state.current_round = round;
                state.last_completed_step = None;
            }
            let after_step = index.checked_sub(1).map(|last| manifest[last].name.clone());
            Ok((state, ResumePoint::Resumed { round, after_step }))
        }
    }
}

/// Refuses a test that cannot run: no steps, no rounds, or step names that resume could
/// confuse.
pub(super) fn check_test(manifest: &[StepInfo], max_rounds: u32) -> Result<(), RunError> {
    if manifest.is_empty() {
        return Err(RunError::EmptyManifest);
    }
    if max_rounds == 0 {
        return Err(RunError::NoRounds);
    }
    let mut seen = HashSet::new();
    for step in manifest {
        if !seen.insert(step.name.as_str()) {
            return Err(RunError::DuplicateStep {
                step: step.name.clone(),
            });
        }
    }
    Ok(())
}

/// Where `state` says the run continues, checked against the manifest and `max_rounds`.
pub(super) fn position(
    state: &RunState,
    manifest: &[StepInfo],
    max_rounds: u32,
) -> Result<Position, RunError> {
    let index = match &state.last_completed_step {
        None => 0,
        Some(step) => {
            let found = manifest.iter().position(|info| &info.name == step);
            let Some(found) = found else {
                return Err(RunError::StepsChanged {
                    step: step.clone(),
                    steps: manifest.iter().map(|info| info.name.clone()).collect(),
                });
            };
            found + 1
        }
    };
    let round = state.current_round;
    if round == 0 || round > max_rounds {
        return Err(RunError::RoundOutOfRange { round, max_rounds });
    }
    Ok(if index < manifest.len() {
        Position::At { round, index }
    } else if round < max_rounds {
        Position::At {
            round: round + 1,
            index: 0,
        }
    } else {
        Position::Completed
    })
}
