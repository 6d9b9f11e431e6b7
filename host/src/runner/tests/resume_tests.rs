//! `plan_start` + `run` across invocations: resume, `--reset`, completed runs, skips, and
//! the real state file.

use super::*;

#[tokio::test]
async fn resume_reruns_the_failed_step_and_not_the_ones_before() {
    let failing = FakeSteps::new(ABC).with(1, "b", Action::Trap("budget spent"));
    let mut checkpoint = MemoryCheckpoint::default();
    let first = invoke(&failing, &mut checkpoint, None, &options(2)).await;
    assert!(matches!(
        first.summary.outcome,
        RunOutcome::Failed {
            failure: StepFailure::Trapped { .. },
            ..
        }
    ));

    let steps = FakeSteps::new(ABC);
    let saved = checkpoint.last().clone();
    let mut checkpoint = MemoryCheckpoint::default();
    let out = invoke(&steps, &mut checkpoint, Some(saved), &options(2)).await;
    assert_eq!(
        out.resume,
        ResumePoint::Resumed {
            round: 1,
            after_step: Some("a".into())
        }
    );
    assert_eq!(
        steps.calls(),
        calls(&[(1, "b"), (1, "c"), (2, "a"), (2, "b"), (2, "c")])
    );
    // Resumed runs save only after steps: the saved state is already there.
    assert_eq!(checkpoint.saved.len(), 5);
    assert_eq!(checkpoint.last().get("calls").as_deref(), Some(&json!(6)));
    assert!(out.summary.is_passed());
}

#[tokio::test]
async fn failure_at_first_step_of_round_two_resumes_round_two_from_its_first_step() {
    let failing = FakeSteps::new(ABC).with(2, "a", Action::Err("no work yet"));
    let mut checkpoint = MemoryCheckpoint::default();
    invoke(&failing, &mut checkpoint, None, &options(3)).await;
    let saved = checkpoint.last().clone();
    assert_eq!(
        (saved.current_round, saved.last_completed_step.as_deref()),
        (2, None)
    );

    let steps = FakeSteps::new(ABC);
    let out = invoke(
        &steps,
        &mut MemoryCheckpoint::default(),
        Some(saved),
        &options(3),
    )
    .await;
    assert_eq!(
        out.resume,
        ResumePoint::Resumed {
            round: 2,
            after_step: None
        }
    );
    assert_eq!(
        steps.calls(),
        calls(&[(2, "a"), (2, "b"), (2, "c"), (3, "a"), (3, "b"), (3, "c")])
    );
    assert_eq!(out.summary.rounds_run, [2, 3]);
    assert!(out.summary.is_passed());
}

#[tokio::test]
async fn reset_after_a_completed_run_starts_at_round_one_and_runs_every_round() {
    let steps = FakeSteps::new(ABC);
    let completed = state_at(3, Some("c"));
    let mut checkpoint = MemoryCheckpoint::default();
    let reset = RunOptions {
        max_rounds: 3,
        reset: true,
    };
    let out = invoke(&steps, &mut checkpoint, Some(completed), &reset).await;
    assert_eq!(
        out.resume,
        ResumePoint::Fresh {
            reason: "--reset".into()
        }
    );
    assert_eq!(steps.calls().len(), 9);
    assert_eq!(steps.calls()[0], (1, "a".to_owned()));
    assert_eq!(out.summary.rounds_run, [1, 2, 3]);
    assert_eq!(checkpoint.saved[0], RunState::default());
}

#[tokio::test]
async fn completed_state_without_reset_starts_a_fresh_run() {
    let steps = FakeSteps::new(ABC);
    let mut completed = state_at(2, Some("c"));
    completed.global.insert("old".into(), json!(1));
    let out = invoke(
        &steps,
        &mut MemoryCheckpoint::default(),
        Some(completed),
        &options(2),
    )
    .await;
    assert_eq!(
        out.resume,
        ResumePoint::Fresh {
            reason: "the previous run completed all 2 rounds".into()
        }
    );
    assert_eq!(out.summary.passed, 6);
    assert_eq!(steps.calls()[0], (1, "a".to_owned()));
}

#[tokio::test]
async fn skipped_step_is_recorded_and_counts_as_completed() {
    let first = FakeSteps::new(ABC)
        .with(1, "b", Action::Skip("nothing to audit"))
        .with(1, "c", Action::Err("boom"));
    let mut checkpoint = MemoryCheckpoint::default();
    let out = invoke(&first, &mut checkpoint, None, &options(1)).await;
    assert_eq!(
        (out.summary.passed, out.summary.skipped, out.summary.failed),
        (1, 1, 1)
    );
    assert_eq!(
        out.summary.steps[1].status,
        StepStatus::Skipped("nothing to audit".into())
    );
    assert!(out.events.iter().any(|e| matches!(
        e,
        RunEvent::StepFinished { step, outcome: StepOutcome::Skipped(reason), .. }
            if step == "b" && reason == "nothing to audit"
    )));
    assert_eq!(checkpoint.last().last_completed_step.as_deref(), Some("b"));

    let steps = FakeSteps::new(ABC);
    let saved = checkpoint.last().clone();
    invoke(
        &steps,
        &mut MemoryCheckpoint::default(),
        Some(saved),
        &options(1),
    )
    .await;
    assert_eq!(steps.calls(), calls(&[(1, "c")]));
}

/// The whole loop with the real state file: fail, load what was written, resume.
#[tokio::test]
async fn resume_from_the_state_file_after_a_failure() {
    let dir = tempfile::tempdir().unwrap();
    let file = crate::store::StateFile::new(&dir.path().join("data"));
    let mut checkpoint = crate::store::JournalCheckpoint::new(file.clone());
    let opts = options(2);
    let recorder: Arc<dyn RunObserver> = Arc::new(Recorder::default());

    let failing = FakeSteps::new(ABC).with(2, "b", Action::Err("down"));
    let (state, resume) = plan_start(file.load().unwrap(), failing.manifest(), &opts).unwrap();
    let summary = run(
        &failing,
        &mut checkpoint,
        state,
        resume,
        &opts,
        recorder.clone(),
    )
    .await
    .unwrap();
    assert!(!summary.is_passed());

    let steps = FakeSteps::new(ABC);
    let (state, resume) = plan_start(file.load().unwrap(), steps.manifest(), &opts).unwrap();
    assert_eq!(
        resume,
        ResumePoint::Resumed {
            round: 2,
            after_step: Some("a".into())
        }
    );
    let mut checkpoint = crate::store::JournalCheckpoint::new(file.clone());
    let summary = run(&steps, &mut checkpoint, state, resume, &opts, recorder)
        .await
        .unwrap();
    assert!(summary.is_passed());
    assert_eq!(steps.calls(), calls(&[(2, "b"), (2, "c")]));
    let saved = file.load().unwrap().unwrap();
    assert_eq!(
        (saved.current_round, saved.last_completed_step.as_deref()),
        (2, Some("c"))
    );
    assert_eq!(saved.get("calls").as_deref(), Some(&json!(6)));
}
