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
    /// see `StateFile::write_state`.
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
mod tests {
    //! Tests of `StateFile`: the reference's file shape, broken files, atomic saves.

    use crate::error::UserFacing;
    use std::fs;
    use std::time::Instant;

    use serde_json::{Value, json};

    use super::*;
    use crate::store::Scope;
    use crate::store::limits::MAX_NESTING;

    /// A state file as the Python runner writes it (`json.dump(state, f, indent=2)`).
    const REFERENCE_FILE: &str = r#"{
  "rounds": {
    "1": {
      "pr_urls": {
        "worker1": "https://github.com/o/r/pull/1"
      },
      "submission": null
    }
  },
  "global": {
    "base_dir": "/home/u/task/tests",
    "base_port": 5000,
    "task_id": "test-task-123",
    "post_load_callback": null,
    "workers": {
      "worker1": {"port": 5001, "env_vars": {"GITHUB_TOKEN": "WORKER1_GITHUB_TOKEN"}}
    }
  },
  "current_round": 1,
  "last_completed_step": "create_pr"
}"#;

    fn temp_state_file() -> (tempfile::TempDir, StateFile) {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = StateFile::new(dir.path());
        (dir, file)
    }

    #[test]
    fn missing_file_loads_as_none() {
        let (_dir, file) = temp_state_file();
        assert!(file.path().ends_with("test_state.json"));
        assert_eq!(file.load().unwrap(), None);
    }

    #[test]
    fn loads_the_reference_shape() {
        let (_dir, file) = temp_state_file();
        fs::write(file.path(), REFERENCE_FILE).unwrap();
        let state = file.load().unwrap().expect("file exists");
        assert_eq!(state.current_round, 1);
        assert_eq!(state.last_completed_step.as_deref(), Some("create_pr"));
        assert_eq!(
            state.get("pr_urls.worker1").as_deref(),
            Some(&json!("https://github.com/o/r/pull/1"))
        );
        assert_eq!(state.get("base_port").as_deref(), Some(&json!(5000)));
        assert!(state.extra.is_empty());
    }

    #[test]
    fn save_round_trips_the_reference_shape() {
        let (_dir, file) = temp_state_file();
        fs::write(file.path(), REFERENCE_FILE).unwrap();
        let state = file.load().unwrap().unwrap();
        file.save(&state).unwrap();
        let written = fs::read_to_string(file.path()).unwrap();
        // Same JSON value, same key order, 2-space indent.
        let original: Value = serde_json::from_str(REFERENCE_FILE).unwrap();
        let reread: Value = serde_json::from_str(&written).unwrap();
        assert_eq!(reread, original);
        let keys: Vec<&String> = reread.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            ["rounds", "global", "current_round", "last_completed_step"]
        );
        assert!(written.starts_with("{\n  \"rounds\": {\n    \"1\": {\n      \"pr_urls\""));
        assert_eq!(file.load().unwrap().unwrap(), state);
    }

    #[test]
    fn fresh_state_serializes_like_the_reference() {
        let value = serde_json::to_value(RunState::default()).unwrap();
        assert_eq!(
            value,
            json!({"rounds": {}, "global": {}, "current_round": 1, "last_completed_step": null})
        );
    }

    #[test]
    fn unknown_keys_are_kept() {
        let (_dir, file) = temp_state_file();
        fs::write(
            file.path(),
            r#"{"rounds": {}, "global": {}, "current_round": 2, "last_completed_step": null,
            "written_by": {"tool": "other", "version": 3}}"#,
        )
        .unwrap();
        let state = file.load().unwrap().unwrap();
        assert_eq!(
            state.extra.get("written_by"),
            Some(&json!({"tool": "other", "version": 3}))
        );
        file.save(&state).unwrap();
        let reread: Value =
            serde_json::from_str(&fs::read_to_string(file.path()).unwrap()).unwrap();
        assert_eq!(reread["written_by"]["tool"], json!("other"));
        assert_eq!(reread["current_round"], json!(2));
    }

    #[test]
    fn minimal_file_loads_with_defaults() {
        let (_dir, file) = temp_state_file();
        fs::write(file.path(), r#"{"current_round": 99}"#).unwrap();
        let state = file.load().unwrap().unwrap();
        assert_eq!(state.current_round, 99);
        assert_eq!(state.last_completed_step, None);
    }

    #[test]
    fn malformed_file_is_an_error_with_path_line_and_column() {
        let (_dir, file) = temp_state_file();
        fs::write(
            file.path(),
            "{\n  \"rounds\": {},\n  \"current_round\": 1,,\n}",
        )
        .unwrap();
        let err = file.load().unwrap_err();
        let message = err.to_string();
        let expected_prefix = format!("invalid state file {}:3:22: ", file.path().display());
        assert!(message.starts_with(&expected_prefix), "{message}");
        assert!(
            !message.contains(" at line "),
            "position shown twice: {message}"
        );
        assert_eq!(
            err.hint().as_deref(),
            Some(
                "run with --reset to start fresh (the broken file is kept as test_state.json.broken)"
            )
        );
        assert_eq!(err.path(), Some(file.path()));
        // Loading never deletes the evidence.
        assert!(file.path().exists());
    }

    #[test]
    fn wrong_shape_is_an_error_with_position() {
        let (_dir, file) = temp_state_file();
        for (text, line) in [
            ("[1, 2]", 1),
            ("{\n\"current_round\": \"two\"\n}", 2),
            ("{\"rounds\": {}}", 1),
            ("{\n\"current_round\": 1,\n\"last_completed_step\": 3}", 3),
            ("", 1),
        ] {
            fs::write(file.path(), text).unwrap();
            match file.load() {
                Err(StateError::Malformed { line: got, .. }) => assert_eq!(got, line, "{text:?}"),
                other => panic!("{text:?}: expected Malformed, got {other:?}"),
            }
        }
    }

    #[test]
    fn set_aside_broken_moves_only_a_broken_file() {
        let (dir, file) = temp_state_file();
        assert_eq!(file.set_aside_broken().unwrap(), None);

        file.save(&RunState::default()).unwrap();
        assert_eq!(file.set_aside_broken().unwrap(), None);
        assert!(file.path().exists());

        fs::write(file.path(), "{ torn").unwrap();
        let moved = file.set_aside_broken().unwrap().expect("moved");
        assert_eq!(moved, dir.path().join("test_state.json.broken"));
        assert_eq!(fs::read_to_string(&moved).unwrap(), "{ torn");
        assert_eq!(file.load().unwrap(), None);
    }

    #[test]
    fn save_creates_data_dir() {
        let dir = tempfile::tempdir().unwrap();
        let data_dir = dir.path().join("tests").join("data");
        let file = StateFile::new(&data_dir);
        file.save(&RunState::default()).unwrap();
        assert_eq!(file.load().unwrap(), Some(RunState::default()));
    }

    #[test]
    fn atomic_save_leaves_no_temp_files() {
        let (dir, file) = temp_state_file();
        let mut state = RunState::default();
        for i in 0..20 {
            state.set("i", json!(i), Scope::Round).unwrap();
            file.save(&state).unwrap();
        }
        let names: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["test_state.json"]);
        assert_eq!(
            file.load().unwrap().unwrap().get("i").as_deref(),
            Some(&json!(19))
        );
    }

    #[test]
    fn failed_save_reports_the_path_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        // data_dir exists as a file: nothing can be created under it.
        let data_dir = dir.path().join("data");
        fs::write(&data_dir, "not a dir").unwrap();
        let file = StateFile::new(&data_dir);
        let err = file.save(&RunState::default()).unwrap_err();
        assert!(matches!(err, StateError::Write { .. }));
        assert!(err.to_string().contains(&file.path().display().to_string()));

        // The target is a directory: the rename fails after the temp file was written.
        let (dir, file) = temp_state_file();
        fs::create_dir(file.path()).unwrap();
        fs::write(file.path().join("keep"), "x").unwrap();
        assert!(file.save(&RunState::default()).is_err());
        let names: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["test_state.json"]);
    }

    /// Not a timed assertion: prints what a save of a long run costs (see the output with
    /// `cargo test -- --nocapture`), so a regression to the reference's growth is visible.
    #[test]
    fn save_of_a_thousand_rounds_is_cheap() {
        let (_dir, file) = temp_state_file();
        let mut state = RunState::default();
        for round in 1..=1000 {
            state.current_round = round;
            state
                .set(
                    "pr_urls.worker1",
                    json!(format!("https://h/o/r/pull/{round}")),
                    Scope::Round,
                )
                .unwrap();
            state
                .set(
                    "submission.cid",
                    json!(format!("bafy{round:056}")),
                    Scope::Round,
                )
                .unwrap();
            state.set("audit", json!(true), Scope::Round).unwrap();
        }
        file.save(&state).unwrap();
        let runs = 20;
        let started = Instant::now();
        for _ in 0..runs {
            std::hint::black_box(serde_json::to_vec_pretty(&state).unwrap());
        }
        let per_serialize = started.elapsed() / runs;
        let started = Instant::now();
        for _ in 0..runs {
            file.save(&state).unwrap();
        }
        let per_save = started.elapsed() / runs;
        let size = fs::metadata(file.path()).unwrap().len();
        // The part that grows with the run is the serialization; the two fsyncs cost what the
        // disk charges, whatever the size.
        println!(
            "state of 1000 rounds ({size} bytes): serialize {per_serialize:?}, \
         save {per_save:?} (write + fsync file + rename + fsync dir)"
        );
        assert_eq!(file.load().unwrap().unwrap(), state);
    }

    /// A value nested `depth` levels deep (`{"a": {"a": ... 1}}`).
    fn nested(depth: usize) -> Value {
        (0..depth).fold(json!(1), |v, _| json!({ "a": v }))
    }

    #[test]
    fn whatever_set_accepts_the_next_run_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let file = StateFile::new(dir.path());
        // At the limit in both scopes, split between key and value in every proportion.
        for parts in [1, 50, MAX_NESTING - 1, MAX_NESTING] {
            let mut state = RunState::default();
            let key = vec!["k"; parts].join(".");
            let value = nested(MAX_NESTING - parts);
            state.set(&key, value.clone(), Scope::Round).unwrap();
            state.set(&key, value.clone(), Scope::Global).unwrap();
            file.save(&state).unwrap();
            let back = file.load().unwrap().expect("a saved state");
            assert_eq!(back, state, "{parts} part(s)");
            assert_eq!(back.get(&key).map(|v| v.into_owned()), Some(value));
        }
    }

    #[test]
    fn keys_and_values_past_the_nesting_limit_are_refused_and_change_nothing() {
        let mut state = RunState::default();
        let deep_key = vec!["k"; 300_000].join(".");
        let err = state.set(&deep_key, json!(1), Scope::Global).unwrap_err();
        assert!(
            matches!(
                err,
                StateError::TooDeep {
                    parts: 300_000,
                    depth: 0,
                    max: MAX_NESTING,
                    ..
                }
            ),
            "{err}"
        );
        // The message shows the start of the key, not all 600 000 characters.
        assert!(err.to_string().len() < 300, "{err}");
        assert!(err.to_string().contains("more than 100"), "{err}");
        let err = state
            .set("a.b", nested(MAX_NESTING - 1), Scope::Round)
            .unwrap_err();
        assert!(matches!(err, StateError::TooDeep { parts: 2, .. }), "{err}");
        assert!(err.hint().is_some());
        assert_eq!(state, RunState::default());
    }

    #[test]
    fn a_fifo_as_state_file_or_journal_is_an_error_not_a_hang() {
        let fifo = |path: &std::path::Path| {
            nix::unistd::mkfifo(path, nix::sys::stat::Mode::from_bits_truncate(0o600))
                .expect("mkfifo");
        };
        // No writer ever opens these FIFOs: a blocking open would wait forever.
        let (_dir, file) = temp_state_file();
        fifo(file.path());
        let err = file.recover().expect_err("a FIFO is no state file");
        assert!(matches!(err, StateError::Read { .. }), "{err:?}");
        assert!(format!("{err:?}").contains("FIFO"), "{err:?}");
        assert!(file.set_aside_broken().is_err());

        let (_dir, file) = temp_state_file();
        file.save(&RunState::default()).expect("save");
        fifo(&file.journal_path());
        let err = file.recover().expect_err("a FIFO is no journal");
        assert!(format!("{err:?}").contains("FIFO"), "{err:?}");
    }
}
