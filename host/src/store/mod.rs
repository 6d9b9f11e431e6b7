//! What is persisted between runs.
//!
//! [`state`] holds [`RunState`], the runner variables in the Python runner's
//! `test_state.json` shape; [`StateFile`] reads it (replaying the checkpoint [`journal`]
//! beside it) and replaces it atomically; the runner saves through the [`Checkpoint`]
//! trait ([`JournalCheckpoint`]: one journal append per step) so it can be tested in memory.
//! [`limits`] holds the shape limits (nesting, document size) that keep what is written
//! readable by the next run.
//! This module never imports `plugin` or `runner`.

mod checkpoint;
mod error;
pub mod journal;
pub mod limits;
pub mod state;
mod state_file;

pub use checkpoint::{Checkpoint, JournalCheckpoint};
pub use error::StateError;
pub use journal::{JOURNAL_FILE_NAME, JOURNAL_VERSION, STALE_JOURNAL_FILE_NAME};
pub use state::{ChangedKey, RunState, Scope};
pub use state_file::{BROKEN_FILE_NAME, Recovered, STATE_FILE_NAME, StateFile};
pub mod mongo;
