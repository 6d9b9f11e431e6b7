//! Crash points (`host/src/crash_point.rs`): for every named point of the checkpoint,
//! compaction and results-journal writes, a real run aborts there (the 1st and the 4th
//! time it is reached; after a first-hit crash the resumed run crashes there again), then
//! a resumed run finishes it. From the trail steps' state and
//! the step banners of both runs: no step is skipped, none recorded twice, and the crash
//! costs at most the step that was in flight.

use std::os::unix::process::ExitStatusExt;

use serde_json::Value;
use system_tests::{RunOutput, TestDir, component, is_alive, repo_root};

/// Rounds of each run (5 trail steps each).
const ROUNDS: u32 = 2;
/// Steps of a whole run.
const TOTAL_STEPS: usize = ROUNDS as usize * 5;
/// Which hits of each point abort: the first, and one after some steps completed.
const NTHS: [u32; 2] = [1, 4];

/// The point names, read from the one list in the source (`POINTS`), so that a point
/// added there is tested here without a second list to keep in step.
fn points() -> Vec<String> {
    let source = std::fs::read_to_string(repo_root().join("host/src/crash_point.rs"))
        .expect("read crash_point.rs");
    let list = source
        .split_once("pub const POINTS: &[&str] = &[")
        .and_then(|(_, rest)| rest.split_once("];"))
        .expect("crash_point.rs holds the POINTS list")
        .0;
    let points: Vec<String> = list
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with('"'))
        .map(|l| l.trim_end_matches(',').trim_matches('"').to_owned())
        .collect();
    assert!(points.len() >= 20, "{points:?}");
    points
}

/// `"<round>/<step>"` of every step of a whole run, in order.
fn expected_trail() -> Vec<String> {
    (1..=ROUNDS)
        .flat_map(|r| (1..=5).map(move |s| format!("{r}/s{s}")))
        .collect()
}

/// The trail in the saved state (empty without a state file).
fn trail(t: &TestDir) -> Vec<String> {
    let path = t.tests().join("data/test_state.json");
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Vec::new();
    };
    let state: Value = serde_json::from_str(&text).expect("the state file is JSON");
    let count = state["global"]["count"].as_u64().unwrap_or(0);
    (0..count)
        .map(|n| {
            state["global"]["trail"][n.to_string()]
                .as_str()
                .unwrap_or_else(|| panic!("trail entry {n} is missing: {state}"))
                .to_owned()
        })
        .collect()
}

/// Runs the trail test with `PROMETHEUS_WASM_CRASH_AT=<point>:<nth>`.
fn crash_run(t: &TestDir, point: &str, nth: u32) -> RunOutput {
    let child = t
        .command(&["run", "tests/steps.wasm", "--json", "report.json"])
        .env("PROMETHEUS_WASM_CRASH_AT", format!("{point}:{nth}"))
        .spawn()
        .expect("spawn the runner");
    system_tests::wait_output(child)
}

/// Waits until the workers of an aborted runner are gone (its watchdog kills them).
fn wait_dead(out: &RunOutput) {
    let started = std::time::Instant::now();
    for pid in out.worker_pids() {
        while is_alive(pid) {
            assert!(
                started.elapsed() < std::time::Duration::from_secs(60),
                "worker {pid} outlived the aborted runner"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

/// One point and hit: crash, resume, check. Returns whether the point was reached.
fn crash_and_resume(point: &str, nth: u32) -> bool {
    let t = TestDir::example("hello", &component("trail"));
    t.set_config("max_rounds", ROUNDS.into());
    let crashed = crash_run(&t, point, nth);
    let context = format!("point {point}:{nth}");
    let reached = crashed
        .stderr
        .contains(&format!("crash point {point} reached"));
    if !reached {
        // Fewer hits than `nth` in a whole run: it ran to the end undisturbed.
        assert_eq!(crashed.code(), 0, "{context}\n{crashed}");
        assert_eq!(trail(&t), expected_trail(), "{context}");
        return false;
    }
    assert_eq!(
        crashed.status.signal(),
        Some(nix::libc::SIGABRT),
        "{context}\n{crashed}"
    );
    wait_dead(&crashed);
    // Whatever the point, what was saved has no gap.
    let saved = trail(&t);
    assert_eq!(
        saved,
        expected_trail()[..saved.len()],
        "{context}\n{crashed}"
    );
    if saved.len() == TOTAL_STEPS {
        // Every step was saved before the crash (the exit's compaction crashed): the run
        // is complete, and a later run would start a fresh one.
        return true;
    }
    let mut started = crashed.started_steps().len();
    let mut crashes = 1;
    if nth == 1 {
        // The resumed run crashes at the same point too: its first writes (folding the
        // recovered journal into the file) differ from a fresh run's.
        let again = crash_run(&t, point, 1);
        started += again.started_steps().len();
        if again
            .stderr
            .contains(&format!("crash point {point} reached"))
        {
            crashes += 1;
            wait_dead(&again);
        } else {
            assert_eq!(again.code(), 0, "{context} (resumed)\n{again}");
        }
        let saved = trail(&t);
        assert_eq!(saved, expected_trail()[..saved.len()], "{context}\n{again}");
        if saved.len() == TOTAL_STEPS {
            assert!(
                started <= TOTAL_STEPS + crashes,
                "{context}: {started} started"
            );
            return true;
        }
    }
    let resumed = t.run(&["run", "tests/steps.wasm", "--json", "report.json"]);
    assert_eq!(resumed.code(), 0, "{context}\n{crashed}\n{resumed}");
    assert_eq!(trail(&t), expected_trail(), "{context}\n{resumed}");
    started += resumed.started_steps().len();
    assert!(
        started <= TOTAL_STEPS + crashes,
        "{context}: {started} steps started for {TOTAL_STEPS} steps and {crashes} crash(es)\n\
         {crashed}\n{resumed}"
    );
    // The report of the resumed run reads the results journal the crash left.
    let report = std::fs::read_to_string(t.tests().parent().unwrap().join("report.json"))
        .unwrap_or_else(|e| panic!("{context}: no JSON report: {e}\n{resumed}"));
    let report: Value = serde_json::from_str(&report).expect("the report is JSON");
    assert!(report.is_object(), "{context}: {report}");
    true
}

#[test]
fn a_crash_at_any_point_re_runs_at_most_the_step_in_flight_and_skips_none() {
    let mut unreached = Vec::new();
    for point in points() {
        for nth in NTHS {
            let reached = crash_and_resume(&point, nth);
            eprintln!(
                "{point}:{nth}: {}",
                if reached { "crashed" } else { "not reached" }
            );
            if nth == 1 && !reached {
                unreached.push(point.clone());
            }
        }
    }
    assert!(
        unreached.is_empty(),
        "crash points a whole run never reaches: {unreached:?}"
    );
}
