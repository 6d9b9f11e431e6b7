//! [`RunError`]: why the runner could not start or go on (not a step failure: those end
//! the run normally, as [`super::RunOutcome::Failed`]).

use crate::error::UserFacing;
use crate::store::StateError;

/// The hint for a saved state that does not fit the test any more.
const RESET_HINT: &str = "run with --reset to start over";

/// Why the runner could not start or go on.
///
/// Steps that fail are not errors here: they end the run with a
/// [`RunSummary`](super::RunSummary) whose outcome is failed. These are problems with the
/// package, the saved state or the state file.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The package's manifest lists no steps.
    #[error("the step package declares no steps")]
    EmptyManifest,
    /// `max_rounds` is 0.
    #[error("the test has 0 rounds")]
    NoRounds,
    /// Two steps share a name; resume finds steps by name, so it would be ambiguous.
    #[error("step {step:?} appears more than once in the manifest")]
    DuplicateStep {
        /// The repeated name.
        step: String,
    },
    /// The saved state's `last_completed_step` is not a step of the manifest.
    #[error(
        "state file says the last completed step is {step:?}, which is not a step of this test (steps: {})",
        steps.join(", ")
    )]
    StepsChanged {
        /// The saved step name.
        step: String,
        /// The manifest's step names, in order.
        steps: Vec<String>,
    },
    /// The saved state's `current_round` is 0 or past the test's last round.
    #[error("state file says round {round} but the test has {}", plural_rounds(*max_rounds))]
    RoundOutOfRange {
        /// The saved round.
        round: u32,
        /// The test's number of rounds.
        max_rounds: u32,
    },
    /// [`run`](super::run()) was given a state whose run already completed every round;
    /// [`plan_start`](super::plan_start) turns such a state into a fresh start.
    #[error("the state says all {} already completed", plural_rounds(*max_rounds))]
    AlreadyCompleted {
        /// The test's number of rounds.
        max_rounds: u32,
    },
    /// The state could not be saved; the run stops, since a later resume would repeat
    /// steps silently.
    #[error("{}", checkpoint_message(*round, step.as_deref()))]
    Checkpoint {
        /// The round whose state was being saved.
        round: u32,
        /// The step that had just completed; `None` for the state saved at a fresh start.
        step: Option<String>,
        /// Why saving failed (names the state file).
        #[source]
        source: StateError,
    },
}

impl UserFacing for RunError {
    fn hint(&self) -> Option<String> {
        let hint: Option<&str> = match self {
            RunError::EmptyManifest => Some("return at least one step from the package's manifest"),
            RunError::NoRounds => Some("set max_rounds to 1 or more in config.yaml"),
            RunError::DuplicateStep { .. } => {
                Some("give each step its own name: a resumed run finds its place by step name")
            }
            RunError::StepsChanged { .. } => {
                Some("the steps changed since the saved run; run with --reset to start over")
            }
            RunError::RoundOutOfRange { .. } | RunError::AlreadyCompleted { .. } => {
                Some(RESET_HINT)
            }
            RunError::Checkpoint { source, .. } => return source.hint(),
        };
        hint.map(str::to_owned)
    }
}

/// "1 round", "3 rounds".
pub(super) fn plural_rounds(count: u32) -> String {
    if count == 1 {
        "1 round".to_owned()
    } else {
        format!("{count} rounds")
    }
}

fn checkpoint_message(round: u32, step: Option<&str>) -> String {
    match step {
        Some(step) => format!("cannot save the run state after step {step:?} of round {round}"),
        None => format!("cannot save the fresh run state (round {round})"),
    }
}
