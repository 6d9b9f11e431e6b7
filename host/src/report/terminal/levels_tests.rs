//! Output levels on synthetic events: `-q`, default, `-vv` host calls, and the context a
//! failed step always shows.

use std::time::Duration;

use super::tests::Buf;
use super::*;
use crate::model::{CallKind, HostCall, Phase, StepFailure};
use crate::runner::{ResumePoint, RunOutcome};

fn call(n: u32, failed: bool) -> HostCall {
    HostCall {
        kind: CallKind::Http,
        summary: format!(
            "POST http://127.0.0.1:5001/t{n} -> {}",
            if failed { "500" } else { "200" }
        ),
        request: format!(
            "content-type: application/json\n\n{{\"n\":{n},\"key\":\"hunter2-secret\"}}"
        ),
        response: "HTTP/1.1 500\n\nno".into(),
        failed,
        duration: Duration::from_millis(4),
    }
}

/// A run of one passing and one failing step with host calls and worker lines, at
/// `verbosity`.
fn run_at(verbosity: Verbosity) -> String {
    let buf = Buf::default();
    let report = TerminalReport::new(
        Box::new(buf.clone()),
        Redactor::new(["hunter2-secret".to_string()]),
        LogLevel::Info,
        false,
    )
    .with_verbosity(verbosity);
    report.note("starting 1 worker(s)…");
    report.event(&RunEvent::RunStarted {
        max_rounds: 1,
        steps: 2,
        resume: ResumePoint::Fresh {
            reason: "no saved state".into(),
        },
    });
    for (index, step) in ["ok-step", "bad-step"].into_iter().enumerate() {
        report.event(&RunEvent::StepStarted {
            round: 1,
            index,
            total: 2,
            step: step.into(),
            description: "d".into(),
            worker: "worker1".into(),
        });
        report.event(&RunEvent::StepLogged {
            round: 1,
            step: step.into(),
            level: LogLevel::Debug,
            message: format!("debug of {step}"),
        });
        for n in 0..7 {
            report.event(&RunEvent::HostCalled {
                round: 1,
                step: step.into(),
                call: call(n + 10 * index as u32, index == 1 && n == 6),
            });
        }
        report.worker_line("worker1", true, &format!("worker saw {step}"));
    }
    report.event(&RunEvent::StepFinished {
        round: 1,
        step: "ok-step".into(),
        worker: "worker1".into(),
        outcome: StepOutcome::Done(serde_json::json!(null)),
        duration: Duration::from_millis(1),
    });
    let failure = StepFailure::Failed {
        phase: Phase::Execute,
        message: "status 500".into(),
    };
    report.event(&RunEvent::StepFailed {
        round: 1,
        step: "bad-step".into(),
        worker: "worker1".into(),
        failure: failure.clone(),
        duration: Duration::from_millis(2),
    });
    let mut summary = crate::runner::RunSummary {
        rounds_run: vec![1],
        steps: Vec::new(),
        passed: 1,
        skipped: 0,
        failed: 1,
        outcome: RunOutcome::Passed,
        total_duration: Duration::from_millis(3),
    };
    summary.outcome = RunOutcome::Failed {
        round: 1,
        step: "bad-step".into(),
        worker: "worker1".into(),
        failure,
    };
    report.summary(&summary);
    buf.text()
}

#[test]
fn quiet_shows_the_failure_with_its_context_and_the_closing_line_only() {
    let text = run_at(Verbosity::Quiet);
    let expected =
        "  ✗ bad-step failed (round 1, worker worker1, 2 ms): execute returned an error: status 500
    last 5 of 7 host calls:
      ⇄ http POST http://127.0.0.1:5001/t12 -> 200 (4 ms)
          > content-type: application/json
          > 
          > {\"n\":12,\"key\":\"***\"}
          < HTTP/1.1 500
          < 
          < no
";
    assert!(text.starts_with(expected), "{text}");
    assert!(
        text.contains("      ✗ http POST http://127.0.0.1:5001/t16 -> 500 (4 ms)\n"),
        "{text}"
    );
    assert!(
        text.contains("    last output of worker worker1:\n      [worker1 ERR] worker saw ok-step\n      [worker1 ERR] worker saw bad-step\n"),
        "{text}"
    );
    assert!(text.ends_with(
        "FAILED at round 1, step bad-step (worker worker1): execute returned an error: status 500: 1 passed, 0 skipped, 1 failed in 3 ms\n"
    ), "{text}");
    for hidden in ["starting", "run:", "▶", "✓", "debug of", "round  step"] {
        assert!(!text.contains(hidden), "-q shows `{hidden}`:\n{text}");
    }
    assert!(!text.contains("hunter2"), "{text}");
}

#[test]
fn default_shows_steps_and_the_failure_context_but_not_every_call() {
    let text = run_at(Verbosity::Normal);
    assert!(text.contains("▶ [1/2] ok-step"), "{text}");
    assert!(text.contains("  ✓ ok-step"), "{text}");
    assert!(!text.contains("debug of"), "{text}");
    // Only the failed step's last calls, once.
    assert!(!text.contains("/t0 "), "{text}");
    assert_eq!(text.matches("/t16 -> 500").count(), 1, "{text}");
    assert!(text.contains("last 5 of 7 host calls:"), "{text}");
    assert!(text.contains("round  step"), "{text}");
}

#[test]
fn very_verbose_prints_every_call_as_it_comes_and_not_again() {
    let text = run_at(Verbosity::VeryVerbose);
    assert!(text.contains("debug of ok-step"), "{text}");
    assert!(text.contains("    ⇄ http POST http://127.0.0.1:5001/t0 -> 200 (4 ms)\n        > content-type: application/json\n"), "{text}");
    assert_eq!(text.matches("/t16 -> 500").count(), 1, "{text}");
    assert!(!text.contains("host calls:"), "{text}");
    assert!(text.contains("last output of worker worker1:"), "{text}");
    assert!(!text.contains("hunter2"), "{text}");
}

#[test]
fn verbose_adds_debug_lines_without_calls() {
    let text = run_at(Verbosity::Verbose);
    assert!(text.contains("debug debug of ok-step"), "{text}");
    assert!(!text.contains("/t0 "), "{text}");
}
