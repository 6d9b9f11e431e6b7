//! One cap per message, and one sanitizer for text restored from a results journal: the
//! cut itself (UTF-8 and escape boundaries, the count of bytes left out, idempotence), a
//! 10 MiB failure through the collector into the JUnit, JSON and HTML reports and through
//! the terminal, and a hand-written journal full of control characters.

use std::io::Write as _;
use std::time::Duration;

use crate::model::{LogLevel, Phase, StepFailure};
use crate::report::collect::ReportCollector;
use crate::report::collect::tests::{End, outline, package, redactor, step};
use crate::report::history::RESULTS_FILE_NAME;
use crate::report::redact::Redactor;
use crate::report::sanitize::{
    CUT_NOTE_ROOM, MESSAGE_MAX_BYTES, bounded_line, bounded_text, cut, sanitize_line,
};
use crate::report::terminal::TerminalReport;
use crate::report::{html, json, junit};
use crate::runner::{ResumePoint, RunEvent, RunObserver};

/// A writer the test reads back.
#[derive(Clone, Default)]
struct Buf(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl Buf {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

impl std::io::Write for Buf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The most one message may take once rendered.
const BOUND: usize = MESSAGE_MAX_BYTES + CUT_NOTE_ROOM;

/// The raw bytes no output may hold: ESC, CSI (C1), BEL, CR and the bidi override.
fn assert_no_raw_controls(what: &str, text: &str) {
    for bad in ['\x1b', '\u{9b}', '\x07', '\r', '\u{202e}', '\u{9d}'] {
        assert!(!text.contains(bad), "{what} holds a raw {bad:?}");
    }
}

#[test]
fn short_text_is_not_cut_and_stays_borrowed() {
    for text in ["", "plain", "é ✓ 日本語", &"x".repeat(MESSAGE_MAX_BYTES)] {
        assert!(matches!(cut(text, MESSAGE_MAX_BYTES), std::borrow::Cow::Borrowed(t) if t == text));
    }
}

#[test]
fn a_long_text_is_cut_with_the_bytes_left_out() {
    let text = "y".repeat(10 << 20);
    let shown = bounded_text(&text);
    assert!(shown.len() <= BOUND, "{} bytes", shown.len());
    let kept = shown.find('…').expect("a cut note");
    assert_eq!(kept, MESSAGE_MAX_BYTES);
    assert_eq!(
        &shown[kept..],
        format!("… [cut: {} more bytes]", (10 << 20) - MESSAGE_MAX_BYTES)
    );
}

#[test]
fn the_cap_holds_after_escapes_expand_the_text() {
    // Every character renders as 5 to 10 bytes: the cap is on the rendering, not the input.
    for unit in ["\x1b", "\u{9b}", "\u{202e}", "\n", "\r", "\u{10ffff}\x01"] {
        let text = unit.repeat(1 << 20);
        // As a line, the cut is at the cap (in text, a newline counts as its escape too).
        let line = bounded_line(&text);
        assert!(
            line.len() >= MESSAGE_MAX_BYTES - 16,
            "{unit:?}: cut too early"
        );
        for shown in [line, bounded_text(&text)] {
            assert!(shown.len() <= BOUND, "{unit:?}: {} bytes", shown.len());
            assert_no_raw_controls(unit, &shown);
            assert!(shown.ends_with(" more bytes]"), "{unit:?}");
        }
    }
}

#[test]
fn the_cut_never_splits_a_character_or_an_escape() {
    // Four-byte characters and escapes around the cut point, at every alignment.
    for shift in 0..12 {
        let text = format!(
            "{}{}",
            "a".repeat(MESSAGE_MAX_BYTES - 6 + shift),
            "👨\x1b\u{202e}é".repeat(200)
        );
        let shown = bounded_line(&text);
        let body = &shown[..shown.rfind('…').expect("cut")];
        assert!(body.len() <= MESSAGE_MAX_BYTES, "shift {shift}");
        // A whole escape or none: the body ends in a complete character or `}`.
        let tail = &body[body.len().saturating_sub(12)..];
        assert!(
            !tail.ends_with("\\u{") && !tail.ends_with("\\u{1") && !tail.ends_with("\\u{20"),
            "shift {shift}: {tail:?}"
        );
        assert_eq!(sanitize_line(body), body, "the body is fully rendered");
        // The count is of raw bytes: what is kept plus what is left out is the whole text.
        let left: usize = shown[shown.rfind("[cut: ").unwrap() + 6..]
            .trim_end_matches(" more bytes]")
            .parse()
            .unwrap();
        let kept_raw = text.len() - left;
        assert!(text.is_char_boundary(kept_raw), "shift {shift}");
        assert_eq!(sanitize_line(&text[..kept_raw]), body, "shift {shift}");
    }
}

#[test]
fn cutting_twice_is_cutting_once() {
    let text = "\x1bz".repeat(1 << 20);
    let once = cut(&text, MESSAGE_MAX_BYTES).into_owned();
    assert!(matches!(
        cut(&once, MESSAGE_MAX_BYTES),
        std::borrow::Cow::Borrowed(_)
    ));
    let shown = bounded_text(&text);
    assert_eq!(bounded_text(&shown), shown);
}

#[test]
fn a_secret_cut_in_half_by_the_cap_is_masked() {
    let secret = "hunter2-very-secret";
    let r = Redactor::new([secret.to_string()]);
    // The cap falls in the middle of the secret.
    let text = format!(
        "{} {secret} {}",
        "p".repeat(MESSAGE_MAX_BYTES - 8),
        "and more ".repeat(100)
    );
    let shown = r.scrub(&text);
    assert!(shown.len() <= BOUND);
    assert!(shown.contains(" more bytes]"), "cut");
    assert!(!shown.contains("hunter2"), "{}", &shown[shown.len() - 80..]);
}

/// A failure message of `len` bytes mixing text and terminal attacks.
fn huge_message(len: usize) -> String {
    let unit = "boom \x1b]52;c;aGk=\x07 \u{202e}gnp \r\n";
    unit.repeat(len / unit.len() + 1)
}

#[test]
fn a_10_mib_failure_gives_bounded_reports() {
    let fresh = ResumePoint::Fresh {
        reason: "--reset".into(),
    };
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join(RESULTS_FILE_NAME);
    let (c, _) =
        ReportCollector::start(Some(&journal), outline(), &fresh, redactor()).expect("journal");
    step(&c, 1, "fetch", "worker1", End::Pass);
    c.event(&RunEvent::StepStarted {
        round: 1,
        index: 1,
        total: 3,
        step: "submit".into(),
        description: String::new(),
        worker: "worker1".into(),
    });
    for _ in 0..3 {
        c.event(&RunEvent::StepLogged {
            round: 1,
            step: "submit".into(),
            level: LogLevel::Error,
            message: huge_message(1 << 20),
        });
    }
    c.event(&RunEvent::StepFailed {
        round: 1,
        step: "submit".into(),
        worker: "worker1".into(),
        failure: StepFailure::Failed {
            phase: Phase::Execute,
            message: huge_message(10 << 20),
        },
        duration: Duration::from_millis(1),
    });
    // The journal keeps the cut message, not 10 MiB.
    let kept = std::fs::metadata(&journal).unwrap().len() as usize;
    assert!(kept < 8 * BOUND, "journal {kept} bytes");
    let r = redactor();
    let (junit, json, html) = c.with_report(&package(), |run| {
        (
            junit::render(run, &r),
            serde_json::to_string_pretty(&json::render(run, &r)).unwrap(),
            html::render(run, &r),
        )
    });
    // Per failed attempt: the message at most twice, its log lines at most twice (+ markup).
    for (what, text) in [("JUnit", &junit), ("JSON", &json), ("HTML", &html)] {
        assert!(text.len() < 16 * BOUND, "{what}: {} bytes", text.len());
        assert!(text.contains(" more bytes]"), "{what} says what it cut");
        assert_no_raw_controls(what, text);
    }
}

#[test]
fn a_100_mib_failure_gives_a_bounded_terminal() {
    let buf = Buf::default();
    let report = TerminalReport::new(
        Box::new(buf.clone()),
        Redactor::new(["s3cret".to_string()]),
        LogLevel::Info,
        false,
    );
    let message = huge_message(100 << 20);
    report.event(&RunEvent::StepLogged {
        round: 1,
        step: "submit".into(),
        level: LogLevel::Info,
        message: huge_message(4 << 20),
    });
    report.event(&RunEvent::StepFailed {
        round: 1,
        step: "submit".into(),
        worker: "worker1".into(),
        failure: StepFailure::Failed {
            phase: Phase::Execute,
            message,
        },
        duration: Duration::from_millis(3),
    });
    let text = buf.text();
    // Two messages, each at most the cap once rendered, plus one indent per line.
    assert!(text.len() < 4 * BOUND, "{} bytes", text.len());
    assert!(text.contains(" more bytes]"));
    assert_no_raw_controls("terminal", &text);
}

#[test]
fn text_restored_from_a_hostile_journal_is_sanitized_and_cut() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join(RESULTS_FILE_NAME);
    let attack = "\x1b]52;c;aGk=\x07\x1b[2J\r\u{202e}\u{9b}31m";
    let big = format!("{attack}{}", "z".repeat(3 << 20));
    let lines = [
        serde_json::json!({"journal": "prometheus-wasm results journal", "version": 1}),
        serde_json::json!({"record": "invocation", "invocation": 1, "started_at": attack,
            "resume": attack, "resumed_at": null}),
        serde_json::json!({"record": "step", "invocation": 1, "round": 1, "step": "fetch",
            "worker": attack, "status": "failed", "detail": big, "duration_ms": 1.0,
            "logs": [{"level": attack, "message": big}],
            "calls": [{"kind": attack, "summary": attack, "request": big, "response": attack,
                "failed": true, "duration_ms": 1.0}]}),
        serde_json::json!({"record": "interrupted", "invocation": 1, "signal": attack}),
    ];
    let mut file = std::fs::File::create(&journal).unwrap();
    for line in lines {
        writeln!(file, "{line}").unwrap();
    }
    drop(file);
    let resume = ResumePoint::Resumed {
        round: 1,
        after_step: Some("fetch".into()),
    };
    let (c, _) =
        ReportCollector::start(Some(&journal), outline(), &resume, redactor()).expect("resumed");
    let r = redactor();
    let (junit, json, html) = c.with_report(&package(), |run| {
        (
            junit::render(run, &r),
            serde_json::to_string(&json::render(run, &r)).unwrap(),
            html::render(run, &r),
        )
    });
    for (what, text) in [("JUnit", &junit), ("JSON", &json), ("HTML", &html)] {
        assert_no_raw_controls(what, text);
        assert!(text.len() < 16 * BOUND, "{what}: {} bytes", text.len());
    }
    // serde escapes ESC as \u001b: the raw-control check above would not see it in JSON.
    assert!(
        !json.contains("\\u001b"),
        "JSON holds an ESC escaped by serde only"
    );
    assert!(
        json.contains("\\\\u{1b}]52"),
        "the attack is shown, escaped"
    );
}

#[cfg(unix)]
#[test]
fn a_journal_that_is_a_fifo_is_refused_without_blocking() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join(RESULTS_FILE_NAME);
    nix::unistd::mkfifo(&journal, nix::sys::stat::Mode::S_IRWXU).unwrap();
    let resume = ResumePoint::Resumed {
        round: 1,
        after_step: Some("fetch".into()),
    };
    let (tx, rx) = std::sync::mpsc::channel();
    let path = journal.clone();
    std::thread::spawn(move || {
        let result = ReportCollector::start(Some(&path), outline(), &resume, redactor());
        let _ = tx.send(result.err().map(|e| e.to_string()));
    });
    let error = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("did not hang on the FIFO")
        .expect("refused");
    assert!(error.contains("not a regular file"), "{error}");
}
