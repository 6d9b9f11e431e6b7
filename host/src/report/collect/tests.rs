//! The collector and the results journal together, fed synthetic [`RunEvent`]s: one
//! invocation, a failed one resumed by another, a crash's torn record, a newer format.

use std::time::Duration;

use super::*;
use crate::model::{CallKind, LogLevel, Phase, StepFailure};
use crate::report::history::RESULTS_FILE_NAME;
use crate::report::model::CaseStatus;

/// Two rounds of three steps on two workers.
pub(crate) fn outline() -> Outline {
    Outline {
        max_rounds: 2,
        steps: vec![
            ("fetch".into(), "worker1".into()),
            ("submit".into(), "worker1".into()),
            ("audit".into(), "worker2".into()),
        ],
        selection: None,
    }
}

pub(crate) fn package() -> PackageId {
    PackageId {
        name: None,
        version: None,
        file: "steps.wasm".into(),
        sha256: "0123456789abcdef0123".into(),
    }
}

pub(crate) fn fresh() -> ResumePoint {
    ResumePoint::Fresh {
        reason: "no saved state".into(),
    }
}

/// Feeds one step: started, a log line, an HTTP call, then `end`.
pub(crate) fn step(c: &ReportCollector, round: u32, step: &str, worker: &str, end: End) {
    let s = step.to_owned();
    c.event(&RunEvent::StepStarted {
        round,
        index: 0,
        total: 3,
        step: s.clone(),
        description: String::new(),
        worker: worker.into(),
    });
    c.event(&RunEvent::StepLogged {
        round,
        step: s.clone(),
        level: LogLevel::Info,
        message: format!("{step} says <script>alert('s3cret')</script>"),
    });
    c.event(&RunEvent::HostCalled {
        round,
        step: s.clone(),
        call: HostCall {
            kind: CallKind::Http,
            summary: format!("POST http://127.0.0.1:5001/{step} -> 500"),
            request: "content-type: application/json\n\n{\"token\":\"s3cret\"}".into(),
            response: "HTTP/1.1 500\n\nboom".into(),
            failed: false,
            duration: Duration::from_millis(2),
        },
    });
    let duration = Duration::from_millis(5);
    let worker = worker.to_owned();
    c.event(&match end {
        End::Pass => RunEvent::StepFinished {
            round,
            step: s,
            worker,
            outcome: StepOutcome::Done(serde_json::Value::Null),
            duration,
        },
        End::Skip => RunEvent::StepFinished {
            round,
            step: s,
            worker,
            outcome: StepOutcome::Skipped("odd \"round\"".into()),
            duration,
        },
        End::Fail => RunEvent::StepFailed {
            round,
            step: s,
            worker,
            failure: StepFailure::Failed {
                phase: Phase::Execute,
                message: "bad <token> s3cret & more\nline two".into(),
            },
            duration,
        },
    });
}

/// How a synthetic step ends.
#[derive(Clone, Copy)]
pub(crate) enum End {
    Pass,
    Skip,
    Fail,
}

pub(crate) fn redactor() -> Redactor {
    Redactor::new(["s3cret".to_string()])
}

/// A run that fails at round 1's `audit`, then is resumed and passes: the whole story.
pub(crate) fn red_then_green(journal: &Path) -> ReportCollector {
    let (first, _) = ReportCollector::start(Some(journal), outline(), &fresh(), redactor())
        .expect("journal created");
    step(&first, 1, "fetch", "worker1", End::Pass);
    step(&first, 1, "submit", "worker1", End::Pass);
    step(&first, 1, "audit", "worker2", End::Fail);
    drop(first);
    let resume = ResumePoint::Resumed {
        round: 1,
        after_step: Some("submit".into()),
    };
    let (second, started) = ReportCollector::start(Some(journal), outline(), &resume, redactor())
        .expect("journal reopened");
    assert_eq!(started.earlier_invocations, 1);
    assert!(!started.history_missing && !started.torn_tail);
    step(&second, 1, "audit", "worker2", End::Pass);
    for (name, worker) in [("fetch", "worker1"), ("submit", "worker1")] {
        step(&second, 2, name, worker, End::Pass);
    }
    step(&second, 2, "audit", "worker2", End::Skip);
    second
}

#[test]
fn a_failed_then_resumed_run_keeps_both_attempts() {
    let dir = tempfile::tempdir().expect("temp dir");
    let journal = dir.path().join(RESULTS_FILE_NAME);
    let c = red_then_green(&journal);
    assert!(c.take_error().is_none());
    let package = package();
    c.with_report(&package, |r| {
        assert_eq!(r.invocations.len(), 2);
        assert!(r.resumed());
        assert_eq!(r.totals.tests, 6);
        assert_eq!(
            (
                r.totals.passed,
                r.totals.skipped,
                r.totals.failed,
                r.totals.flaky
            ),
            (5, 1, 0, 1)
        );
        let audit = &r.cases[2];
        assert_eq!((audit.step, audit.status), ("audit", CaseStatus::Passed));
        assert_eq!(audit.attempts.len(), 2);
        assert_eq!(audit.attempts[0].invocation, 1);
        assert_eq!(audit.attempts[1].invocation, 2);
        assert!(audit.is_flaky());
        // Logs and calls are kept per attempt, redacted.
        assert_eq!(audit.attempts[0].calls.len(), 1);
        assert!(!audit.attempts[0].calls[0].request.contains("s3cret"));
        assert!(audit.attempts[0].logs[0].message.contains("***"));
    });
}

#[test]
fn a_torn_last_record_is_ignored_and_cut_before_appending() {
    let dir = tempfile::tempdir().expect("temp dir");
    let journal = dir.path().join(RESULTS_FILE_NAME);
    let (first, _) = ReportCollector::start(Some(&journal), outline(), &fresh(), redactor())
        .expect("journal created");
    step(&first, 1, "fetch", "worker1", End::Pass);
    drop(first);
    // A crash in the middle of the next append.
    let mut bytes = std::fs::read(&journal).expect("journal");
    bytes.extend_from_slice(br#"{"record":"step","invocation":1,"round":1,"st"#);
    std::fs::write(&journal, &bytes).expect("torn write");
    let resume = ResumePoint::Resumed {
        round: 1,
        after_step: Some("fetch".into()),
    };
    let (second, started) = ReportCollector::start(Some(&journal), outline(), &resume, redactor())
        .expect("journal reopened");
    assert!(started.torn_tail);
    step(&second, 1, "submit", "worker1", End::Pass);
    drop(second);
    let read = history::read(&journal).expect("readable").expect("exists");
    assert!(
        !read.torn_tail,
        "the torn record was cut off before appending"
    );
    let steps: Vec<&str> = read
        .entries
        .iter()
        .filter_map(|e| match e {
            Entry::Step(s) => Some(s.step.as_str()),
            Entry::Invocation(_) | Entry::Interrupted(_) => None,
        })
        .collect();
    assert_eq!(steps, ["fetch", "submit"]);
}

#[test]
fn a_newer_journal_is_refused_and_a_damaged_middle_line_named() {
    let dir = tempfile::tempdir().expect("temp dir");
    let journal = dir.path().join(RESULTS_FILE_NAME);
    let resume = ResumePoint::Resumed {
        round: 1,
        after_step: None,
    };
    std::fs::write(
        &journal,
        "{\"journal\":\"prometheus-wasm results journal\",\"version\":99}\n",
    )
    .expect("write");
    let err = ReportCollector::start(Some(&journal), outline(), &resume, redactor())
        .err()
        .expect("refused");
    assert!(err.to_string().contains("format version 99"), "{err}");
    std::fs::write(
        &journal,
        "{\"journal\":\"prometheus-wasm results journal\",\"version\":1}\nnot json\n{}\n",
    )
    .expect("write");
    let err = ReportCollector::start(Some(&journal), outline(), &resume, redactor())
        .err()
        .expect("refused");
    assert!(err.to_string().contains("damaged at line 2"), "{err}");
    assert!(
        err.to_string().contains(&journal.display().to_string()),
        "{err}"
    );
}

#[test]
fn a_fresh_run_starts_a_new_journal_and_a_resume_without_one_says_so() {
    let dir = tempfile::tempdir().expect("temp dir");
    let journal = dir.path().join(RESULTS_FILE_NAME);
    drop(red_then_green(&journal));
    let (c, _) = ReportCollector::start(Some(&journal), outline(), &fresh(), redactor())
        .expect("new journal");
    let package = package();
    c.with_report(&package, |r| {
        assert_eq!(r.invocations.len(), 1);
        assert_eq!(r.totals.not_run, 6);
        assert_eq!(
            r.cases[0].reason.as_deref(),
            Some("not reached: no step ran")
        );
    });
    std::fs::remove_file(&journal).expect("removed");
    let resume = ResumePoint::Resumed {
        round: 2,
        after_step: Some("fetch".into()),
    };
    let (c, started) = ReportCollector::start(Some(&journal), outline(), &resume, redactor())
        .expect("journal created");
    assert!(started.history_missing);
    step(&c, 2, "submit", "worker1", End::Fail);
    c.with_report(&package, |r| {
        let reasons: Vec<Option<&str>> = r.cases.iter().map(|c| c.reason.as_deref()).collect();
        let earlier = Some("completed by an earlier invocation whose results were not kept");
        let stopped = Some("not reached: the run stopped at round 2, step submit (failed)");
        assert_eq!(
            reasons,
            [earlier, earlier, earlier, earlier, None, stopped],
            "round 2's fetch ran before the resume point"
        );
    });
}

#[test]
fn an_interrupted_run_says_so_and_its_resumption_clears_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let journal = dir.path().join(RESULTS_FILE_NAME);
    let (first, _) = ReportCollector::start(Some(&journal), outline(), &fresh(), redactor())
        .expect("journal created");
    step(&first, 1, "fetch", "worker1", End::Pass);
    first.interrupted("SIGTERM");
    let package = package();
    first.with_report(&package, |r| {
        assert_eq!(r.outcome(), "interrupted");
        assert_eq!(
            r.cases[1].reason.as_deref(),
            Some("not reached: the run was stopped by SIGTERM after round 1, step fetch")
        );
    });
    drop(first);
    let resume = ResumePoint::Resumed {
        round: 1,
        after_step: Some("fetch".into()),
    };
    let (second, _) = ReportCollector::start(Some(&journal), outline(), &resume, redactor())
        .expect("journal reopened");
    step(&second, 1, "submit", "worker1", End::Fail);
    second.with_report(&package, |r| {
        assert_eq!(r.outcome(), "failed");
        assert!(r.interrupted.is_none());
        assert_eq!(
            r.cases[2].reason.as_deref(),
            Some("not reached: the run stopped at round 1, step submit (failed)")
        );
    });
}

#[test]
fn steps_a_selection_left_out_are_not_selected_not_unreached() {
    let mut outline = outline();
    outline.selection = Some(std::sync::Arc::new(|round, step: &str| {
        round == 1 && step != "audit"
    }));
    let (c, _) = ReportCollector::start(None, outline, &fresh(), redactor()).expect("in memory");
    step(&c, 1, "fetch", "worker1", End::Pass);
    step(&c, 1, "submit", "worker1", End::Pass);
    let package = package();
    c.with_report(&package, |r| {
        let reasons: Vec<Option<&str>> = r.cases.iter().map(|c| c.reason.as_deref()).collect();
        let not = Some("not selected");
        assert_eq!(reasons, [None, None, not, not, not, not]);
        assert_eq!(r.outcome(), "passed");
    });
}

#[test]
fn a_failed_post_load_is_a_case_with_its_log_and_why_nothing_ran() {
    let (c, _) = ReportCollector::start(None, outline(), &fresh(), redactor()).expect("in memory");
    assert!(
        !c.post_load_failed("not running"),
        "post-load did not start"
    );
    c.event(&RunEvent::PostLoadStarted);
    c.event(&RunEvent::StepLogged {
        round: 1,
        step: crate::runner::POST_LOAD_STEP.into(),
        level: LogLevel::Warn,
        message: "seeding s3cret".into(),
    });
    assert!(c.post_load_failed("post-load failed: boom"));
    let package = package();
    c.with_report(&package, |r| {
        assert_eq!(r.cases.len(), 7);
        let post_load = &r.cases[0];
        assert_eq!((post_load.round, post_load.step), (0, "post-load"));
        assert_eq!(post_load.status, CaseStatus::Failed);
        assert_eq!(post_load.attempts[0].logs[0].message, "seeding ***");
        assert_eq!(
            r.cases[1].reason.as_deref(),
            Some("not reached: post-load failed")
        );
        let xml = crate::report::junit::render(r, &redactor());
        assert!(
            xml.contains(r#"<testsuite name="post-load" tests="1" failures="1""#),
            "{xml}"
        );
        assert!(xml.contains("[warn] seeding ***"), "{xml}");
    });
}

/// A failed step's recording reaches its failure text, so JUnit, JSON and HTML all name the
/// file and the replay command.
#[test]
fn a_recorded_failure_names_its_recording_and_replay_command() {
    let (c, _) = ReportCollector::start(None, outline(), &fresh(), redactor()).expect("collector");
    step(&c, 1, "fetch", "worker1", End::Fail);
    c.event(&RunEvent::StepRecorded {
        round: 1,
        step: "fetch".into(),
        path: "data/recording.jsonl".into(),
    });
    c.with_report(&package(), |r| {
        let detail = r.cases[0].attempts[0]
            .detail
            .as_deref()
            .expect("a failure text");
        assert!(detail.contains("bad <token> *** & more"), "{detail}");
        assert!(
            detail.ends_with(
                "recorded in data/recording.jsonl; replay it without workers: \
                 prometheus-wasm replay data/recording.jsonl --step fetch --round 1"
            ),
            "{detail}"
        );
    });
}
