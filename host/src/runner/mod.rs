//! The runner: rounds, step order, resume, `--reset`, outcomes, a checkpoint per step.
//!
//! Start from [`plan_start`] (fresh or resumed, from the saved [`RunState`](crate::store::RunState)),
//! then [`post_load`] on a fresh start, then [`run()`], which drives any
//! [`Steps`](crate::plugin::Steps) implementation, saves through a
//! [`Checkpoint`](crate::store::Checkpoint) after every completed step, reports
//! [`RunEvent`]s to a [`RunObserver`] and returns a [`RunSummary`].
//!
//! ```text
//! saved state --plan_start--> (state, ResumePoint) --post_load?--> run --> RunSummary
//!                                                                   |--> RunEvent* --> observer
//!                                                                   '--> Checkpoint::save per step
//! ```
//!
//! Works through traits only: it never imports wasmtime, reqwest, mongodb,
//! `tokio::process` or `report`.

mod error;
mod event;
mod plan;
mod run;
mod select;
mod summary;

pub use error::RunError;
pub use event::{
    FaultWhen, POST_LOAD_STEP, ResumePoint, RunEvent, RunObserver, replay_command, select_args,
    shell_word,
};
pub use plan::{RunOptions, plan_start};
pub use run::{post_load, run};
pub use select::{SelectError, SelectSpec, Selection, run_selected};
pub use summary::{RunOutcome, RunSummary, StepRecord, StepStatus};

#[cfg(test)]
mod tests;
