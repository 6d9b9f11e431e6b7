//! The hello example's end-to-end test, run by `cargo test` through the prometheus-wasm
//! library: the workers start, both rounds run, the workers stop — and a failing step fails
//! this test with the step's message, its terminal report shown by the test harness.

use std::path::PathBuf;

use prometheus_wasm::Session;

/// The test folder: `E2E_FOLDER` when set, else the hello example's (its `steps.wasm` and
/// worker are built by `scripts/example.sh`).
fn folder() -> PathBuf {
    std::env::var_os("E2E_FOLDER")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../hello/tests"))
}

#[test]
fn hello_passes_both_rounds() {
    // What `prometheus-wasm check` does: the run's own preparation, nothing started. (In a
    // test of its own it could run while this one's workers hold the ports, and say so.)
    let plan = Session::from_folder(folder())
        .check()
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert!(plan.contains("resolved steps (5 per round):"), "{plan}");

    let junit = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("hello-e2e.xml");
    let outcome = Session::from_folder(folder())
        .reset(true)
        .junit(&junit)
        .run()
        // `{:#}` adds the hint: what to do about a run that could not start.
        .unwrap_or_else(|e| panic!("the run did not start: {e:#}"));
    assert!(outcome.passed(), "{outcome}");

    let summary = outcome.summary().expect("the steps ran");
    assert_eq!(summary.rounds_run, [1, 2]);
    assert_eq!((summary.passed, summary.skipped, summary.failed), (9, 1, 0));
    let report = std::fs::read_to_string(&junit).expect("the JUnit report is written");
    assert!(report.contains("<testsuite"), "{report}");
}

/// Runs while `hello_passes_both_rounds` runs (cargo runs tests in parallel): `isolated()`
/// gives this run a data_dir of its own and free ports, so the two do not meet.
#[test]
fn one_round_isolated_beside_the_other_test() {
    let outcome = Session::from_folder(folder())
        .isolated()
        .reset(true)
        .set("max_rounds", "1")
        .expect("a key and a value")
        .run()
        .unwrap_or_else(|e| panic!("the run did not start: {e:#}"));
    assert!(outcome.passed(), "{outcome}");
    let summary = outcome.summary().expect("the steps ran");
    assert_eq!(summary.rounds_run, [1]);
}
