//! `check` is `run` without starting anything: both call the same preparation, so a folder
//! `run` refuses before it starts makes `check` fail with the same message and exit code,
//! and a folder `check` passes is one `run` starts.

use system_tests::{RunOutput, TestDir};

/// What the runner printed from its `error:` line on (the message and its hint).
fn refusal(out: &RunOutput) -> String {
    let start = out
        .stderr
        .find("error:")
        .unwrap_or_else(|| panic!("no error printed:\n{out}"));
    out.stderr[start..].to_string()
}

/// `check` and `run` with the same `extra` flags refuse alike: exit 2, the same message
/// (which contains `expected`), and `run` started nothing.
fn both_refuse(t: &TestDir, extra: &[&str], expected: &str) {
    let mut check = vec!["check", "tests"];
    check.extend_from_slice(extra);
    let mut run = vec!["run", "tests"];
    run.extend_from_slice(extra);
    let checked = t.run(&check);
    let ran = t.run(&run);
    assert_eq!(checked.code(), 2, "check: {checked}");
    assert_eq!(ran.code(), 2, "run: {ran}");
    assert!(
        !ran.stdout.contains("starting"),
        "run started workers:\n{ran}"
    );
    assert!(
        refusal(&ran).contains(expected),
        "no `{expected}` in run's refusal:\n{ran}"
    );
    assert_eq!(
        refusal(&checked),
        refusal(&ran),
        "check and run refuse differently"
    );
}

#[test]
fn a_good_folder_passes_check_and_run() {
    let t = TestDir::hello();
    let out = t.run(&["check", "tests", "--junit", "reports/e2e.xml"]);
    assert_eq!(out.code(), 0, "{out}");
    assert!(
        out.stdout
            .contains("ok: the test folder is valid (nothing was started)"),
        "{out}"
    );
    let root = t.tests().parent().expect("root").to_path_buf();
    assert!(
        !root.join("reports").exists(),
        "check created the report's folder"
    );
    assert!(
        !t.tests().join("data/test_state.json").exists(),
        "check wrote a state"
    );
    let out = t.run(&["run", "tests", "--junit", "reports/e2e.xml"]);
    assert_eq!(out.code(), 0, "{out}");
    assert!(root.join("reports/e2e.xml").is_file(), "{out}");
}

#[test]
fn a_missing_worker_program_fails_check_as_it_fails_run() {
    let t = TestDir::hello();
    let mut workers = t.workers_json();
    workers["worker2"]["command"] = serde_json::json!(["prometheus-wasm-no-such-server"]);
    t.write_workers_json(&workers);
    both_refuse(&t, &[], "prometheus-wasm-no-such-server");
}

#[test]
fn a_port_in_use_fails_check_as_it_fails_run() {
    let t = TestDir::hello();
    let _taken =
        std::net::TcpListener::bind(("127.0.0.1", t.base_port())).expect("bind worker1's port");
    both_refuse(&t, &[], &t.base_port().to_string());
}

#[test]
fn a_report_path_that_cannot_be_written_fails_check_as_it_fails_run() {
    let t = TestDir::hello();
    // A folder below a file: `run` cannot make it, `check` says so without trying.
    both_refuse(
        &t,
        &["--json", "tests/config.yaml/out/report.json"],
        "cannot write the --json report to tests/config.yaml/out/report.json: Not a directory",
    );
    both_refuse(&t, &["--junit", "tests"], "it is a directory");
}

#[test]
fn a_data_dir_that_cannot_be_made_fails_check_as_it_fails_run() {
    let t = TestDir::hello();
    t.set_config("data_dir", "config.yaml/data".into());
    both_refuse(&t, &[], "cannot create data_dir");
}

#[test]
fn an_unknown_selected_step_fails_check_as_it_fails_run() {
    let t = TestDir::hello();
    both_refuse(&t, &["--step", "no-such-step"], "no-such-step");
}

#[test]
fn zero_rounds_fail_check_as_they_fail_run() {
    let t = TestDir::hello();
    both_refuse(&t, &["--set", "max_rounds=0"], "the test has 0 rounds");
}

#[test]
fn a_lock_violation_under_locked_fails_check_as_it_fails_run() {
    let t = TestDir::hello();
    t.write(
        "plan.yaml",
        "packages:\n  hello:\n    path: steps.wasm\nsteps:\n  - use: hello\n",
    );
    assert_eq!(t.run(&["lock", "tests/plan.yaml"]).code(), 0);
    let path = t.tests().join("plan.lock");
    let mut lock: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("lock")).expect("json");
    lock["packages"]["hello"]["imports"]
        .as_array_mut()
        .expect("imports")
        .retain(|i| {
            !i.as_str()
                .is_some_and(|i| i.starts_with("prometheus:step/http"))
        });
    t.write(
        "plan.lock",
        &serde_json::to_string_pretty(&lock).expect("json"),
    );
    both_refuse(
        &t,
        &["--locked"],
        "a package asks for capabilities the lock does not grant",
    );
}
