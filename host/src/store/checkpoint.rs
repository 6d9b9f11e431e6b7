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
/// file's size ([`COMPACT_RATIO`]) and at least [`COMPACT_MIN_JOURNAL_BYTES`], and always
/// at the end of the last round.
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
    /// [`COMPACT_MIN_JOURNAL_BYTES`]); `0` compacts at every round end with new records.
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
#[path = "checkpoint_tests.rs"]
mod tests;
