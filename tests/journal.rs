//! The checkpoint journal on real processes: kill -9 at random points never skips a step,
//! torn and newer-format journals, `--reset` keeping an unreadable state file, the state
//! file's mode and the temp files a killed run leaves.

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use system_tests::{RunOutput, TestDir, component, is_alive, wait_output};

/// Rounds of the long run (5 steps each).
const ROUNDS: u32 = 40;
/// Steps of the long run.
const TOTAL_STEPS: usize = ROUNDS as usize * 5;
/// How many times the long run is killed before it may finish.
const KILLS: usize = 6;
/// Upper bound for waiting on a file or a process in these tests (not a timing assertion).
const PATIENCE: Duration = Duration::from_secs(60);

/// A test folder with the trail steps on the hello workers, `rounds` rounds.
fn trail_test(rounds: u32) -> TestDir {
    let t = TestDir::example("hello", &component("trail"));
    t.set_config("max_rounds", rounds.into());
    t
}

fn data(t: &TestDir) -> std::path::PathBuf {
    t.tests().join("data")
}

/// The `"<round>/<step>"` entries every step of a completed run leaves, in order.
fn expected_trail(rounds: u32) -> Vec<String> {
    (1..=rounds)
        .flat_map(|r| (1..=5).map(move |s| format!("{r}/s{s}")))
        .collect()
}

/// The trail in the saved state, in the order the steps completed.
fn trail(state: &Value) -> Vec<String> {
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

/// A pseudo-random number from the clock (printed, so that a failure can be replayed by
/// reading the log), in `0..bound`.
fn random_below(seed: &mut u64, bound: u64) -> u64 {
    *seed = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (*seed >> 33) % bound
}

/// Waits until none of `pids` is alive (the runner's workers after it was killed).
fn wait_dead(pids: &[i32]) {
    let started = Instant::now();
    while pids.iter().any(|pid| is_alive(*pid)) {
        assert!(
            started.elapsed() < PATIENCE,
            "workers {pids:?} outlived the runner"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Starts a run, waits until the journal has at least `records` records past its header,
/// then waits `extra` more and kills the runner with SIGKILL.
fn run_and_kill(t: &TestDir, records: usize, extra: Duration) -> RunOutput {
    let mut child = t
        .command(&["run", "tests/steps.wasm"])
        .spawn()
        .expect("spawn the runner");
    let journal = data(t).join("test_state.journal");
    let started = Instant::now();
    loop {
        let lines = std::fs::read_to_string(&journal).map_or(0, |text| text.lines().count());
        if lines > records || child.try_wait().expect("wait").is_some() {
            break;
        }
        assert!(started.elapsed() < PATIENCE, "the run wrote no journal");
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(extra);
    let _ = child.kill();
    let out = wait_output(child);
    wait_dead(&out.worker_pids());
    out
}

#[test]
fn kill_9_at_random_points_never_skips_or_repeats_a_completed_step() {
    let t = trail_test(ROUNDS);
    t.set_config("pause_ms", 2.into());
    let mut seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_nanos() as u64;
    eprintln!("seed {seed}");
    let mut started_steps = 0;
    for kill in 0..KILLS {
        let extra = Duration::from_millis(random_below(&mut seed, 120));
        let out = run_and_kill(&t, 1, extra);
        started_steps += out.started_steps().len();
        // Whatever the moment, the state file is readable and its trail has no gap.
        let state = t.state();
        let saved = trail(&state);
        assert_eq!(saved, expected_trail(ROUNDS)[..saved.len()], "{state}");
        let journal =
            std::fs::read_to_string(data(&t).join("test_state.journal")).unwrap_or_default();
        eprintln!(
            "kill {kill} after {extra:?}: {} steps started, state at round {} after {}, {} journal line(s)",
            out.started_steps().len(),
            state["current_round"],
            state["last_completed_step"],
            journal.lines().count()
        );
        if out.status.code() == Some(0) {
            break;
        }
    }
    let out = t.run_steps(&[]);
    assert_eq!(out.code(), 0, "{out}");
    started_steps += out.started_steps().len();
    let state = t.state();
    assert_eq!(trail(&state), expected_trail(ROUNDS), "{state}");
    assert_eq!(state["current_round"], json!(ROUNDS));
    assert_eq!(state["last_completed_step"], json!("s5"));
    // Each kill re-runs at most the step it interrupted.
    assert!(
        started_steps <= TOTAL_STEPS + KILLS,
        "{started_steps} steps started for {TOTAL_STEPS} steps and {KILLS} kills"
    );
    // The run ended compacted: the journal holds no step that the file does not.
    let journal = std::fs::read_to_string(data(&t).join("test_state.journal")).unwrap_or_default();
    assert!(journal.lines().count() <= 1, "{journal}");
}

#[test]
fn a_torn_last_journal_record_is_ignored_and_its_step_runs_again() {
    let t = trail_test(3);
    t.set_config("pause_ms", 20.into());
    let out = run_and_kill(&t, 3, Duration::ZERO);
    assert_ne!(out.status.code(), Some(0), "{out}");
    let journal = data(&t).join("test_state.journal");
    let mut text = std::fs::read_to_string(&journal).expect("a journal after the kill");
    let complete = text.lines().count() - 1;
    // The write of the next record was cut short.
    text.push_str(r#"{"seq":999,"round":1,"step":"s"#);
    std::fs::write(&journal, text).unwrap();

    t.remove_config("pause_ms");
    let out = t.run_steps(&[]);
    assert_eq!(out.code(), 0, "{out}");
    assert!(
        out.stdout.contains("its last record was cut short"),
        "{out}"
    );
    assert!(
        out.stdout.contains(&format!(
            "recovered {complete} step(s) from the checkpoint journal"
        )),
        "{out}"
    );
    assert_eq!(trail(&t.state()), expected_trail(3));
}

#[test]
fn a_journal_of_a_newer_format_is_refused_with_both_versions() {
    let t = trail_test(2);
    t.set_config("fail_at", "1/s3".into());
    assert_eq!(t.run_steps(&[]).code(), 1);
    let journal = data(&t).join("test_state.journal");
    std::fs::write(
        &journal,
        "{\"journal\":\"prometheus-wasm checkpoint journal\",\"version\":99,\"base\":\"x\"}\n",
    )
    .unwrap();
    t.remove_config("fail_at");
    let out = t.run_steps(&[]);
    assert_eq!(out.code(), 2, "{out}");
    assert!(
        out.stderr.contains("format version 99") && out.stderr.contains("reads up to version 1"),
        "{out}"
    );
    assert!(out.stderr.contains("--reset"), "{out}");
    assert!(out.started_steps().is_empty(), "{out}");
    // Refused means untouched.
    assert!(
        std::fs::read_to_string(&journal)
            .unwrap()
            .contains("\"version\":99")
    );

    let out = t.run_steps(&["--reset"]);
    assert_eq!(out.code(), 0, "{out}");
    assert_eq!(trail(&t.state()), expected_trail(2));
}

#[test]
fn reset_keeps_an_unreadable_state_file_as_broken_and_says_so() {
    let t = trail_test(1);
    std::fs::create_dir_all(data(&t)).unwrap();
    let garbage = "{\"current_round\": 1, oops";
    std::fs::write(data(&t).join("test_state.json"), garbage).unwrap();
    let out = t.run_steps(&[]);
    assert_eq!(out.code(), 2, "{out}");
    assert!(out.stderr.contains("test_state.json.broken"), "{out}");

    let out = t.run_steps(&["--reset"]);
    assert_eq!(out.code(), 0, "{out}");
    let broken = data(&t).join("test_state.json.broken");
    assert!(
        out.stdout.contains("could not be read; kept it as")
            && out.stdout.contains(&broken.display().to_string()),
        "{out}"
    );
    assert_eq!(std::fs::read_to_string(&broken).unwrap(), garbage);
    assert_eq!(trail(&t.state()), expected_trail(1));

    // A readable file is simply replaced by --reset; nothing is set aside.
    std::fs::remove_file(&broken).unwrap();
    let out = t.run_steps(&["--reset"]);
    assert_eq!(out.code(), 0, "{out}");
    assert!(
        !broken.exists() && !out.stdout.contains("kept it as"),
        "{out}"
    );
}

#[test]
fn the_state_file_keeps_its_mode_and_killed_saves_leave_no_temp_files() {
    let t = trail_test(2);
    t.set_config("fail_at", "2/s2".into());
    assert_eq!(t.run_steps(&[]).code(), 1);
    let state_path = data(&t).join("test_state.json");
    std::fs::set_permissions(&state_path, std::fs::Permissions::from_mode(0o640)).unwrap();
    // What a kill during a save leaves behind.
    let leftovers = [
        ".test_state.json.k1ll3d.tmp",
        ".test_state.journal.k1ll3d.tmp",
    ];
    for name in leftovers {
        std::fs::write(data(&t).join(name), "{\"half").unwrap();
    }
    t.remove_config("fail_at");
    let out = t.run_steps(&[]);
    assert_eq!(out.code(), 0, "{out}");
    let mode = |name: &str| {
        std::fs::metadata(data(&t).join(name))
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode("test_state.json"), 0o640);
    // The journal (which takes the state file's mode, see the store's unit tests) was
    // folded into the file at exit.
    assert!(!data(&t).join("test_state.journal").exists());
    for name in leftovers {
        assert!(!data(&t).join(name).exists(), "{name} was left");
    }
    assert_eq!(trail(&t.state()), expected_trail(2));
}

#[test]
fn a_state_file_edited_after_a_kill_wins_over_the_journal() {
    let t = trail_test(3);
    t.set_config("pause_ms", 20.into());
    run_and_kill(&t, 3, Duration::ZERO);
    // The user rewinds the test to the start of round 1, keeping nothing.
    std::fs::write(
        data(&t).join("test_state.json"),
        r#"{"rounds": {}, "global": {}, "current_round": 1, "last_completed_step": null}"#,
    )
    .unwrap();
    t.remove_config("pause_ms");
    let out = t.run_steps(&[]);
    assert_eq!(out.code(), 0, "{out}");
    assert!(
        out.stdout
            .contains("changed after the checkpoint journal was written")
            && out.stdout.contains("test_state.journal.stale"),
        "{out}"
    );
    assert!(data(&t).join("test_state.journal.stale").exists());
    assert_eq!(trail(&t.state()), expected_trail(3));
}
