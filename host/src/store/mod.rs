//! What is persisted between runs.
//!
//! [`state`] holds [`RunState`], the runner variables in the Python runner's
//! `test_state.json` shape, and [`StateFile`], which reads it and replaces it atomically;
//! the runner saves through the [`Checkpoint`] trait so it can be tested in memory.
//! [`limits`] holds the shape limits (nesting, document size) that keep what is written
//! readable by the next run.
//! This module never imports `plugin` or `runner`.

mod error;
pub mod limits;
pub mod state;
mod state_file;

pub use error::StateError;
pub use state::{RunState, Scope};
pub use state_file::{BROKEN_FILE_NAME, Checkpoint, STATE_FILE_NAME, StateFile};
pub mod mongo;
