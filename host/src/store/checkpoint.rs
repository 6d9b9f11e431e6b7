//! [`Checkpoint`]: the seam the runner saves through; [`JournalCheckpoint`]: the real one,
//! one journal append per completed step and the whole state file only at compactions.

use super::journal::JournalWriter;
use super::state::ChangedKey;
use super::{RunState, StateError, StateFile};
use crate::crash_point::crash_point;

/// A round end compacts once the journal holds at least 1/`COMPACT_RATIO` of the state
/// file's size. Keeps the total cost of compactions linear in the run (each one rewrites
/// the file only after a proportional amount of new records), while a test with a small
/// state still compacts at every round end.
const COMPACT_RATIO: u64 = 4;

/// A round end compacts only once the journal holds at least this many bytes of records
/// (and [`COMPACT_RATIO`] says so). Keeps compaction (a whole-file rewrite and four
/// syncs) off most round ends of a test with a small state, where it used to run at every
/// one: 3 × 100 × 3 paid 100 of them. A resume replays at most this much more journal, a
/// matter of milliseconds; the end of the run and every exit still compact.
pub const COMPACT_MIN_JOURNAL_BYTES: u64 = 1024 * 1024;

/// Something that keeps the run state after each completed step, so that a later run can
/// resume there. [`JournalCheckpoint`] is the real one; tests record the saved states in
/// memory.
pub trait Checkpoint {
    /// Persists the whole of `state` (the start of a fresh run); when this returns `Ok` the
    /// state survives a crash.
    fn save(&mut self, state: &RunState) -> Result<(), StateError>;

    /// Persists the state after the completed step `step` of `round`: `state` holds its
    /// position and `changes` the keys it set. When this returns `Ok` the step survives a
    /// crash. The default saves the whole state.
    fn save_step(
        &mut self,
        state: &RunState,
        round: u32,
        step: &str,
        changes: &[ChangedKey],
    ) -> Result<(), StateError> {
        let _ = (round, step, changes);
        self.save(state)
    }

    /// A round ended with every step completed (`last`: the run's last round): a moment to
    /// fold what [`Checkpoint::save_step`] kept into one file. The default does nothing.
    fn round_finished(&mut self, state: &RunState, last: bool) -> Result<(), StateError> {
        let _ = (state, last);
        Ok(())
    }
}

/// The checkpoint of a [`StateFile`]: a completed step is one record appended to the
/// journal (one `fdatasync`), so its cost does not grow with the run; the journal is
/// compacted into `test_state.json` at round ends once it holds a quarter of the state
/// file's size (`COMPACT_RATIO`) and at least `COMPACT_MIN_JOURNAL_BYTES`, and always at
/// the end of the last round.
#[derive(Debug)]
pub struct JournalCheckpoint {
    file: StateFile,
    journal: Option<JournalWriter>,
    /// Whether each record is synced to disk before the run goes on.
    durable: bool,
    /// Size of the state file written by the last compaction.
    compacted_bytes: u64,
    /// [`COMPACT_MIN_JOURNAL_BYTES`] unless a test says otherwise.
    compact_min_bytes: u64,
}

impl JournalCheckpoint {
    /// A durable checkpoint of `file`. The first save of the run (the fresh state, or the
    /// first completed step of a resumed run, which folds the recovered journal in) writes
    /// the whole file and starts a new journal.
    pub fn new(file: StateFile) -> Self {
        JournalCheckpoint {
            file,
            journal: None,
            durable: true,
            compacted_bytes: 0,
            compact_min_bytes: COMPACT_MIN_JOURNAL_BYTES,
        }
    }

    /// Compacts at round ends once the journal holds `bytes` of records (default
    /// `COMPACT_MIN_JOURNAL_BYTES`); `0` compacts at every round end with new records.
    pub fn with_compact_min_bytes(self, bytes: u64) -> Self {
        JournalCheckpoint {
            compact_min_bytes: bytes,
            ..self
        }
    }

    /// Skips the per-step `fdatasync` (`durable: false`): a crash of the machine (not of
    /// the runner) may then lose the last steps. For benchmarks that measure the host's
    /// own overhead apart from the disk's.
    pub fn with_durable_steps(self, durable: bool) -> Self {
        JournalCheckpoint { durable, ..self }
    }

    /// Writes the whole state and starts an empty journal extending it.
    fn compact(&mut self, state: &RunState) -> Result<(), StateError> {
        // Close the old journal first: it is about to be replaced.
        self.journal = None;
        crash_point("compact.before");
        let base = self.file.write_state(state)?;
        crash_point("compact.after-state");
        let meta = std::fs::metadata(self.file.path()).ok();
        self.compacted_bytes = meta.as_ref().map_or(0, |m| m.len());
        self.journal = Some(JournalWriter::create(
            &self.file.journal_path(),
            &base,
            meta.map(|m| m.permissions()),
        )?);
        crash_point("compact.after-journal");
        Ok(())
    }
}

impl Checkpoint for JournalCheckpoint {
    fn save(&mut self, state: &RunState) -> Result<(), StateError> {
        self.compact(state)
    }

    fn save_step(
        &mut self,
        state: &RunState,
        round: u32,
        step: &str,
        changes: &[ChangedKey],
    ) -> Result<(), StateError> {
        match &mut self.journal {
            Some(journal) => journal.append(state, round, step, changes, self.durable),
            None => self.compact(state),
        }
    }

    fn round_finished(&mut self, state: &RunState, last: bool) -> Result<(), StateError> {
        let Some(journal) = &self.journal else {
            return Ok(());
        };
        let grown = journal.record_bytes();
        let due = grown.saturating_mul(COMPACT_RATIO) >= self.compacted_bytes
            && grown >= self.compact_min_bytes;
        if grown > 0 && (last || due) {
            self.compact(state)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    //! Tests of `JournalCheckpoint` and of recovery through `StateFile`: appends, compaction at
    //! round ends, crashes at every point of a compaction, edited state files, modes, temp files.

    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    use serde_json::json;

    use super::*;
    use crate::store::{JOURNAL_FILE_NAME, STALE_JOURNAL_FILE_NAME, Scope};

    fn temp_checkpoint() -> (tempfile::TempDir, StateFile, JournalCheckpoint) {
        let dir = tempfile::tempdir().unwrap();
        let file = StateFile::new(&dir.path().join("data"));
        let checkpoint = JournalCheckpoint::new(file.clone());
        (dir, file, checkpoint)
    }

    /// Runs step `name` of `round` on `state` the way the runner does: one `set`, the new
    /// position, a save through the checkpoint.
    fn complete_step(
        checkpoint: &mut JournalCheckpoint,
        state: &mut RunState,
        round: u32,
        name: &str,
    ) {
        state.current_round = round;
        state
            .set(&format!("trail.{round}-{name}"), json!(true), Scope::Global)
            .unwrap();
        state.last_completed_step = Some(name.to_owned());
        let changes = state.take_changes();
        checkpoint.save_step(state, round, name, &changes).unwrap();
    }

    fn file_state(file: &StateFile) -> RunState {
        serde_json::from_slice(&fs::read(file.path()).unwrap()).unwrap()
    }

    fn journal_lines(file: &StateFile) -> usize {
        fs::read_to_string(file.journal_path())
            .unwrap()
            .lines()
            .count()
    }

    #[test]
    fn steps_are_appended_and_recovered_without_rewriting_the_file() {
        let (_dir, file, mut checkpoint) = temp_checkpoint();
        let mut state = RunState::default();
        checkpoint.save(&state).unwrap();
        let fresh = fs::read(file.path()).unwrap();
        complete_step(&mut checkpoint, &mut state, 1, "a");
        complete_step(&mut checkpoint, &mut state, 1, "b");
        assert_eq!(
            fs::read(file.path()).unwrap(),
            fresh,
            "the file is not rewritten per step"
        );
        assert_eq!(journal_lines(&file), 3, "header and two records");
        // As after kill -9: nothing compacted, everything recovered.
        drop(checkpoint);
        let recovered = file.recover().unwrap();
        assert_eq!(recovered.replayed, 2);
        assert_eq!(recovered.state, Some(state));
    }

    #[test]
    fn round_ends_compact_the_journal_into_the_file() {
        let (_dir, file, checkpoint) = temp_checkpoint();
        let mut checkpoint = checkpoint.with_compact_min_bytes(0);
        let mut state = RunState::default();
        checkpoint.save(&state).unwrap();
        complete_step(&mut checkpoint, &mut state, 1, "a");
        complete_step(&mut checkpoint, &mut state, 1, "b");
        state.current_round = 2;
        state.last_completed_step = None;
        checkpoint.round_finished(&state, false).unwrap();
        assert_eq!(file_state(&file), state, "the file holds round 1");
        assert_eq!(journal_lines(&file), 1, "a new journal: its header only");
        // A round end with nothing new does not rewrite the file.
        let modified = fs::metadata(file.path()).unwrap().modified().unwrap();
        checkpoint.round_finished(&state, false).unwrap();
        assert_eq!(
            fs::metadata(file.path()).unwrap().modified().unwrap(),
            modified
        );
        complete_step(&mut checkpoint, &mut state, 2, "a");
        checkpoint.round_finished(&state, true).unwrap();
        assert_eq!(file_state(&file), state, "the last round always compacts");
    }

    #[test]
    fn a_small_journal_is_not_compacted_before_the_last_round_ends() {
        let (_dir, file, mut checkpoint) = temp_checkpoint();
        let mut state = RunState::default();
        checkpoint.save(&state).unwrap();
        for round in 1..=3 {
            complete_step(&mut checkpoint, &mut state, round, "a");
            checkpoint.round_finished(&state, false).unwrap();
        }
        assert_eq!(journal_lines(&file), 4, "the header and three records");
        assert_eq!(
            file.load().unwrap(),
            Some(state.clone()),
            "recovered from both"
        );
        checkpoint.round_finished(&state, true).unwrap();
        assert_eq!(file_state(&file), state, "the last round always compacts");
        assert_eq!(journal_lines(&file), 1);
    }

    #[test]
    fn a_large_state_is_compacted_only_once_the_journal_is_a_quarter_of_it() {
        let (_dir, file, checkpoint) = temp_checkpoint();
        let mut checkpoint = checkpoint.with_compact_min_bytes(0);
        let mut state = RunState::default();
        let big: String = "x".repeat(40_000);
        state.set("big", json!(big), Scope::Global).unwrap();
        state.take_changes();
        checkpoint.save(&state).unwrap();
        complete_step(&mut checkpoint, &mut state, 1, "a");
        checkpoint.round_finished(&state, false).unwrap();
        assert_eq!(journal_lines(&file), 2, "a small journal waits");
        assert_ne!(file_state(&file), state);
        assert_eq!(file.load().unwrap(), Some(state));
    }

    #[test]
    fn a_resumed_run_folds_the_recovered_journal_in_at_its_first_step() {
        let (_dir, file, mut checkpoint) = temp_checkpoint();
        let mut state = RunState::default();
        checkpoint.save(&state).unwrap();
        complete_step(&mut checkpoint, &mut state, 1, "a");
        drop(checkpoint);

        let mut state = file.load().unwrap().unwrap();
        let mut checkpoint = JournalCheckpoint::new(file.clone());
        complete_step(&mut checkpoint, &mut state, 1, "b");
        assert_eq!(
            file_state(&file),
            state,
            "the first step of a resumed run writes the file"
        );
        assert_eq!(journal_lines(&file), 1);
        complete_step(&mut checkpoint, &mut state, 1, "c");
        assert_eq!(file.load().unwrap(), Some(state));
    }

    #[test]
    fn a_crash_between_the_file_and_the_new_journal_loses_nothing() {
        let (_dir, file, mut checkpoint) = temp_checkpoint();
        let mut state = RunState::default();
        checkpoint.save(&state).unwrap();
        complete_step(&mut checkpoint, &mut state, 1, "a");
        complete_step(&mut checkpoint, &mut state, 1, "b");
        // The compaction wrote the file, then the process died before replacing the journal.
        file.write_state(&state).unwrap();
        let recovered = file.recover().unwrap();
        assert_eq!(recovered.state, Some(state));
        assert_eq!(
            recovered.set_aside, None,
            "an outdated journal is no one's edit"
        );
        assert_eq!(recovered.replayed, 0);
    }

    #[test]
    fn a_state_file_edited_after_a_crash_wins_and_the_journal_is_kept_aside() {
        let (dir, file, mut checkpoint) = temp_checkpoint();
        let mut state = RunState::default();
        checkpoint.save(&state).unwrap();
        complete_step(&mut checkpoint, &mut state, 1, "a");
        drop(checkpoint);
        // The user rewinds the run by hand.
        fs::write(
            file.path(),
            r#"{"current_round": 1, "last_completed_step": null, "global": {"mine": 1}}"#,
        )
        .unwrap();
        let recovered = file.recover().unwrap();
        let resumed = recovered.state.unwrap();
        assert_eq!(resumed.last_completed_step, None);
        assert_eq!(resumed.get("mine").as_deref(), Some(&json!(1)));
        assert_eq!(
            resumed.get("trail.1-a"),
            None,
            "the journal is not replayed"
        );
        let stale = dir.path().join("data").join(STALE_JOURNAL_FILE_NAME);
        assert_eq!(recovered.set_aside, Some(stale.clone()));
        assert!(stale.exists() && !file.journal_path().exists());

        // A journal whose state file was deleted is kept aside too: a first run follows.
        let mut checkpoint = JournalCheckpoint::new(file.clone());
        checkpoint.save(&RunState::default()).unwrap();
        complete_step(&mut checkpoint, &mut RunState::default(), 1, "a");
        fs::remove_file(file.path()).unwrap();
        let recovered = file.recover().unwrap();
        assert_eq!(recovered.state, None);
        assert!(recovered.set_aside.is_some());
    }

    #[test]
    fn compact_folds_the_journal_and_removes_it() {
        let (_dir, file, mut checkpoint) = temp_checkpoint();
        let mut state = RunState::default();
        checkpoint.save(&state).unwrap();
        complete_step(&mut checkpoint, &mut state, 1, "a");
        drop(checkpoint);
        assert_eq!(file.compact().unwrap().replayed, 1);
        assert_eq!(file_state(&file), state);
        assert!(!file.journal_path().exists());
        assert_eq!(
            file.compact().unwrap().replayed,
            0,
            "a second compact does nothing"
        );
        assert!(!file.path().with_file_name(JOURNAL_FILE_NAME).exists());
    }

    #[test]
    fn the_state_file_and_journal_keep_the_state_files_mode() {
        let (_dir, file, mut checkpoint) = temp_checkpoint();
        let mut state = RunState::default();
        checkpoint.save(&state).unwrap();
        let mode =
            |path: &std::path::Path| fs::metadata(path).unwrap().permissions().mode() & 0o777;
        // A new file gets the mode File::create gives, not tempfile's 0600.
        let probe = file.path().with_file_name("probe");
        fs::File::create(&probe).unwrap();
        assert_eq!(mode(file.path()), mode(&probe));
        fs::set_permissions(file.path(), fs::Permissions::from_mode(0o640)).unwrap();
        complete_step(&mut checkpoint, &mut state, 1, "a");
        checkpoint.round_finished(&state, true).unwrap();
        assert_eq!(mode(file.path()), 0o640);
        assert_eq!(mode(&file.journal_path()), 0o640);
        file.save(&state).unwrap();
        assert_eq!(mode(file.path()), 0o640);
    }

    #[test]
    fn leftover_temp_files_of_a_killed_save_are_removed() {
        let (dir, file, mut checkpoint) = temp_checkpoint();
        let data = dir.path().join("data");
        fs::create_dir_all(&data).unwrap();
        let leftovers = [
            ".test_state.json.Ab12Cd.tmp",
            ".test_state.journal.Xy34Zw.tmp",
        ];
        for name in leftovers {
            fs::write(data.join(name), "{").unwrap();
        }
        fs::write(data.join("other.tmp"), "kept").unwrap();
        checkpoint.save(&RunState::default()).unwrap();
        for name in leftovers {
            assert!(!data.join(name).exists(), "{name} is left");
        }
        assert!(
            data.join("other.tmp").exists(),
            "files that are not ours stay"
        );
        let mut names: Vec<_> = fs::read_dir(&data)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(
            names,
            ["other.tmp", "test_state.journal", "test_state.json"]
        );
        assert_eq!(file.load().unwrap(), Some(RunState::default()));
    }
}
