//! Tests of the journal format: records round-trip, torn tails, damage, newer versions.

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
    let header = json!({"journal": JOURNAL_MAGIC, "version": JOURNAL_VERSION + 1, "layout": "new"});
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
