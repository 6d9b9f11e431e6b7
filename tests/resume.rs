//! Resume, --reset, and the reference framework's state bugs that must not come back.

use serde_json::json;
use system_tests::{TestDir, exit};

#[test]
fn rerun_after_a_failure_resumes_at_the_failed_step() {
    let t = TestDir::hello();
    t.set_config("fail_step", "audit-greeting".into());
    let out = t.run_steps(&[]);
    assert_eq!(out.code(), exit::FAILED, "{out}");
    assert_eq!(
        out.started_steps(),
        ["check-health", "submit-greeting", "audit-greeting"]
    );
    assert!(
        out.stdout
            .contains("audit-greeting failed (round 1, worker worker2"),
        "{out}"
    );
    assert!(
        out.stdout
            .contains("injected failure in audit-greeting (config fail_step)"),
        "{out}"
    );
    let state = t.state();
    assert_eq!(state["current_round"], json!(1));
    assert_eq!(state["last_completed_step"], json!("submit-greeting"));

    // The fix is made in config.yaml; the resumed run reads it as it is now.
    t.remove_config("fail_step");
    let out = t.run_steps(&[]);
    assert_eq!(out.code(), exit::OK, "{out}");
    assert!(
        out.stdout
            .contains("resuming round 1 after step submit-greeting"),
        "{out}"
    );
    let started = out.started_steps();
    assert_eq!(started[0], "audit-greeting", "{out}");
    assert_eq!(started.len(), 3 + 5, "{out}");
    // submit-greeting was not re-run in round 1: one greeting per round.
    assert_eq!(
        t.state()["global"]["greeting_ids"],
        json!(["worker1-1", "worker1-2"])
    );
    // post-load runs only on a fresh start.
    assert!(!out.stdout.contains("post-load ran"), "{out}");
}

#[test]
fn failure_at_the_first_step_of_round_two_resumes_that_round() {
    // prometheus-test 0.1.2 skipped the round and exited 0.
    let t = TestDir::hello();
    t.set_config("fail_step", "check-health".into());
    t.set_config("fail_round", 2.into());
    let out = t.run_steps(&[]);
    assert_eq!(out.code(), exit::FAILED, "{out}");
    let state = t.state();
    assert_eq!(state["current_round"], json!(2));
    assert_eq!(state["last_completed_step"], json!(null));

    t.remove_config("fail_step");
    let out = t.run_steps(&[]);
    assert_eq!(out.code(), exit::OK, "{out}");
    assert!(
        out.stdout.contains("resuming at the start of round 2"),
        "{out}"
    );
    assert_eq!(out.started_steps().len(), 5, "{out}");
    assert_eq!(out.started_steps()[0], "check-health");
    assert_eq!(t.state()["rounds"]["2"]["audited"], json!(true));
}

#[test]
fn reset_after_a_completed_run_runs_every_round_from_round_one() {
    // prometheus-test 0.1.2 kept the old round counter: only the last round ran.
    let t = TestDir::hello();
    assert_eq!(t.run_steps(&[]).code(), exit::OK);
    assert!(t.tests().join("data/database_worker1.db").exists());
    let out = t.run_steps(&["--reset"]);
    assert_eq!(out.code(), exit::OK, "{out}");
    assert!(
        out.stdout.contains("starting a fresh run (--reset)"),
        "{out}"
    );
    assert!(out.stdout.contains("━━ round 1/2 ━━"), "{out}");
    assert_eq!(out.started_steps().len(), 10, "{out}");
    assert!(
        out.stdout.contains("database_worker1.db"),
        "the old worker database is deleted\n{out}"
    );
    // The workers started from empty databases: the ids restart at 1.
    assert_eq!(
        t.state()["global"]["greeting_ids"],
        json!(["worker1-1", "worker1-2"])
    );
}

#[test]
fn a_completed_run_is_not_resumed_into_zero_steps() {
    let t = TestDir::hello();
    assert_eq!(t.run_steps(&[]).code(), exit::OK);
    let out = t.run_steps(&[]);
    assert_eq!(out.code(), exit::OK, "{out}");
    assert!(
        out.stdout
            .contains("the previous run completed all 2 rounds"),
        "{out}"
    );
    assert_eq!(out.started_steps().len(), 10, "{out}");
}

#[test]
fn malformed_state_file_is_an_error_and_reset_recovers() {
    // prometheus-test 0.1.2 failed even with --reset.
    let t = TestDir::hello();
    t.write(
        "data/test_state.json",
        "{\n  \"current_round\": 1,\n  oops\n}",
    );
    let out = t.run_steps(&[]);
    assert_eq!(out.code(), exit::USAGE, "{out}");
    assert!(out.stderr.contains("test_state.json:3:3"), "{out}");
    assert!(out.stderr.contains("--reset"), "{out}");
    assert!(
        out.worker_pids().is_empty(),
        "no worker starts on a bad state\n{out}"
    );

    let out = t.run_steps(&["--reset"]);
    assert_eq!(out.code(), exit::OK, "{out}");
    assert_eq!(t.state()["last_completed_step"], json!("summary"));
}

#[test]
fn out_of_range_round_in_the_state_is_an_error() {
    // prometheus-test ran zero steps and exited 0.
    let t = TestDir::hello();
    t.write(
        "data/test_state.json",
        r#"{"rounds": {}, "global": {}, "current_round": 99, "last_completed_step": null}"#,
    );
    let out = t.run_steps(&[]);
    assert_eq!(out.code(), exit::USAGE, "{out}");
    assert!(out.stderr.contains("99"), "{out}");
    assert!(out.stderr.contains("--reset"), "{out}");
    assert!(out.started_steps().is_empty(), "{out}");
}

#[test]
fn a_renamed_step_is_reported_with_the_reset_hint() {
    let t = TestDir::hello();
    t.write(
        "data/test_state.json",
        r#"{"rounds": {}, "global": {}, "current_round": 1, "last_completed_step": "old-step"}"#,
    );
    let out = t.run_steps(&[]);
    assert_eq!(out.code(), exit::USAGE, "{out}");
    assert!(out.stderr.contains("old-step"), "{out}");
    assert!(out.stderr.contains("--reset"), "{out}");
}

#[test]
fn a_state_file_in_the_reference_format_resumes() {
    // A test_state.json as prometheus-test writes it, config snapshot included.
    let t = TestDir::hello();
    t.write(
        "data/test_state.json",
        r#"{
  "rounds": {"1": {"greeting_id": "worker1-1", "greeting_from": "worker1"}},
  "global": {"task_id": "hello", "base_dir": "/somewhere", "workers": {}, "greeting_ids": ["worker1-1"]},
  "current_round": 1,
  "last_completed_step": "bonus-round"
}"#,
    );
    let out = t.run_steps(&[]);
    assert_eq!(out.code(), exit::OK, "{out}");
    let started = out.started_steps();
    assert_eq!(started[0], "summary", "{out}");
    assert_eq!(started.len(), 1 + 5, "{out}");
    assert_eq!(
        t.state()["global"]["base_dir"],
        json!("/somewhere"),
        "unknown state is kept"
    );
}
