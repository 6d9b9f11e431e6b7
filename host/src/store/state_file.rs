//! [`StateFile`]: `data_dir/test_state.json`, read once at start and replaced atomically
//! after every step; [`Checkpoint`]: the seam the runner saves through.

use std::fs;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use super::{RunState, StateError};

/// The state file's name inside `data_dir`, as the reference named it.
pub const STATE_FILE_NAME: &str = "test_state.json";
/// Where [`StateFile::set_aside_broken`] moves an unreadable state file.
pub const BROKEN_FILE_NAME: &str = "test_state.json.broken";

/// Something that keeps the run state after each completed step, so that a later run can
/// resume there. [`StateFile`] is the real one; tests record the saved states in memory.
pub trait Checkpoint {
    /// Persists `state`; when this returns `Ok` the state survives a crash.
    fn save(&mut self, state: &RunState) -> Result<(), StateError>;
}

/// The state file of one test: `data_dir/test_state.json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateFile {
    path: PathBuf,
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

    /// Reads the saved state; `Ok(None)` when there is no file (a first run).
    ///
    /// A file that is not JSON, or not the state's shape, is an error with the path and
    /// line:column; the file is left where it is for the user to look at (`--reset` moves
    /// it aside with [`StateFile::set_aside_broken`]).
    pub fn load(&self) -> Result<Option<RunState>, StateError> {
        let bytes = match fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(StateError::Read {
                    path: self.path.clone(),
                    source,
                });
            }
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|err| malformed(&self.path, &err))
    }

    /// Replaces the state file with `state`, atomically: a crash at any moment leaves
    /// either the old file or the new one, never a torn one.
    ///
    /// Writes pretty JSON (2-space indent, as the reference) to a temp file in the same
    /// directory, fsyncs it, renames it over the state file and fsyncs the directory so the
    /// rename itself is durable. Creates `data_dir` when it is missing. On error the temp
    /// file is removed.
    pub fn save(&self, state: &RunState) -> Result<(), StateError> {
        let write_error = |source| StateError::Write {
            path: self.path.clone(),
            source,
        };
        let dir = self.dir();
        fs::create_dir_all(dir).map_err(write_error)?;
        // Same directory as the target: rename is only atomic within one file system.
        let temp = tempfile::Builder::new()
            .prefix(".test_state.json.")
            .suffix(".tmp")
            .tempfile_in(dir)
            .map_err(write_error)?;
        {
            let mut out = BufWriter::new(temp.as_file());
            serde_json::to_writer_pretty(&mut out, state).map_err(|err| write_error(err.into()))?;
            out.write_all(b"\n").map_err(write_error)?;
            out.flush().map_err(write_error)?;
        }
        temp.as_file().sync_all().map_err(write_error)?;
        temp.persist(&self.path)
            .map_err(|err| write_error(err.error))?;
        sync_dir(dir).map_err(write_error)
    }

    /// Moves an unreadable state file to `test_state.json.broken` (replacing an older one)
    /// so that `--reset` can start over while keeping it for inspection.
    ///
    /// Returns where the file went, or `None` when there is no file or it loads fine (a
    /// fresh run simply overwrites a readable file).
    pub fn set_aside_broken(&self) -> Result<Option<PathBuf>, StateError> {
        match self.load() {
            Ok(_) => Ok(None),
            Err(StateError::Malformed { .. }) => {
                let to = self.dir().join(BROKEN_FILE_NAME);
                fs::rename(&self.path, &to).map_err(|source| StateError::SetAside {
                    path: self.path.clone(),
                    to: to.clone(),
                    source,
                })?;
                Ok(Some(to))
            }
            Err(err) => Err(err),
        }
    }

    /// The directory holding the state file.
    fn dir(&self) -> &Path {
        self.path
            .parent()
            .expect("StateFile::new joins a file name onto data_dir")
    }
}

impl Checkpoint for StateFile {
    fn save(&mut self, state: &RunState) -> Result<(), StateError> {
        StateFile::save(self, state)
    }
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
fn sync_dir(dir: &Path) -> io::Result<()> {
    fs::File::open(dir)?.sync_all()
}

/// Directories cannot be opened for fsync here; the rename is as durable as the OS makes it.
#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}

#[cfg(test)]
#[path = "state_file_tests.rs"]
mod tests;
