//! Selective runs (`--step`, `--from`, `--to`, `--round`, `--rounds`) and `--set` on the
//! hello example: the chosen steps run, the saved resume point is never moved, and bad
//! selections are refused before anything starts.

use system_tests::{TestDir, exit};

/// A saved run stopped by a failure in round 2 at `audit-greeting`.
fn stopped_in_round_2() -> TestDir {
    let t = TestDir::hello();
    t.set_config("fail_step", "audit-greeting".into());
    t.set_config("fail_round", 2.into());
    let out = t.run_steps(&[]);
    assert_eq!(out.code(), exit::FAILED, "{out}");
    t
}

fn state_text(t: &TestDir) -> String {
    std::fs::read_to_string(t.tests().join("data/test_state.json")).expect("state file")
}

#[test]
fn a_selection_runs_only_its_steps_and_leaves_the_resume_point_alone() {
    let t = stopped_in_round_2();
    let saved = state_text(&t);
    let out = t.run_steps(&["--step", "s*", "--round", "1"]);
    assert_eq!(out.code(), exit::OK, "{out}");
    assert_eq!(out.started_steps(), ["submit-greeting", "summary"], "{out}");
    assert!(
        out.stdout.contains(
            "selective run (--step s* --round 1) on a working copy of the saved state (round 2 after step submit-greeting); the saved resume point is not moved"
        ),
        "{out}"
    );
    // No seeding, no post-load: the saved run's data is untouched.
    assert!(!out.stdout.contains("post-load"), "{out}");
    assert!(!out.stdout.contains("deleted "), "{out}");
    assert_eq!(state_text(&t), saved, "the state file changed");
    assert!(!t.tests().join("data/test_state.json.journal").exists() || saved == state_text(&t));

    // --from/--to over both rounds, and the failing step fails the selection (exit 1)
    // without saving anything either.
    let out = t.run_steps(&["--from", "submit-greeting", "--to", "audit-greeting"]);
    assert_eq!(out.code(), exit::FAILED, "{out}");
    assert_eq!(
        out.started_steps(),
        [
            "submit-greeting",
            "audit-greeting",
            "submit-greeting",
            "audit-greeting"
        ],
        "{out}"
    );
    assert_eq!(state_text(&t), saved, "the state file changed");

    // The full run then resumes where the saved run stopped, with the failure switched off
    // by --set (shown in the header).
    let out = t.run_steps(&["--set", "fail_step=none"]);
    assert_eq!(out.code(), exit::OK, "{out}");
    assert!(out.stdout.contains("config: --set fail_step=none"), "{out}");
    assert!(
        out.stdout
            .contains("resuming round 2 after step submit-greeting"),
        "{out}"
    );
    assert_eq!(
        out.started_steps(),
        ["audit-greeting", "bonus-round", "summary"],
        "{out}"
    );
}

#[test]
fn a_selection_without_saved_state_starts_fresh_and_saves_nothing() {
    let t = TestDir::hello();
    let out = t.run_steps(&["--rounds", "2..2", "--to", "submit-greeting"]);
    assert_eq!(out.code(), exit::OK, "{out}");
    assert!(out.stdout.contains("hello: post-load ran"), "{out}");
    assert!(
        out.stdout.contains("a fresh state (no saved state)"),
        "{out}"
    );
    assert_eq!(
        out.started_steps(),
        ["check-health", "submit-greeting"],
        "{out}"
    );
    assert!(out.stdout.contains("━━ round 2/2 ━━"), "{out}");
    assert!(!t.tests().join("data/test_state.json").exists(), "{out}");
}

#[test]
fn a_selection_with_reset_removes_the_saved_state_it_would_contradict() {
    let t = stopped_in_round_2();
    let out = t.run_steps(&["--reset", "--step", "check-health"]);
    assert_eq!(out.code(), exit::OK, "{out}");
    assert!(out.stdout.contains("a fresh state (--reset)"), "{out}");
    assert!(
        out.stdout.contains("the next full run starts fresh"),
        "{out}"
    );
    assert_eq!(
        out.started_steps(),
        ["check-health", "check-health"],
        "{out}"
    );
    assert!(!t.tests().join("data/test_state.json").exists(), "{out}");
    let out = t.run_steps(&["--set", "fail_step=none"]);
    assert_eq!(out.code(), exit::OK, "{out}");
    assert!(
        out.stdout.contains("starting a fresh run (no saved state)"),
        "{out}"
    );
}

#[test]
fn bad_selections_are_refused_before_anything_starts() {
    let t = stopped_in_round_2();
    let saved = state_text(&t);
    let cases: [(&[&str], &str); 5] = [
        (
            &["--from", "chek-health"],
            "--from chek-health: no step of that name (did you mean check-health?)",
        ),
        (&["--step", "nothing*"], "--step nothing*: matches no step"),
        (
            &["--from", "summary", "--to", "check-health"],
            "--from summary comes after --to check-health",
        ),
        (
            &["--round", "3"],
            "--round 3: round 3 is not a round of this test, which has 2 rounds",
        ),
        (&["--rounds", "2..1"], "2..1 is empty"),
    ];
    for (flags, message) in cases {
        let out = t.run_steps(flags);
        assert_eq!(out.code(), exit::USAGE, "{flags:?}\n{out}");
        assert!(out.stderr.contains(message), "{flags:?}\n{out}");
        assert!(out.worker_pids().is_empty(), "{flags:?}\n{out}");
    }
    assert_eq!(state_text(&t), saved);
    // With --reset too: the saved state and data are kept when the rounds are refused.
    let out = t.run_steps(&["--reset", "--round", "3"]);
    assert_eq!(out.code(), exit::USAGE, "{out}");
    assert!(
        !out.stdout.contains("seeded") && !out.stdout.contains("removed"),
        "{out}"
    );
    assert_eq!(state_text(&t), saved);
}

#[test]
fn set_overrides_config_yaml_with_typed_values_and_warns_on_typos() {
    let t = TestDir::hello();
    let out = t.run_steps(&["--set", "max_rounds=1", "--set", "max_round=5"]);
    assert_eq!(out.code(), exit::OK, "{out}");
    assert!(out.stdout.contains("━━ round 1/1 ━━"), "{out}");
    assert!(
        out.stdout.contains(
            "warning: --set max_round=5: unknown key `max_round`; did you mean `max_rounds`?"
        ),
        "{out}"
    );
    let out = t.run_steps(&["--reset", "--set", "max_rounds=two"]);
    assert_eq!(out.code(), exit::USAGE, "{out}");
    assert!(out.stderr.contains("config.yaml with --set"), "{out}");
    assert!(out.stderr.contains("max_rounds"), "{out}");
    let out = t.run_steps(&["--set", "max_rounds"]);
    assert_eq!(out.code(), exit::USAGE, "{out}");
    assert!(
        out.stderr.contains("--set max_rounds: expected KEY=VALUE"),
        "{out}"
    );
}
