//! Tests of `StateFile`: the reference's file shape, broken files, atomic saves.

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
    let reread: Value = serde_json::from_str(&fs::read_to_string(file.path()).unwrap()).unwrap();
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
        err.hint(),
        Some("run with --reset to start fresh (the broken file is kept as test_state.json.broken)")
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
        nix::unistd::mkfifo(path, nix::sys::stat::Mode::from_bits_truncate(0o600)).expect("mkfifo");
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
