//! [`StateError`]: why reading, changing or writing the run state failed.

use std::io;
use std::path::{Path, PathBuf};

use crate::error::UserFacing;

/// What [`StateError::hint`] says for a state file that cannot be used as it is.
const RESET_HINT: &str =
    "run with --reset to start fresh (the broken file is kept as test_state.json.broken)";

/// Why reading, changing or writing the run state failed.
///
/// File errors carry the state file's path; key errors carry the key as the step wrote it.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// A key passed to [`RunState::set`](super::RunState::set) is empty or has an empty
    /// segment (`"a..b"`, `".a"`, `"a."`).
    #[error("invalid state key {key:?}: {reason}")]
    InvalidKey {
        /// The key as given.
        key: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A key names one of the runner's own execution keys (`current_round`,
    /// `last_completed_step`), which a step cannot set: `get` would never read it back.
    #[error("state key {key:?} is kept by the runner and cannot be set by a step")]
    ReservedKey {
        /// The key as given.
        key: String,
    },
    /// The key's parts and the value's nesting together are deeper than
    /// [`MAX_NESTING`](super::limits::MAX_NESTING): the state file would not be readable
    /// by the next run, and walking it would risk the host's stack.
    #[error(
        "cannot set state key {key:?}: its {parts} part(s) and the value's {depth} level(s) of \
         nesting are {} together, more than {max}",
        .parts + .depth
    )]
    TooDeep {
        /// The key as given, shortened for the message.
        key: String,
        /// Parts of the dotted key.
        parts: usize,
        /// Nesting depth of the value.
        depth: usize,
        /// The limit.
        max: usize,
    },
    /// A dot-notation key walks through a value that is not an object.
    #[error("cannot set state key {key:?}: {at:?} holds {found}, not an object")]
    NotAnObject {
        /// The key as given.
        key: String,
        /// The part of the path that holds the non-object, e.g. `rounds.2.urls`.
        at: String,
        /// The JSON type found there (`"a string"`, `"an array"`, ...).
        found: &'static str,
    },
    /// The state file exists but could not be read.
    #[error("cannot read state file {}", path.display())]
    Read {
        /// The state file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// The state file is not JSON, or not JSON of the state's shape.
    #[error("invalid state file {}:{line}:{column}: {message}", path.display())]
    Malformed {
        /// The state file.
        path: PathBuf,
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error (0 when the file ended early on an empty line).
        column: usize,
        /// What the JSON parser found wrong, without its position.
        message: String,
    },
    /// The state could not be written (temp file, write, fsync, rename or directory).
    #[error("cannot write state file {}", path.display())]
    Write {
        /// The state file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// The checkpoint journal is damaged before its last line (a torn last line is not an
    /// error: it is a step that did not complete).
    #[error("damaged checkpoint journal {}{}: {reason}", path.display(), line_suffix(*line))]
    JournalDamaged {
        /// The journal.
        path: PathBuf,
        /// 1-based line of the damage, 0 when no one line is to blame.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// The checkpoint journal was written by a newer prometheus-wasm, in a format this one
    /// does not know.
    #[error(
        "checkpoint journal {} has format version {found}, this prometheus-wasm reads up to version {supported}",
        path.display()
    )]
    JournalVersion {
        /// The journal.
        path: PathBuf,
        /// The version in its header.
        found: u32,
        /// The newest version this build reads.
        supported: u32,
    },
    /// A broken state file could not be renamed out of the way.
    #[error("cannot move broken state file {} to {}", path.display(), to.display())]
    SetAside {
        /// The state file.
        path: PathBuf,
        /// Where it was to go.
        to: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
}

impl StateError {
    /// The state file the error is about, if it is about a file.
    pub fn path(&self) -> Option<&Path> {
        match self {
            StateError::Read { path, .. }
            | StateError::Malformed { path, .. }
            | StateError::Write { path, .. }
            | StateError::SetAside { path, .. }
            | StateError::JournalDamaged { path, .. }
            | StateError::JournalVersion { path, .. } => Some(path),
            StateError::InvalidKey { .. }
            | StateError::ReservedKey { .. }
            | StateError::TooDeep { .. }
            | StateError::NotAnObject { .. } => None,
        }
    }
}

impl UserFacing for StateError {
    fn hint(&self) -> Option<String> {
        let hint: Option<&str> = match self {
            StateError::Malformed { .. } => Some(RESET_HINT),
            StateError::InvalidKey { .. } => {
                Some("use keys like \"name\" or \"parent.child\", without empty parts")
            }
            StateError::ReservedKey { .. } => Some(
                "read it with state.current-round or get; store your own value under another key",
            ),
            StateError::NotAnObject { .. } => {
                Some("store the value under another key, or set the parent to an object first")
            }
            StateError::JournalDamaged { .. } => Some(
                "run with --reset to start fresh, or move test_state.journal away to resume from test_state.json as of its last compaction",
            ),
            StateError::JournalVersion { .. } => Some(
                "resume with the newer prometheus-wasm that wrote it, or run with --reset to start fresh",
            ),
            StateError::TooDeep { .. } => Some(
                "flatten the key or the value (MongoDB allows 100 levels too), or store deep data as a JSON string",
            ),
            StateError::Read { .. } | StateError::Write { .. } | StateError::SetAside { .. } => {
                Some("check that the data_dir exists and is writable")
            }
        };
        hint.map(str::to_owned)
    }
}

/// `:LINE` for an error's location, nothing for line 0.
fn line_suffix(line: usize) -> String {
    if line == 0 {
        String::new()
    } else {
        format!(":{line}")
    }
}
