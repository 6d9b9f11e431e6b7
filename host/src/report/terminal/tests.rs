use super::*;
use crate::model::{Phase, StepFailure};
use crate::report::style::Style;
use crate::report::summary_table::render_summary;
use crate::runner::StepRecord;
use crate::runner::{RunOutcome, StepStatus};
use std::sync::Arc;
use std::time::Duration;

/// A writer the tests read back.
#[derive(Clone, Default)]
pub(super) struct Buf(pub(super) Arc<Mutex<Vec<u8>>>);
impl Buf {
    /// What was written.
    pub(super) fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

impl Write for Buf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn record(step: &str, status: StepStatus) -> StepRecord {
    StepRecord {
        round: 1,
        step: step.into(),
        worker: "worker1".into(),
        status,
        duration: Duration::from_millis(12),
    }
}

#[test]
fn summary_lists_steps_and_verdict() {
    // The verdict line shows the first line of a multi-line message.
    let failure = StepFailure::Failed {
        phase: Phase::Execute,
        message: "boom\n  at line 3".into(),
    };
    let summary = RunSummary {
        rounds_run: vec![1],
        steps: vec![
            record("check", StepStatus::Passed),
            record("bonus", StepStatus::Skipped("odd".into())),
            record("submit", StepStatus::Failed(failure.clone())),
        ],
        passed: 1,
        skipped: 1,
        failed: 1,
        outcome: RunOutcome::Failed {
            round: 1,
            step: "submit".into(),
            worker: "worker1".into(),
            failure,
        },
        total_duration: Duration::from_millis(1500),
    };
    let text = render_summary(&summary, Style { color: false }, &Redactor::default());
    let expected = "\
round  step    worker   status   time
1      check   worker1  passed   12 ms
1      bonus   worker1  skipped  12 ms
1      submit  worker1  FAILED   12 ms
FAILED at round 1, step submit (worker worker1): execute returned an error: boom: 1 passed, 1 skipped, 1 failed in 1.50 s";
    assert_eq!(text, expected);
}

#[test]
fn multi_line_failure_is_indented_under_the_step() {
    let failure = StepFailure::Failed {
        phase: Phase::Execute,
        message: "KeyError: 'x'\nTraceback (most recent call last):\n  File \"/0/s.py\", line 3"
            .into(),
    };
    let buf = Buf::default();
    let report = TerminalReport::new(
        Box::new(buf.clone()),
        Redactor::new([]),
        LogLevel::Info,
        false,
    );
    report.event(&RunEvent::StepFailed {
        round: 1,
        step: "submit".into(),
        worker: "worker1".into(),
        failure: failure.clone(),
        duration: Duration::from_millis(3),
    });
    let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    assert_eq!(
        text,
        "  ✗ submit failed (round 1, worker worker1, 3 ms): execute returned an error: KeyError: 'x'\n    Traceback (most recent call last):\n      File \"/0/s.py\", line 3\n"
    );
}

#[test]
fn worker_lines_are_prefixed_and_redacted() {
    let buf = Buf::default();
    let report = TerminalReport::new(
        Box::new(buf.clone()),
        Redactor::new(["s3cret-token".to_string()]),
        LogLevel::Info,
        false,
    );
    report.worker_line("worker1", false, "using s3cret-token now");
    report.worker_line("worker2", true, "oops");
    report.event(&RunEvent::StepLogged {
        round: 1,
        step: "x".into(),
        level: LogLevel::Debug,
        message: "hidden".into(),
    });
    let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    assert_eq!(text, "[worker1] using *** now\n[worker2 ERR] oops\n");
}

#[test]
fn guest_and_worker_text_never_reaches_the_terminal_raw() {
    let buf = Buf::default();
    let report = TerminalReport::new(
        Box::new(buf.clone()),
        Redactor::new(["s3cret-token".to_string()]),
        LogLevel::Info,
        false,
    );
    let evil = "\x1b]52;c;aGk=\x07\r  ✓ fake\x1b[2K\u{202e}s3cr\x1b[0met-token\x07";
    report.worker_line(evil, true, evil);
    report.note(evil);
    report.warning(evil);
    report.event(&RunEvent::StepStarted {
        round: 1,
        index: 0,
        total: 1,
        step: evil.into(),
        description: evil.into(),
        worker: evil.into(),
    });
    report.event(&RunEvent::StepLogged {
        round: 1,
        step: evil.into(),
        level: LogLevel::Error,
        message: format!("{evil}\n{evil}"),
    });
    report.event(&RunEvent::StepFinished {
        round: 1,
        step: evil.into(),
        worker: evil.into(),
        outcome: StepOutcome::Skipped(evil.into()),
        duration: Duration::ZERO,
    });
    let failure = StepFailure::Failed {
        phase: Phase::Execute,
        message: format!("{evil}\n{evil}"),
    };
    report.event(&RunEvent::StepFailed {
        round: 1,
        step: evil.into(),
        worker: evil.into(),
        failure: failure.clone(),
        duration: Duration::ZERO,
    });
    report.summary(&RunSummary {
        rounds_run: vec![1],
        steps: vec![StepRecord {
            round: 1,
            step: evil.into(),
            worker: evil.into(),
            status: StepStatus::Failed(failure.clone()),
            duration: Duration::ZERO,
        }],
        passed: 0,
        skipped: 0,
        failed: 1,
        outcome: RunOutcome::Failed {
            round: 1,
            step: evil.into(),
            worker: evil.into(),
            failure,
        },
        total_duration: Duration::ZERO,
    });
    let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    assert!(
        !text
            .chars()
            .any(|c| c != '\n' && (c.is_control() || c == '\u{202e}')),
        "{text}"
    );
    assert!(
        !text.contains("s3cr") && !text.contains("et-token"),
        "{text}"
    );
    assert!(
        text.contains("\\u{1b}]52;c;aGk=\\u{7}\\r  ✓ fake"),
        "{text}"
    );
    // Every line is one the report wrote: no fake line starts with the check mark.
    assert!(text.lines().all(|l| !l.starts_with("  ✓")), "{text}");
}

#[test]
fn long_names_are_cut_in_the_summary_table() {
    // 70 000 characters: past the formatter's width limit, which used to panic.
    let name = "n".repeat(70_000);
    let summary = RunSummary {
        rounds_run: vec![1],
        steps: vec![record(&name, StepStatus::Passed)],
        passed: 1,
        skipped: 0,
        failed: 0,
        outcome: RunOutcome::Passed,
        total_duration: Duration::from_millis(12),
    };
    let text = render_summary(&summary, Style { color: false }, &Redactor::default());
    let row = text.lines().nth(1).expect("a row");
    assert!(
        row.starts_with(&format!("1      {}…  worker1  passed", "n".repeat(47))),
        "{row}"
    );
}

#[test]
fn a_trap_backtrace_follows_the_cause_with_verbose_only() {
    let failure = StepFailure::Trapped {
        phase: Phase::Execute,
        message: "the step exited with status 0".into(),
        backtrace: Some("error while executing at wasm backtrace:\n    0: 0x1 - f".into()),
    };
    let render = |level| {
        let buf = Buf::default();
        let report = TerminalReport::new(Box::new(buf.clone()), Redactor::new([]), level, false);
        report.event(&RunEvent::StepFailed {
            round: 1,
            step: "s".into(),
            worker: "worker1".into(),
            failure: failure.clone(),
            duration: Duration::from_millis(3),
        });
        String::from_utf8(buf.0.lock().unwrap().clone()).unwrap()
    };
    let line = "  ✗ s failed (round 1, worker worker1, 3 ms): execute trapped: the step exited with status 0\n";
    assert_eq!(render(LogLevel::Info), line);
    assert_eq!(
        render(LogLevel::Debug),
        format!("{line}    error while executing at wasm backtrace:\n        0: 0x1 - f\n")
    );
}
