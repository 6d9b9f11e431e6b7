//! Selective runs: which steps and rounds a selection resolves to, its refusals, and
//! that running it saves nothing.

use crate::error::UserFacing;

use super::*;

fn spec(patterns: &[&str], from: Option<&str>, to: Option<&str>) -> SelectSpec {
    SelectSpec {
        patterns: patterns.iter().map(|p| (*p).to_owned()).collect(),
        from: from.map(str::to_owned),
        to: to.map(str::to_owned),
        rounds: None,
    }
}

fn names(steps: &FakeSteps, selection: &Selection) -> Vec<String> {
    selection
        .steps
        .iter()
        .map(|i| steps.manifest()[*i].name.clone())
        .collect()
}

#[test]
fn globs_and_ranges_select_in_manifest_order() {
    let steps = FakeSteps::new(&["check-health", "submit-a", "submit-b", "audit", "summary"]);
    let m = steps.manifest();
    let s = spec(&["summary", "submit-*"], None, None)
        .resolve(m, 2)
        .unwrap();
    assert_eq!(names(&steps, &s), ["submit-a", "submit-b", "summary"]);
    assert_eq!(s.rounds, 1..=2);
    let s = spec(&[], Some("submit-b"), Some("audit"))
        .resolve(m, 2)
        .unwrap();
    assert_eq!(names(&steps, &s), ["submit-b", "audit"]);
    let s = spec(&["*"], Some("audit"), None).resolve(m, 2).unwrap();
    assert_eq!(names(&steps, &s), ["audit", "summary"]);
    let s = spec(&["s?bmit-[ab]"], None, Some("submit-a"))
        .resolve(m, 2)
        .unwrap();
    assert_eq!(names(&steps, &s), ["submit-a"]);
}

#[test]
fn unknown_names_and_empty_selections_are_refused_with_suggestions() {
    let steps = FakeSteps::new(&["check-health", "submit", "summary"]);
    let m = steps.manifest();
    let e = spec(&[], Some("chek-health"), None)
        .resolve(m, 1)
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "--from chek-health: no step of that name (did you mean check-health?); the steps are: check-health, submit, summary"
    );
    let e = spec(&["sumary"], None, None).resolve(m, 1).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("--step sumary: matches no step (did you mean summary?)"),
        "{e}"
    );
    let e = spec(&["nothing*"], None, None).resolve(m, 1).unwrap_err();
    assert!(
        matches!(
            e,
            SelectError::NoMatch {
                suggestion: None,
                ..
            }
        ),
        "{e}"
    );
    let e = spec(&[], Some("summary"), Some("submit"))
        .resolve(m, 1)
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "--from summary comes after --to submit in the manifest: the range is empty"
    );
    let e = spec(&["check-*"], Some("submit"), None)
        .resolve(m, 1)
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "the selection (--step check-* --from submit) leaves no step to run"
    );
    let e = spec(&["[a"], None, None).resolve(m, 1).unwrap_err();
    assert!(matches!(e, SelectError::BadPattern { .. }), "{e}");
    assert!(e.hint().is_some());
}

#[test]
fn rounds_must_lie_within_the_test() {
    let steps = FakeSteps::new(ABC);
    let m = steps.manifest();
    let mut s = spec(&[], None, None);
    s.rounds = Some(2..=3);
    let e = s.resolve(m, 3).unwrap();
    assert_eq!(e.rounds, 2..=3);
    assert_eq!(e.steps, [0, 1, 2]);
    let e = s.resolve(m, 2).unwrap_err();
    assert_eq!(
        e.to_string(),
        "--rounds 2..3: round 3 is not a round of this test, which has 2 rounds"
    );
    s.rounds = Some(0..=0);
    let e = s.resolve(m, 2).unwrap_err();
    assert!(e.to_string().starts_with("--round 0: round 0"), "{e}");
}

#[tokio::test]
async fn selected_steps_run_on_the_copy_and_stop_at_a_failure() {
    let steps = FakeSteps::new(ABC).with(2, "c", Action::Err("boom"));
    let mut s = spec(&["a", "c"], None, None);
    s.rounds = Some(1..=2);
    let selection = s.resolve(steps.manifest(), 3).unwrap();
    let recorder = Arc::new(Recorder::default());
    let summary = run_selected(
        &steps,
        state_at(3, Some("b")),
        &selection,
        3,
        ResumePoint::Selected {
            selection: s.describe(),
            base: "a test state".into(),
        },
        recorder.clone(),
    )
    .await;
    assert_eq!(
        steps.calls(),
        calls(&[(1, "a"), (1, "c"), (2, "a"), (2, "c")])
    );
    assert_eq!(summary.passed, 3);
    assert_eq!(summary.failed, 1);
    assert!(matches!(
        summary.outcome,
        RunOutcome::Failed { round: 2, .. }
    ));
    let rounds: Vec<u32> = recorder
        .events()
        .iter()
        .filter_map(|e| match e {
            RunEvent::RoundStarted {
                round,
                max_rounds: 3,
            } => Some(*round),
            _ => None,
        })
        .collect();
    assert_eq!(rounds, [1, 2]);
}
