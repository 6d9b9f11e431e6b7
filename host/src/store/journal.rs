//! The checkpoint journal, `data_dir/test_state.journal`: one line per completed step,
//! appended beside `test_state.json`, so that a checkpoint costs one small append instead
//! of rewriting the whole state file.
//!
//! Format (version [`JOURNAL_VERSION`], JSON Lines, UTF-8, each line ends with `\n`):
//!
//! ```text
//! {"journal":"prometheus-wasm checkpoint journal","version":1,"base":"<sha256 hex of test_state.json>"}
//! {"seq":1,"round":1,"step":"fetch","set":[{"scope":"round","round":1,"key":"a.b","value":3}],"current_round":1,"last_completed_step":"fetch"}
//! ```
//!
//! The header names the exact bytes of the `test_state.json` the records extend (`base`).
//! Each record is one completed step: the keys it set with the values they held when it
//! completed (absolute writes, so replaying a record twice changes nothing), and the
//! position after it. [`read`] returns the records; a last line without its `\n` or that
//! does not parse is a write cut short by a crash and is ignored (that step re-runs).
//! [`StateFile`](super::StateFile) decides what a journal means for the state file.
//! This module never imports `plugin` or `runner`.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::StateError;
use super::state::{ChangedKey, RunState, Scope};
use super::state_file::{TEMP_PREFIXES, read_capped, sync_dir, temp_builder};
use crate::crash_point::{abort_at, crash_point, reached};

/// The journal's name inside `data_dir`.
pub const JOURNAL_FILE_NAME: &str = "test_state.journal";
/// Where a journal that does not extend the current `test_state.json` is kept (the user
/// edited or replaced the state file after the journal was written).
pub const STALE_JOURNAL_FILE_NAME: &str = "test_state.journal.stale";
/// The format version this build writes and the newest it reads.
pub const JOURNAL_VERSION: u32 = 1;
/// The header's `journal` value: tells the journal apart from any other JSON Lines file.
const JOURNAL_MAGIC: &str = "prometheus-wasm checkpoint journal";

/// The first line of a journal.
#[derive(Debug, Serialize, Deserialize)]
struct Header {
    journal: String,
    version: u32,
    base: String,
}

/// One completed step, as read back.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct StepRecord {
    /// 1 for the first record after the header, then consecutive.
    pub seq: u64,
    /// The round the step ran in.
    pub round: u32,
    /// The step's name.
    pub step: String,
    /// The keys it set, in call order, with their values when it completed.
    pub set: Vec<SetRecord>,
    /// The position after the step.
    pub current_round: u32,
    /// The position after the step (`None` after a round's last step: the next round).
    pub last_completed_step: Option<String>,
}

/// One key a step set.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct SetRecord {
    /// Round or global.
    pub scope: Scope,
    /// The round of a round-scoped key.
    pub round: u32,
    /// The key, dots included.
    pub key: String,
    /// Its value when the step completed.
    pub value: Value,
}

/// A record as written: borrows the state instead of copying values.
#[derive(Serialize)]
struct StepRecordOut<'a> {
    seq: u64,
    round: u32,
    step: &'a str,
    set: Vec<SetRecordOut<'a>>,
    current_round: u32,
    last_completed_step: Option<&'a str>,
}

#[derive(Serialize)]
struct SetRecordOut<'a> {
    scope: Scope,
    round: u32,
    key: &'a str,
    value: &'a Value,
}

/// What [`read`] found.
#[derive(Debug)]
pub struct JournalContents {
    /// The sha256 (hex) of the `test_state.json` bytes the records extend.
    pub base: String,
    /// The complete records, in order.
    pub records: Vec<StepRecord>,
    /// Whether a last record cut short by a crash was ignored.
    pub torn_tail: bool,
}

/// The sha256 (hex) of a state file's bytes: what a journal's header names as its base.
pub fn base_of(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Reads the journal at `path`; `Ok(None)` when there is none.
///
/// Errors when the header is missing or not a journal's ([`StateError::JournalDamaged`]),
/// names a newer format ([`StateError::JournalVersion`], with both versions), or when a
/// line other than the last is not a complete record in sequence: steps after it cannot be
/// trusted, and skipping them silently would skip steps.
pub fn read(path: &Path) -> Result<Option<JournalContents>, StateError> {
    let Some(bytes) = read_capped(path, "checkpoint journal")? else {
        return Ok(None);
    };
    let damaged = |line: usize, reason: String| StateError::JournalDamaged {
        path: path.to_owned(),
        line,
        reason,
    };
    let mut lines = bytes.split_inclusive(|b| *b == b'\n').enumerate();
    let header = match lines.next() {
        Some((_, line)) if line.ends_with(b"\n") => line,
        _ => {
            return Err(damaged(
                1,
                "the header line is missing or incomplete".into(),
            ));
        }
    };
    let header = parse_header(header).map_err(|reason| damaged(1, reason))?;
    if header.version > JOURNAL_VERSION {
        return Err(StateError::JournalVersion {
            path: path.to_owned(),
            found: header.version,
            supported: JOURNAL_VERSION,
        });
    }
    let mut records: Vec<StepRecord> = Vec::new();
    let mut torn_tail = false;
    let mut lines = lines.peekable();
    while let Some((index, line)) = lines.next() {
        let is_last = lines.peek().is_none();
        let parsed = if line.ends_with(b"\n") {
            serde_json::from_slice::<StepRecord>(line).map_err(|e| e.to_string())
        } else {
            Err("the line has no end".to_owned())
        };
        match parsed {
            Ok(record) if record.seq == records.len() as u64 + 1 => records.push(record),
            Ok(record) => {
                return Err(damaged(
                    index + 1,
                    format!("record {} follows record {}", record.seq, records.len()),
                ));
            }
            // A crash during the append: the step it records did not complete.
            Err(_) if is_last => torn_tail = true,
            Err(reason) => return Err(damaged(index + 1, reason)),
        }
    }
    Ok(Some(JournalContents {
        base: header.base,
        records,
        torn_tail,
    }))
}

/// The header, or why it is not a journal's.
fn parse_header(line: &[u8]) -> Result<Header, String> {
    // The version is checked before the rest, so that a newer format whose header changed
    // shape is still refused as newer, not as damaged.
    let value: Value = serde_json::from_slice(line).map_err(|e| e.to_string())?;
    if value.get("journal").and_then(Value::as_str) != Some(JOURNAL_MAGIC) {
        return Err(format!("the header does not say {JOURNAL_MAGIC:?}"));
    }
    let version = value.get("version").and_then(Value::as_u64).unwrap_or(0);
    if version > u64::from(JOURNAL_VERSION) {
        return Ok(Header {
            journal: JOURNAL_MAGIC.to_owned(),
            version: u32::try_from(version).unwrap_or(u32::MAX),
            base: String::new(),
        });
    }
    serde_json::from_value(value).map_err(|e| e.to_string())
}

/// Applies `records` to `state` in order: the keys each step set, then its position.
///
/// Errors when a record's write does not fit the state (a key through a non-object):
/// the journal then does not extend this state.
pub fn replay(state: &mut RunState, records: &[StepRecord]) -> Result<(), StateError> {
    for record in records {
        for set in &record.set {
            state.replay_set(set.scope, set.round, &set.key, set.value.clone())?;
        }
        state.current_round = record.current_round;
        state.last_completed_step = record.last_completed_step.clone();
    }
    Ok(())
}

/// An open journal that records are appended to.
#[derive(Debug)]
pub struct JournalWriter {
    path: PathBuf,
    file: File,
    /// Records written so far.
    seq: u64,
    /// Bytes of records written so far (the header not counted).
    record_bytes: u64,
    /// Reused for every record, so that a step allocates no new buffer.
    buffer: Vec<u8>,
}

impl JournalWriter {
    /// Starts a new, empty journal extending the state file whose bytes hash to `base`,
    /// replacing any journal at `path` atomically (temp file, fsync, rename, fsync of the
    /// directory). The new file gets `permissions` (those of the state file).
    pub fn create(
        path: &Path,
        base: &str,
        permissions: Option<fs::Permissions>,
    ) -> Result<Self, StateError> {
        let write_error = |source| StateError::Write {
            path: path.to_owned(),
            source,
        };
        let dir = path
            .parent()
            .expect("the journal path is data_dir joined with a file name");
        let temp = temp_builder(TEMP_PREFIXES[1], permissions.clone())
            .tempfile_in(dir)
            .map_err(write_error)?;
        if let Some(permissions) = permissions {
            temp.as_file()
                .set_permissions(permissions)
                .map_err(write_error)?;
        }
        let header = Header {
            journal: JOURNAL_MAGIC.to_owned(),
            version: JOURNAL_VERSION,
            base: base.to_owned(),
        };
        let mut line = serde_json::to_vec(&header).expect("the header serializes");
        line.push(b'\n');
        temp.as_file().write_all(&line).map_err(write_error)?;
        crash_point("journal.create.after-write");
        temp.as_file().sync_all().map_err(write_error)?;
        crash_point("journal.create.after-sync");
        let file = temp.persist(path).map_err(|e| write_error(e.error))?;
        crash_point("journal.create.after-rename");
        sync_dir(dir).map_err(write_error)?;
        crash_point("journal.create.after-dir-sync");
        Ok(JournalWriter {
            path: path.to_owned(),
            file,
            seq: 0,
            record_bytes: 0,
            buffer: Vec::with_capacity(256),
        })
    }

    /// Appends the record of a completed step: `state` is the state after it (its
    /// position and the values of `changes`), `step` and `round` say which step it was.
    /// With `durable`, the record is on disk when this returns (one `fdatasync`).
    pub fn append(
        &mut self,
        state: &RunState,
        round: u32,
        step: &str,
        changes: &[ChangedKey],
        durable: bool,
    ) -> Result<(), StateError> {
        let set = changes
            .iter()
            .filter_map(|change| {
                // A key whose object a later `set` replaced is carried by that later change.
                state.changed_value(change).map(|value| SetRecordOut {
                    scope: change.scope,
                    round: change.round,
                    key: &change.key,
                    value,
                })
            })
            .collect();
        let record = StepRecordOut {
            seq: self.seq + 1,
            round,
            step,
            set,
            current_round: state.current_round,
            last_completed_step: state.last_completed_step.as_deref(),
        };
        self.buffer.clear();
        serde_json::to_writer(&mut self.buffer, &record).map_err(|e| StateError::Write {
            path: self.path.clone(),
            source: e.into(),
        })?;
        self.buffer.push(b'\n');
        let write_error = |source| StateError::Write {
            path: self.path.clone(),
            source,
        };
        // One write call: the record reaches the file whole or, after a crash, as a torn
        // tail that `read` ignores.
        crash_point("journal.append.before-write");
        if reached("journal.append.torn-write") {
            let _ = self.file.write_all(&self.buffer[..self.buffer.len() / 2]);
            abort_at("journal.append.torn-write");
        }
        self.file.write_all(&self.buffer).map_err(write_error)?;
        crash_point("journal.append.after-write");
        if durable {
            self.file.sync_data().map_err(write_error)?;
            crash_point("journal.append.after-sync");
        }
        self.seq += 1;
        self.record_bytes += self.buffer.len() as u64;
        Ok(())
    }

    /// Bytes of records appended since the journal was created.
    pub fn record_bytes(&self) -> u64 {
        self.record_bytes
    }
}

#[cfg(test)]
mod tests {
    //! Tests of the journal format: records round-trip, torn tails, damage, newer versions.

    use crate::error::UserFacing;
    use std::fs;

    use serde_json::json;

    use super::*;
    use crate::store::StateFile;

    /// A state after a step that set a round key and a global key.
    fn stepped_state(round: u32, step: &str) -> (RunState, Vec<ChangedKey>) {
        let mut state = RunState {
            current_round: round,
            ..RunState::default()
        };
        state.set("n", json!(round), Scope::Round).unwrap();
        state
            .set(&format!("seen.{step}"), json!(true), Scope::Global)
            .unwrap();
        state.last_completed_step = Some(step.to_owned());
        let changes = state.take_changes();
        (state, changes)
    }

    fn journal_in(dir: &tempfile::TempDir) -> (PathBuf, JournalWriter) {
        let path = dir.path().join(JOURNAL_FILE_NAME);
        let writer = JournalWriter::create(&path, "b4se", None).unwrap();
        (path, writer)
    }

    #[test]
    fn records_round_trip_and_replay_to_the_same_state() {
        let dir = tempfile::tempdir().unwrap();
        let (path, mut writer) = journal_in(&dir);
        let (first, changes) = stepped_state(1, "a");
        writer.append(&first, 1, "a", &changes, true).unwrap();
        let (mut second, _) = stepped_state(1, "b");
        second.global = first.global.clone();
        second.set("seen.b", json!(true), Scope::Global).unwrap();
        let changes = second.take_changes();
        writer.append(&second, 1, "b", &changes, false).unwrap();

        let contents = read(&path).unwrap().expect("journal exists");
        assert_eq!(contents.base, "b4se");
        assert!(!contents.torn_tail);
        let steps: Vec<_> = contents
            .records
            .iter()
            .map(|r| (r.seq, r.step.as_str()))
            .collect();
        assert_eq!(steps, [(1, "a"), (2, "b")]);
        let mut replayed = RunState::default();
        replay(&mut replayed, &contents.records).unwrap();
        assert_eq!(replayed, second);
    }

    #[test]
    fn a_key_replaced_by_a_later_parent_set_is_carried_by_the_parent() {
        let mut state = RunState::default();
        state.set("a.b", json!(1), Scope::Round).unwrap();
        state.set("a", json!(5), Scope::Round).unwrap();
        state.set("c", json!({"d": 1}), Scope::Global).unwrap();
        state.set("c.e", json!(2), Scope::Global).unwrap();
        let changes = state.take_changes();
        let dir = tempfile::tempdir().unwrap();
        let (path, mut writer) = journal_in(&dir);
        writer.append(&state, 1, "s", &changes, true).unwrap();
        let contents = read(&path).unwrap().unwrap();
        let keys: Vec<_> = contents.records[0]
            .set
            .iter()
            .map(|s| s.key.as_str())
            .collect();
        assert_eq!(keys, ["a", "c", "c.e"]);
        let mut replayed = RunState::default();
        replay(&mut replayed, &contents.records).unwrap();
        assert_eq!(replayed, state);
    }

    #[test]
    fn a_torn_last_record_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let (path, mut writer) = journal_in(&dir);
        for (n, step) in ["a", "b", "c"].iter().enumerate() {
            let (state, changes) = stepped_state(1, step);
            writer.append(&state, 1, step, &changes, true).unwrap();
            assert_eq!(writer.seq, n as u64 + 1);
        }
        let full = fs::read(&path).unwrap();
        // Every cut inside the last record leaves the first two steps.
        let last_start = full[..full.len() - 1]
            .iter()
            .rposition(|b| *b == b'\n')
            .unwrap()
            + 1;
        for cut in last_start + 1..full.len() {
            fs::write(&path, &full[..cut]).unwrap();
            let contents = read(&path).unwrap().unwrap();
            assert_eq!(contents.records.len(), 2, "cut at {cut}");
            assert!(contents.torn_tail, "cut at {cut}");
        }
        // Zeros where the record should be (a crash after the size grew) are torn too.
        let mut zeroed = full[..last_start].to_vec();
        zeroed.extend(std::iter::repeat_n(0u8, 40));
        fs::write(&path, &zeroed).unwrap();
        assert_eq!(read(&path).unwrap().unwrap().records.len(), 2);
    }

    #[test]
    fn damage_before_the_last_line_is_an_error_naming_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let (path, mut writer) = journal_in(&dir);
        for step in ["a", "b", "c"] {
            let (state, changes) = stepped_state(1, step);
            writer.append(&state, 1, step, &changes, true).unwrap();
        }
        let text = fs::read_to_string(&path).unwrap();
        let damaged = text.replacen("\"step\":\"b\"", "\"step\":", 1);
        fs::write(&path, damaged).unwrap();
        let err = read(&path).unwrap_err();
        assert!(
            matches!(err, StateError::JournalDamaged { line: 3, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("test_state.journal:3"), "{err}");
        assert!(err.hint().unwrap().contains("--reset"));

        // A record out of sequence (a line lost in the middle) is damage too.
        let lines: Vec<&str> = text.lines().collect();
        fs::write(&path, format!("{}\n{}\n{}\n", lines[0], lines[1], lines[3])).unwrap();
        let err = read(&path).unwrap_err().to_string();
        assert!(err.contains("record 3 follows record 1"), "{err}");
    }

    #[test]
    fn a_newer_format_is_refused_with_both_versions() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(JOURNAL_FILE_NAME);
        let header =
            json!({"journal": JOURNAL_MAGIC, "version": JOURNAL_VERSION + 1, "layout": "new"});
        fs::write(&path, format!("{header}\n{{\"anything\":1}}\n")).unwrap();
        let err = read(&path).unwrap_err();
        let message = err.to_string();
        assert!(
            message.contains(&format!("format version {}", JOURNAL_VERSION + 1))
                && message.contains(&format!("reads up to version {JOURNAL_VERSION}")),
            "{message}"
        );
        assert!(err.hint().unwrap().contains("newer prometheus-wasm"));
        // Through the state file too: resume refuses instead of guessing.
        let file = StateFile::new(dir.path());
        fs::write(file.path(), "{\"current_round\": 1}").unwrap();
        assert!(matches!(
            file.load(),
            Err(StateError::JournalVersion { .. })
        ));
    }

    #[test]
    fn a_file_that_is_not_a_journal_is_damaged_at_line_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(JOURNAL_FILE_NAME);
        fs::write(&path, "{\"hello\": 1}\n").unwrap();
        assert!(matches!(
            read(&path),
            Err(StateError::JournalDamaged { line: 1, .. })
        ));
        fs::write(&path, "").unwrap();
        assert!(matches!(
            read(&path),
            Err(StateError::JournalDamaged { line: 1, .. })
        ));
    }
}
