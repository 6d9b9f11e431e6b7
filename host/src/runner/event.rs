//! [`RunEvent`]s: what the runner reports while it runs, to a [`RunObserver`] (the
//! terminal reporter, report writers, tests recording them).

use std::fmt;
use std::time::Duration;

use crate::model::{HostCall, LogLevel, StepFailure, StepOutcome};

/// The name [`RunEvent::StepLogged`] carries for lines written by the package's
/// `post-load` export, which is not a step of the manifest.
pub const POST_LOAD_STEP: &str = "post-load";

/// Where a run starts, as decided by [`plan_start`](super::plan_start).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResumePoint {
    /// A new run from round 1 with an empty state; the caller seeds the data and runs
    /// `post-load` first.
    Fresh {
        /// Why: "no saved state", "--reset", or that the previous run had completed.
        reason: String,
    },
    /// Continues a saved run.
    Resumed {
        /// The round the run continues in.
        round: u32,
        /// The last completed step of that round; `None` when the round starts from its
        /// first step.
        after_step: Option<String>,
    },
    /// A selective run (`--step`, `--from`, `--to`, `--round(s)`): the chosen steps run on
    /// a working copy of a state, and the saved resume point is not moved.
    Selected {
        /// The flags, as given (`--step submit-* --round 2`).
        selection: String,
        /// The state the steps start from: "the saved state (round 2 after step x)",
        /// "a fresh state (no saved state)".
        base: String,
    },
}

impl fmt::Display for ResumePoint {
    /// One line for the run banner.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResumePoint::Fresh { reason } => write!(f, "starting a fresh run ({reason})"),
            ResumePoint::Resumed {
                round,
                after_step: Some(step),
            } => write!(f, "resuming round {round} after step {step}"),
            ResumePoint::Resumed {
                round,
                after_step: None,
            } => write!(f, "resuming at the start of round {round}"),
            ResumePoint::Selected { selection, base } => write!(
                f,
                "selective run ({selection}) on a working copy of {base}; the saved resume point is not moved"
            ),
        }
    }
}

/// Something that happened during a run, in the order it happened.
#[derive(Debug, Clone, PartialEq)]
pub enum RunEvent {
    /// The run started.
    RunStarted {
        /// The test's number of rounds.
        max_rounds: u32,
        /// Steps per round.
        steps: usize,
        /// Fresh or resumed, and where.
        resume: ResumePoint,
    },
    /// The package's `post-load` export started (fresh runs only).
    PostLoadStarted,
    /// `post-load` returned `ok`.
    PostLoadFinished {
        /// How long it ran.
        duration: Duration,
    },
    /// A round started (also when resumed in its middle).
    RoundStarted {
        /// The round, from 1.
        round: u32,
        /// The test's number of rounds.
        max_rounds: u32,
    },
    /// A step started.
    StepStarted {
        /// The round, from 1.
        round: u32,
        /// The step's position in the round, from 0 (show `index + 1` of `total`).
        index: usize,
        /// Steps per round.
        total: usize,
        /// The step's name.
        step: String,
        /// The step's one-line description.
        description: String,
        /// The worker it runs against.
        worker: String,
    },
    /// A step (or `post-load`, named [`POST_LOAD_STEP`]) wrote a line.
    StepLogged {
        /// The round, from 1.
        round: u32,
        /// The step's name.
        step: String,
        /// The line's severity.
        level: LogLevel,
        /// The line, without a trailing newline.
        message: String,
    },
    /// A step (or `post-load`) made a host call ([`HostCall`]), after it returned.
    HostCalled {
        /// The round, from 1.
        round: u32,
        /// The step's name.
        step: String,
        /// The call.
        call: HostCall,
    },
    /// A step completed (done or skipped) and its state was saved.
    StepFinished {
        /// The round, from 1.
        round: u32,
        /// The step's name.
        step: String,
        /// The worker it ran against.
        worker: String,
        /// Done with a value, or skipped with a reason.
        outcome: StepOutcome,
        /// How long the step ran (saving excluded).
        duration: Duration,
    },
    /// A step failed; the run stops after this event.
    StepFailed {
        /// The round, from 1.
        round: u32,
        /// The step's name.
        step: String,
        /// The worker it ran against.
        worker: String,
        /// The error or trap.
        failure: StepFailure,
        /// How long the step ran.
        duration: Duration,
    },
    /// The failed step's host calls were written to a recording; follows its
    /// [`RunEvent::StepFailed`]. Reporters name the file and [`replay_command`].
    StepRecorded {
        /// The round, from 1.
        round: u32,
        /// The step's name.
        step: String,
        /// The recording file.
        path: std::path::PathBuf,
    },
    /// A fault of the test's `faults:` schedule (or one a step asked for) was applied on
    /// purpose, or a network fault's time ran out.
    FaultApplied {
        /// The round, from 1.
        round: u32,
        /// The step it came before or after (or that applied it); `None` at the round's
        /// start.
        step: Option<String>,
        /// When, relative to the step.
        when: FaultWhen,
        /// The worker it acted on.
        worker: String,
        /// What was done, e.g. `killed worker1 (pid 123)` or
        /// `network worker1: latency 300 ms, until the round ends`.
        fault: String,
    },
    /// Every step of the round completed.
    RoundFinished {
        /// The round, from 1.
        round: u32,
    },
}

/// When a [`RunEvent::FaultApplied`] happened, relative to its step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultWhen {
    /// Before the round's first step.
    RoundStart,
    /// Before the step started.
    Before,
    /// After the step completed.
    After,
    /// A network fault ended: its `for:` ran out (step, round or run).
    Ended,
    /// The step applied it itself, through the `prometheus:step/faults` interface.
    FromStep,
}

impl fmt::Display for FaultWhen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FaultWhen::RoundStart => "round start",
            FaultWhen::Before => "before",
            FaultWhen::After => "after",
            FaultWhen::Ended => "ended",
            FaultWhen::FromStep => "from step",
        })
    }
}

/// The command that replays `step` of `round` from the recording at `path`, quoted for a
/// POSIX shell.
pub fn replay_command(path: &std::path::Path, step: &str, round: u32) -> String {
    format!(
        "prometheus-wasm replay {} --step {} --round {round}",
        shell_word(&path.display().to_string()),
        shell_word(step)
    )
}

/// `--step STEP --round N`: the flags that select one step of one round, shell-quoted.
pub fn select_args(step: &str, round: u32) -> String {
    format!("--step {} --round {round}", shell_word(step))
}

/// `word` as one shell word (quoted by shlex when it needs it; a word shlex cannot quote,
/// one with a NUL, is shown in single quotes as it is).
pub fn shell_word(word: &str) -> String {
    shlex::try_quote(word).map_or_else(
        |_| format!("'{}'", word.replace('\'', "'\\''")),
        |quoted| quoted.into_owned(),
    )
}

/// Receives [`RunEvent`]s as they happen. Called from the runner's task; keep it quick.
pub trait RunObserver: Send + Sync {
    /// One event.
    fn event(&self, event: &RunEvent);
}
