//! `plan_start`: fresh or resumed, and the saved states it refuses.

use crate::error::UserFacing;

use super::*;

fn plan(existing: Option<RunState>, max_rounds: u32) -> Result<(RunState, ResumePoint), RunError> {
    plan_start(
        existing,
        FakeSteps::new(ABC).manifest(),
        &options(max_rounds),
    )
}

#[test]
fn no_saved_state_is_a_fresh_start() {
    let (state, resume) = plan(None, 3).unwrap();
    assert_eq!(state, RunState::default());
    assert_eq!(
        resume,
        ResumePoint::Fresh {
            reason: "no saved state".into()
        }
    );
    assert_eq!(resume.to_string(), "starting a fresh run (no saved state)");
}

#[test]
fn reset_always_starts_at_round_one_with_an_empty_state() {
    let mut saved = state_at(2, Some("b"));
    saved.global.insert("x".into(), json!(1));
    let manifest = FakeSteps::new(ABC);
    let reset = RunOptions {
        max_rounds: 3,
        reset: true,
    };
    let (state, resume) = plan_start(Some(saved), manifest.manifest(), &reset).unwrap();
    assert_eq!(state, RunState::default());
    assert_eq!(
        resume,
        ResumePoint::Fresh {
            reason: "--reset".into()
        }
    );
}

#[test]
fn reset_ignores_a_saved_state_that_does_not_fit() {
    let manifest = FakeSteps::new(ABC);
    let reset = RunOptions {
        max_rounds: 3,
        reset: true,
    };
    let (state, _) = plan_start(
        Some(state_at(99, Some("gone"))),
        manifest.manifest(),
        &reset,
    )
    .unwrap();
    assert_eq!(state.current_round, 1);
}

#[test]
fn saved_state_resumes_after_its_last_completed_step() {
    let mut saved = state_at(2, Some("b"));
    saved.rounds.insert("2".into(), json!({"a": 2}));
    let (state, resume) = plan(Some(saved.clone()), 3).unwrap();
    assert_eq!(state, saved);
    assert_eq!(
        resume,
        ResumePoint::Resumed {
            round: 2,
            after_step: Some("b".into())
        }
    );
    assert_eq!(resume.to_string(), "resuming round 2 after step b");

    let (_, resume) = plan(Some(state_at(2, None)), 3).unwrap();
    assert_eq!(
        resume,
        ResumePoint::Resumed {
            round: 2,
            after_step: None
        }
    );
}

#[test]
fn state_saved_after_a_rounds_last_step_resumes_at_the_next_round() {
    // The Python runner saved this between a round's last step and `next_round`.
    let (state, resume) = plan(Some(state_at(1, Some("c"))), 3).unwrap();
    assert_eq!(
        resume,
        ResumePoint::Resumed {
            round: 2,
            after_step: None
        }
    );
    assert_eq!((state.current_round, state.last_completed_step), (2, None));
}

#[test]
fn completed_run_starts_fresh_with_the_reason() {
    let (state, resume) = plan(Some(state_at(1, Some("c"))), 1).unwrap();
    assert_eq!(state, RunState::default());
    assert_eq!(
        resume,
        ResumePoint::Fresh {
            reason: "the previous run completed all 1 round".into()
        }
    );
}

#[test]
fn round_past_the_last_is_an_error() {
    // The reference ran zero steps and exited 0 on this file.
    let saved: RunState = serde_json::from_str(r#"{"current_round": 99}"#).unwrap();
    let err = plan(Some(saved), 3).unwrap_err();
    assert!(matches!(
        err,
        RunError::RoundOutOfRange {
            round: 99,
            max_rounds: 3
        }
    ));
    assert_eq!(
        err.to_string(),
        "state file says round 99 but the test has 3 rounds"
    );
    assert!(err.hint().unwrap().contains("--reset"));

    let err = plan(Some(state_at(0, None)), 3).unwrap_err();
    assert_eq!(
        err.to_string(),
        "state file says round 0 but the test has 3 rounds"
    );
}

#[test]
fn renamed_step_is_steps_changed() {
    let err = plan(Some(state_at(1, Some("old_name"))), 3).unwrap_err();
    assert!(matches!(&err, RunError::StepsChanged { step, .. } if step == "old_name"));
    assert_eq!(
        err.to_string(),
        r#"state file says the last completed step is "old_name", which is not a step of this test (steps: a, b, c)"#
    );
    assert_eq!(
        err.hint().as_deref(),
        Some("the steps changed since the saved run; run with --reset to start over")
    );
}

#[test]
fn tests_that_cannot_run_are_refused() {
    let empty = plan_start(None, &[], &options(3)).unwrap_err();
    assert!(matches!(empty, RunError::EmptyManifest));
    assert_eq!(empty.to_string(), "the step package declares no steps");

    assert!(matches!(plan(None, 0).unwrap_err(), RunError::NoRounds));

    let twice = FakeSteps::new(&["a", "b", "a"]);
    let err = plan_start(None, twice.manifest(), &options(1)).unwrap_err();
    assert!(matches!(&err, RunError::DuplicateStep { step } if step == "a"));
}
