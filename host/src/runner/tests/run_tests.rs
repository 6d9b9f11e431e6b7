//! `run` within one invocation: call order, checkpoints, failures, events, post-load.

use crate::error::UserFacing;

use super::*;

#[tokio::test]
async fn full_run_calls_steps_in_order_and_saves_after_each() {
    let steps = FakeSteps::new(ABC);
    let mut checkpoint = MemoryCheckpoint::default();
    let out = invoke(&steps, &mut checkpoint, None, &options(2)).await;

    assert_eq!(
        out.resume,
        ResumePoint::Fresh {
            reason: "no saved state".into()
        }
    );
    assert_eq!(
        steps.calls(),
        calls(&[(1, "a"), (1, "b"), (1, "c"), (2, "a"), (2, "b"), (2, "c")])
    );
    // The fresh state first, then one save per step.
    assert_eq!(checkpoint.saved.len(), 7);
    assert_eq!(checkpoint.saved[0], RunState::default());
    let positions: Vec<(u32, Option<&str>)> = checkpoint
        .saved
        .iter()
        .map(|s| (s.current_round, s.last_completed_step.as_deref()))
        .collect();
    assert_eq!(
        positions,
        [
            (1, None),
            (1, Some("a")),
            (1, Some("b")),
            (2, None),
            (2, Some("a")),
            (2, Some("b")),
            (2, Some("c"))
        ]
    );
    let last = checkpoint.last();
    assert_eq!(
        serde_json::to_value(last).unwrap(),
        json!({
            "rounds": {"1": {"a": 1, "b": 1, "c": 1}, "2": {"a": 2, "b": 2, "c": 2}},
            "global": {"calls": 6},
            "current_round": 2,
            "last_completed_step": "c"
        })
    );
    let summary = &out.summary;
    assert!(summary.is_passed());
    assert_eq!((summary.passed, summary.skipped, summary.failed), (6, 0, 0));
    assert_eq!(summary.rounds_run, [1, 2]);
    assert_eq!(summary.steps.len(), 6);
    assert!(summary.steps.iter().all(|r| r.status == StepStatus::Passed));
}

#[tokio::test]
async fn failure_stops_the_run_and_drops_the_failed_steps_writes() {
    let steps = FakeSteps::new(ABC).with(1, "b", Action::Err("server said no"));
    let mut checkpoint = MemoryCheckpoint::default();
    let out = invoke(&steps, &mut checkpoint, None, &options(2)).await;

    assert_eq!(steps.calls(), calls(&[(1, "a"), (1, "b")]));
    let last = checkpoint.last();
    assert_eq!(
        (last.current_round, last.last_completed_step.as_deref()),
        (1, Some("a"))
    );
    assert_eq!(last.get("a").as_deref(), Some(&json!(1)));
    assert_eq!(last.get("b"), None, "the failed step's set was saved");
    assert_eq!(last.get("calls").as_deref(), Some(&json!(1)));

    let failure = StepFailure::Failed {
        phase: Phase::Execute,
        message: "server said no".into(),
    };
    assert_eq!(
        out.summary.outcome,
        RunOutcome::Failed {
            round: 1,
            step: "b".into(),
            worker: "worker1".into(),
            failure: failure.clone()
        }
    );
    assert_eq!((out.summary.passed, out.summary.failed), (1, 1));
    assert_eq!(out.summary.steps[1].status, StepStatus::Failed(failure));
    assert!(matches!(out.events.last(), Some(RunEvent::StepFailed { step, .. }) if step == "b"));
    assert!(
        !out.events
            .iter()
            .any(|e| matches!(e, RunEvent::RoundFinished { .. }))
    );
}

#[tokio::test]
async fn events_come_in_order_with_step_logs() {
    let steps = FakeSteps::new(&["a", "b"]);
    let out = invoke(&steps, &mut MemoryCheckpoint::default(), None, &options(1)).await;
    let names: Vec<String> = out
        .events
        .iter()
        .map(|event| match event {
            RunEvent::RunStarted {
                max_rounds, steps, ..
            } => format!("run {max_rounds}x{steps}"),
            RunEvent::RoundStarted { round, .. } => format!("round {round}"),
            RunEvent::StepStarted {
                index,
                total,
                step,
                description,
                ..
            } => {
                format!("start {step} {}/{total} {description}", index + 1)
            }
            RunEvent::StepLogged {
                round,
                step,
                level,
                message,
            } => {
                format!("log {round} {step} {level:?} {message}")
            }
            RunEvent::StepFinished { step, .. } => format!("done {step}"),
            RunEvent::RoundFinished { round } => format!("end {round}"),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(
        names,
        [
            "run 1x2",
            "round 1",
            "start a 1/2 does a",
            "log 1 a Info running a",
            "done a",
            "start b 2/2 does b",
            "log 1 b Info running b",
            "done b",
            "end 1"
        ]
    );
}

#[tokio::test]
async fn checkpoint_error_aborts_the_run_naming_the_path() {
    let steps = FakeSteps::new(ABC);
    // Save 0 is the fresh state, save 2 the one after step "b".
    let mut checkpoint = MemoryCheckpoint {
        fail_at: Some(2),
        ..Default::default()
    };
    let (state, resume) = plan_start(None, steps.manifest(), &options(1)).unwrap();
    let recorder = Arc::new(Recorder::default());
    let err = run(
        &steps,
        &mut checkpoint,
        state,
        resume,
        &options(1),
        recorder.clone(),
    )
    .await
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"cannot save the run state after step "b" of round 1"#
    );
    let source = std::error::Error::source(&err).expect("a cause");
    assert_eq!(
        source.to_string(),
        "cannot write state file /data/test_state.json"
    );
    assert!(err.hint().is_some());
    assert_eq!(steps.calls(), calls(&[(1, "a"), (1, "b")]));
    let finished = recorder
        .events()
        .iter()
        .filter(|e| matches!(e, RunEvent::StepFinished { .. }))
        .count();
    assert_eq!(
        finished, 1,
        "a step whose state was not saved is not reported finished"
    );
}

#[tokio::test]
async fn run_refuses_states_that_do_not_fit() {
    let steps = FakeSteps::new(ABC);
    let recorder: Arc<dyn RunObserver> = Arc::new(Recorder::default());
    let resumed = ResumePoint::Resumed {
        round: 1,
        after_step: None,
    };
    for (state, expected) in [
        (
            state_at(99, None),
            "state file says round 99 but the test has 2 rounds",
        ),
        (
            state_at(2, Some("c")),
            "the state says all 2 rounds already completed",
        ),
    ] {
        let mut checkpoint = MemoryCheckpoint::default();
        let err = run(
            &steps,
            &mut checkpoint,
            state,
            resumed.clone(),
            &options(2),
            recorder.clone(),
        )
        .await
        .unwrap_err();
        assert_eq!(err.to_string(), expected);
        assert!(checkpoint.saved.is_empty());
    }
    assert!(steps.calls().is_empty());
}

#[tokio::test]
async fn post_load_applies_its_writes_only_on_success() {
    let mut steps = FakeSteps::new(ABC);
    let recorder = Arc::new(Recorder::default());
    let mut state = RunState::default();
    post_load(&steps, &mut state, recorder.clone())
        .await
        .unwrap();
    assert_eq!(state.get("post_loaded").as_deref(), Some(&json!(true)));
    let events = recorder.events();
    assert_eq!(events[0], RunEvent::PostLoadStarted);
    assert!(matches!(
        &events[1],
        RunEvent::StepLogged { round: 1, step, level: LogLevel::Debug, .. } if step == POST_LOAD_STEP
    ));
    assert!(matches!(events[2], RunEvent::PostLoadFinished { .. }));

    steps.post_load = Some(Action::Err("seed missing"));
    let recorder = Arc::new(Recorder::default());
    let mut state = RunState::default();
    let failure = post_load(&steps, &mut state, recorder.clone())
        .await
        .unwrap_err();
    assert_eq!(
        failure.to_string(),
        "post-load returned an error: seed missing"
    );
    assert_eq!(state, RunState::default());
    assert!(
        !recorder
            .events()
            .iter()
            .any(|e| matches!(e, RunEvent::PostLoadFinished { .. }))
    );
}

/// The CLI may race the run against Ctrl-C or spawn it: its future must be `Send` when
/// the steps are `Sync` and the checkpoint `Send`.
#[test]
fn run_future_is_send() {
    fn assert_send<T: Send>(_: T) {}
    let steps = FakeSteps::new(ABC);
    let mut checkpoint = MemoryCheckpoint::default();
    let (state, resume) = plan_start(None, steps.manifest(), &options(1)).unwrap();
    let observer: Arc<dyn RunObserver> = Arc::new(Recorder::default());
    assert_send(run(
        &steps,
        &mut checkpoint,
        state,
        resume,
        &options(1),
        observer.clone(),
    ));
    assert_send(post_load(&steps, &mut RunState::default(), observer));
}

#[tokio::test]
async fn a_recorded_failure_names_its_recording_after_the_failure() {
    let steps = FakeSteps::new(ABC).with(1, "b", Action::ErrRecorded("server said no"));
    let mut checkpoint = MemoryCheckpoint::default();
    let out = invoke(&steps, &mut checkpoint, None, &options(2)).await;
    let n = out.events.len();
    assert!(
        matches!(&out.events[n - 2], RunEvent::StepFailed { step, .. } if step == "b"),
        "{:?}",
        out.events
    );
    assert_eq!(
        out.events[n - 1],
        RunEvent::StepRecorded {
            round: 1,
            step: "b".into(),
            path: "/data/recording.jsonl".into(),
        }
    );
    assert_eq!(
        crate::runner::replay_command(std::path::Path::new("/data/my run/rec.jsonl"), "b", 1),
        "prometheus-wasm replay '/data/my run/rec.jsonl' --step b --round 1"
    );
}
