//! [`StateFile`]: `data_dir/test_state.json` and the checkpoint journal beside it: read at
//! start (the file, then the journal's steps replayed), replaced atomically when the
//! journal is compacted into it.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::journal::{self, JOURNAL_FILE_NAME, STALE_JOURNAL_FILE_NAME};
use super::{RunState, StateError};
use crate::bounded_read;
use crate::crash_point::crash_point;

/// The state file's name inside `data_dir`, as the reference named it.
pub const STATE_FILE_NAME: &str = "test_state.json";
/// Where [`StateFile::set_aside_broken`] moves an unreadable state file.
pub const BROKEN_FILE_NAME: &str = "test_state.json.broken";
/// The prefixes of the temp files an atomic replace writes; leftovers of a killed run are
/// removed by the next save.
pub(super) const TEMP_PREFIXES: [&str; 2] = [".test_state.json.", ".test_state.journal."];
/// The suffix of those temp files.
const TEMP_SUFFIX: &str = ".tmp";
/// The mode of a new state file before the umask, as `File::create` and the reference's
/// `open(path, "w")` give; an existing file keeps its own mode.
#[cfg(unix)]
const NEW_FILE_MODE: u32 = 0o666;

/// The state file of one test: `data_dir/test_state.json`, with its journal
/// `data_dir/test_state.journal`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateFile {
    path: PathBuf,
}

/// What [`StateFile::recover`] found.
#[derive(Debug, Default)]
pub struct Recovered {
    /// The saved state, journal replayed; `None` when there is no state file.
    pub state: Option<RunState>,
    /// Steps replayed from the journal.
    pub replayed: usize,
    /// Whether the journal's last record was cut short by a crash (that step re-runs).
    pub torn_tail: bool,
    /// Where a journal that does not extend the state file was moved.
    pub set_aside: Option<PathBuf>,
}

impl StateFile {
    /// The state file in `data_dir` (nothing is read or created yet).
    pub fn new(data_dir: &Path) -> Self {
        StateFile {
            path: data_dir.join(STATE_FILE_NAME),
        }
    }

    /// Where the state lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The checkpoint journal beside the state file.
    pub fn journal_path(&self) -> PathBuf {
        self.dir().join(JOURNAL_FILE_NAME)
    }

    /// Reads the saved state, journal replayed; `Ok(None)` when there is no file (a first
    /// run). See [`StateFile::recover`].
    pub fn load(&self) -> Result<Option<RunState>, StateError> {
        self.recover().map(|recovered| recovered.state)
    }

    /// Reads `test_state.json`, then replays the steps the journal recorded after it.
    ///
    /// A file that is not JSON, or not the state's shape, is an error with the path and
    /// line:column; it is left where it is for the user to look at (`--reset` moves it
    /// aside with [`StateFile::set_aside_broken`]). A journal of a newer format, or damaged
    /// before its last line, is an error too; a torn last record is ignored.
    ///
    /// A journal whose base is not this file (the user edited or replaced the file after a
    /// crash, or deleted it) is not replayed: when replaying it would change nothing, it is
    /// what a compaction cut short by a crash left and is simply outdated; otherwise it is
    /// moved to `test_state.journal.stale`, and the file as it is now wins.
    pub fn recover(&self) -> Result<Recovered, StateError> {
        let bytes = read_capped(&self.path, "state file")?;
        let state: Option<RunState> = match &bytes {
            Some(bytes) => {
                Some(serde_json::from_slice(bytes).map_err(|err| malformed(&self.path, &err))?)
            }
            None => None,
        };
        let journal_path = self.journal_path();
        let Some(contents) = journal::read(&journal_path)? else {
            return Ok(Recovered {
                state,
                ..Recovered::default()
            });
        };
        let (Some(bytes), Some(mut state)) = (bytes, state) else {
            // A journal without its state file cannot be replayed onto anything.
            let set_aside = self.set_aside_journal(&journal_path)?;
            return Ok(Recovered {
                set_aside: Some(set_aside),
                ..Recovered::default()
            });
        };
        if contents.base == journal::base_of(&bytes) {
            journal::replay(&mut state, &contents.records).map_err(|err| {
                StateError::JournalDamaged {
                    path: journal_path.clone(),
                    line: 0,
                    reason: format!("a record does not fit {STATE_FILE_NAME}: {err}"),
                }
            })?;
            return Ok(Recovered {
                state: Some(state),
                replayed: contents.records.len(),
                torn_tail: contents.torn_tail,
                set_aside: None,
            });
        }
        // Records are absolute writes: a journal already folded into the file replays to
        // the file itself.
        let mut trial = state.clone();
        let outdated = journal::replay(&mut trial, &contents.records).is_ok() && trial == state;
        let set_aside = if outdated {
            None
        } else {
            Some(self.set_aside_journal(&journal_path)?)
        };
        Ok(Recovered {
            state: Some(state),
            set_aside,
            ..Recovered::default()
        })
    }

    /// Replaces the state file with `state`, atomically, and removes the journal (the file
    /// now holds everything).
    ///
    /// A crash at any moment leaves either the old file or the new one, never a torn one;
    /// see [`StateFile::write_state`].
    pub fn save(&self, state: &RunState) -> Result<(), StateError> {
        self.write_state(state)?;
        match fs::remove_file(self.journal_path()) {
            Ok(()) => {
                crash_point("state.after-journal-remove");
                Ok(())
            }
            Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(StateError::Write {
                path: self.journal_path(),
                source,
            }),
        }
    }

    /// Folds the journal into the state file: recovers the state and saves it when a
    /// journal was there. Run at exit, whatever ended the run; a no-op without a journal.
    pub fn compact(&self) -> Result<Recovered, StateError> {
        let recovered = self.recover()?;
        if let Some(state) = &recovered.state
            && self.journal_path().exists()
        {
            self.save(state)?;
        }
        Ok(recovered)
    }

    /// Writes `state` over the state file atomically and returns the base a new journal
    /// names (the sha256 of the bytes written).
    ///
    /// Writes pretty JSON (2-space indent, as the reference) to a temp file in the same
    /// directory, fsyncs it, renames it over the state file and fsyncs the directory so the
    /// rename itself is durable. The file keeps the mode it had (a new one gets 0666 less
    /// the umask). Creates `data_dir` when it is missing; removes the temp files of runs
    /// that were killed mid-save. On error the temp file is removed.
    pub(super) fn write_state(&self, state: &RunState) -> Result<String, StateError> {
        let write_error = |source| StateError::Write {
            path: self.path.clone(),
            source,
        };
        let dir = self.dir();
        fs::create_dir_all(dir).map_err(write_error)?;
        remove_temp_files(dir);
        let mut bytes = serde_json::to_vec_pretty(state).map_err(|err| write_error(err.into()))?;
        bytes.push(b'\n');
        let existing = fs::metadata(&self.path).ok().map(|meta| meta.permissions());
        // Same directory as the target: rename is only atomic within one file system.
        let temp = temp_builder(TEMP_PREFIXES[0], existing.clone())
            .tempfile_in(dir)
            .map_err(write_error)?;
        if let Some(permissions) = existing {
            // The builder's mode passes through the umask; chmod restores it exactly.
            temp.as_file()
                .set_permissions(permissions)
                .map_err(write_error)?;
        }
        crash_point("state.before-write");
        temp.as_file().write_all(&bytes).map_err(write_error)?;
        crash_point("state.after-write");
        temp.as_file().sync_all().map_err(write_error)?;
        crash_point("state.after-sync");
        temp.persist(&self.path)
            .map_err(|err| write_error(err.error))?;
        crash_point("state.after-rename");
        sync_dir(dir).map_err(write_error)?;
        crash_point("state.after-dir-sync");
        Ok(journal::base_of(&bytes))
    }

    /// Moves an unreadable state file to `test_state.json.broken` (replacing an older one)
    /// so that `--reset` can start over while keeping it for inspection.
    ///
    /// Returns where the file went, or `None` when there is no file or it parses (a fresh
    /// run simply overwrites a readable file). Only the file itself is judged: a journal
    /// beside it is replaced by the fresh run's.
    pub fn set_aside_broken(&self) -> Result<Option<PathBuf>, StateError> {
        let Some(bytes) = read_capped(&self.path, "state file")? else {
            return Ok(None);
        };
        if serde_json::from_slice::<RunState>(&bytes).is_ok() {
            return Ok(None);
        }
        let to = self.dir().join(BROKEN_FILE_NAME);
        fs::rename(&self.path, &to).map_err(|source| StateError::SetAside {
            path: self.path.clone(),
            to: to.clone(),
            source,
        })?;
        Ok(Some(to))
    }

    /// Moves a journal that does not extend the state file out of the way, keeping it.
    fn set_aside_journal(&self, journal_path: &Path) -> Result<PathBuf, StateError> {
        let to = self.dir().join(STALE_JOURNAL_FILE_NAME);
        fs::rename(journal_path, &to).map_err(|source| StateError::SetAside {
            path: journal_path.to_owned(),
            to: to.clone(),
            source,
        })?;
        Ok(to)
    }

    /// The directory holding the state file.
    pub(super) fn dir(&self) -> &Path {
        self.path
            .parent()
            .expect("StateFile::new joins a file name onto data_dir")
    }
}

/// The most bytes a state file or checkpoint journal may hold when it is read back: far
/// more than any state the default budgets allow (`limits.state_max_mb`, 64 MiB by
/// default), so that only something that is not a state file (or a state grown with a
/// raised budget past any sensible size) is refused instead of being read into memory.
pub const MAX_STATE_READ_BYTES: u64 = 1024 * bounded_read::MIB;

/// The bytes of the state file or journal at `path` (`what` says which), `None` when
/// there is none; through `bounded_read`, so a FIFO, a device or a directory there is an
/// error at once instead of a hang, and a file past [`MAX_STATE_READ_BYTES`] is refused.
pub(super) fn read_capped(path: &Path, what: &'static str) -> Result<Option<Vec<u8>>, StateError> {
    bounded_read::read_bytes_if_exists(path, MAX_STATE_READ_BYTES, what).map_err(|error| {
        StateError::Read {
            path: path.to_owned(),
            source: io::Error::other(error),
        }
    })
}

/// Removes the temp files a run killed during a save left in `dir`. Best effort: a file
/// that cannot be removed is only clutter, never read.
fn remove_temp_files(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.ends_with(TEMP_SUFFIX) && TEMP_PREFIXES.iter().any(|p| name.starts_with(p)) {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// A temp-file builder for an atomic replace in the state file's directory: named so that
/// a later save can recognise and remove it, created with `permissions` (those of the file
/// it replaces) or, for a new file, the mode `File::create` gives (0666 less the umask).
pub(super) fn temp_builder(
    prefix: &str,
    permissions: Option<fs::Permissions>,
) -> tempfile::Builder<'_, 'static> {
    let mut builder = tempfile::Builder::new();
    builder.prefix(prefix).suffix(TEMP_SUFFIX);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder
            .permissions(permissions.unwrap_or_else(|| fs::Permissions::from_mode(NEW_FILE_MODE)));
    }
    #[cfg(not(unix))]
    let _ = permissions;
    builder
}

/// A [`StateError::Malformed`] from a serde_json error, its position split out of the
/// message so that it is shown once, as `path:line:column`.
fn malformed(path: &Path, err: &serde_json::Error) -> StateError {
    let (line, column) = (err.line(), err.column());
    let full = err.to_string();
    let suffix = format!(" at line {line} column {column}");
    let message = full.strip_suffix(&suffix).unwrap_or(&full).to_owned();
    StateError::Malformed {
        path: path.to_owned(),
        line,
        column,
        message,
    }
}

/// Makes a rename in `dir` durable (POSIX needs the directory itself fsynced).
#[cfg(unix)]
pub(super) fn sync_dir(dir: &Path) -> io::Result<()> {
    fs::File::open(dir)?.sync_all()
}

/// Directories cannot be opened for fsync here; the rename is as durable as the OS makes it.
#[cfg(not(unix))]
pub(super) fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}

#[cfg(test)]
#[path = "state_file_tests.rs"]
mod tests;
