//! The live terminal report: run and round banners, step lines, worker output prefixed by
//! worker name, and the summary table. Every line is redacted.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::Duration;

use crate::plugin::{LogLevel, StepOutcome};
use crate::report::redact::Redactor;
use crate::runner::{RunEvent, RunObserver, RunOutcome, RunSummary, StepStatus};

/// ANSI styling, off when stdout is not a terminal or `NO_COLOR` is set.
#[derive(Debug, Clone, Copy)]
struct Style {
    color: bool,
}

impl Style {
    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
    fn bold(&self, t: &str) -> String {
        self.paint("1", t)
    }
    fn dim(&self, t: &str) -> String {
        self.paint("2", t)
    }
    fn green(&self, t: &str) -> String {
        self.paint("32", t)
    }
    fn red(&self, t: &str) -> String {
        self.paint("31", t)
    }
    fn yellow(&self, t: &str) -> String {
        self.paint("33", t)
    }
    fn cyan(&self, t: &str) -> String {
        self.paint("36", t)
    }
}

/// Writes the run to the terminal as it happens.
pub struct TerminalReport {
    out: Mutex<Box<dyn Write + Send>>,
    redactor: Redactor,
    style: Style,
    /// Lower levels of guest log lines are not shown.
    min_level: LogLevel,
}

impl TerminalReport {
    /// A report on stdout, colored when stdout is a terminal.
    pub fn stdout(redactor: Redactor, min_level: LogLevel) -> Self {
        let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        Self::new(Box::new(std::io::stdout()), redactor, min_level, color)
    }

    /// A report on any writer (tests use a buffer).
    pub fn new(
        out: Box<dyn Write + Send>,
        redactor: Redactor,
        min_level: LogLevel,
        color: bool,
    ) -> Self {
        Self {
            out: Mutex::new(out),
            redactor,
            style: Style { color },
            min_level,
        }
    }

    /// Prints one line, redacted.
    pub fn line(&self, text: &str) {
        let text = self.redactor.redact(text);
        let mut out = self.out.lock().unwrap_or_else(|p| p.into_inner());
        // A closed stdout (e.g. `| head`) must not abort the run and orphan workers.
        let _ = writeln!(out, "{text}");
        let _ = out.flush();
    }

    /// A line of a worker's output.
    pub fn worker_line(&self, worker: &str, is_stderr: bool, line: &str) {
        let prefix = if is_stderr {
            format!("[{worker} ERR]")
        } else {
            format!("[{worker}]")
        };
        self.line(&format!("{} {line}", self.style.dim(&prefix)));
    }

    /// A note from the runner itself (worker start, stop, warnings).
    pub fn note(&self, text: &str) {
        self.line(&self.style.dim(text));
    }

    /// A warning from the runner.
    pub fn warning(&self, text: &str) {
        self.line(&format!("{} {text}", self.style.yellow("warning:")));
    }

    /// The summary table and the closing line.
    pub fn summary(&self, summary: &RunSummary) {
        self.line("");
        self.line(&render_summary(summary, self.style));
    }

    fn level_tag(&self, level: LogLevel) -> String {
        match level {
            LogLevel::Trace => self.style.dim("trace"),
            LogLevel::Debug => self.style.dim("debug"),
            LogLevel::Info => self.style.cyan(" info"),
            LogLevel::Warn => self.style.yellow(" warn"),
            LogLevel::Error => self.style.red("error"),
        }
    }
}

impl RunObserver for TerminalReport {
    fn event(&self, event: &RunEvent) {
        let s = self.style;
        match event {
            RunEvent::RunStarted {
                max_rounds,
                steps,
                resume,
            } => self.line(&format!(
                "{} {resume}: {max_rounds} round(s) of {steps} step(s)",
                s.bold("run:")
            )),
            RunEvent::PostLoadStarted => self.note("running post-load"),
            RunEvent::PostLoadFinished { duration } => {
                self.note(&format!("post-load done ({})", fmt_duration(*duration)))
            }
            RunEvent::RoundStarted { round, max_rounds } => {
                self.line("");
                self.line(&s.bold(&format!("━━ round {round}/{max_rounds} ━━")));
            }
            RunEvent::StepStarted {
                index,
                total,
                step,
                description,
                worker,
                ..
            } => self.line(&format!(
                "{} {} {} {}",
                s.bold(&format!("▶ [{}/{total}]", index + 1)),
                s.bold(step),
                s.dim(&format!("@ {worker}")),
                s.dim(&format!("— {description}"))
            )),
            RunEvent::StepLogged { level, message, .. } => {
                if *level >= self.min_level {
                    for l in message.lines() {
                        self.line(&format!("    {} {l}", self.level_tag(*level)));
                    }
                }
            }
            RunEvent::StepFinished {
                step,
                outcome,
                duration,
                ..
            } => match outcome {
                StepOutcome::Done(_) => self.line(&format!(
                    "  {} {step} {}",
                    s.green("✓"),
                    s.dim(&format!("({})", fmt_duration(*duration)))
                )),
                StepOutcome::Skipped(reason) => {
                    self.line(&format!("  {} {step} skipped: {reason}", s.yellow("↷")))
                }
            },
            RunEvent::StepFailed {
                round,
                step,
                worker,
                failure,
                duration,
            } => {
                // A multi-line message (a Python traceback, a JS stack) is indented under
                // the step's line.
                let text = failure.to_string();
                let mut lines = text.lines();
                self.line(&format!(
                    "  {} {step} failed (round {round}, worker {worker}, {}): {}",
                    s.red("✗"),
                    fmt_duration(*duration),
                    lines.next().unwrap_or_default()
                ));
                for l in lines {
                    self.line(&format!("    {l}"));
                }
                // Where in the guest a trap happened matters to the package's author,
                // not to every reader of the run: shown with -v only, after the cause.
                if let Some(backtrace) = failure.backtrace()
                    && self.min_level <= LogLevel::Debug
                {
                    for l in backtrace.lines() {
                        self.line(&format!("    {}", s.dim(l)));
                    }
                }
            }
            RunEvent::RoundFinished { .. } => {}
        }
    }
}

/// Widest cell of the summary table, in characters: longer step and worker names are cut
/// with `…`, so a long name neither breaks the table nor reaches the formatter's width
/// limit (a width over 65 535 panics).
const MAX_CELL_CHARS: usize = 48;

/// `text`, cut to [`MAX_CELL_CHARS`] characters.
fn clip(text: &str) -> String {
    if text.chars().count() <= MAX_CELL_CHARS {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(MAX_CELL_CHARS - 1).collect();
    cut.push('…');
    cut
}

/// The summary table and closing line, as plain text (colored when `style.color`).
fn render_summary(summary: &RunSummary, style: Style) -> String {
    let mut rows: Vec<[String; 5]> = vec![[
        "round".into(),
        "step".into(),
        "worker".into(),
        "status".into(),
        "time".into(),
    ]];
    for r in &summary.steps {
        let status = match &r.status {
            StepStatus::Passed => "passed".to_string(),
            StepStatus::Skipped(_) => "skipped".to_string(),
            StepStatus::Failed(_) => "FAILED".to_string(),
        };
        rows.push([
            r.round.to_string(),
            clip(&r.step),
            clip(&r.worker),
            status,
            fmt_duration(r.duration),
        ]);
    }
    let widths: Vec<usize> = (0..5)
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for (n, row) in rows.iter().enumerate() {
        let cells: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<w$}", w = widths[i]))
            .collect();
        let line = cells.join("  ");
        let line = line.trim_end();
        if n == 0 {
            out.push_str(&style.bold(line));
        } else if row[3] == "FAILED" {
            out.push_str(&style.red(line));
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    let verdict = match &summary.outcome {
        RunOutcome::Passed => style.green("PASSED"),
        RunOutcome::Failed {
            round,
            step,
            worker,
            failure,
        } => format!(
            // The first line only: the whole message (a traceback) was shown at the step.
            "{} at round {round}, step {step} (worker {worker}): {}",
            style.red("FAILED"),
            failure.to_string().lines().next().unwrap_or_default()
        ),
    };
    out.push_str(&format!(
        "{verdict}: {} passed, {} skipped, {} failed in {}",
        summary.passed,
        summary.skipped,
        summary.failed,
        fmt_duration(summary.total_duration)
    ));
    out
}

/// `850 ms`, `1.25 s`.
pub fn fmt_duration(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else {
        format!("{:.2} s", d.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::{Phase, StepFailure};
    use crate::runner::StepRecord;
    use std::sync::Arc;

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
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
        let text = render_summary(&summary, Style { color: false });
        let expected = "\
round  step    worker   status   time
1      check   worker1  passed   12 ms
1      bonus   worker1  skipped  12 ms
1      submit  worker1  FAILED   12 ms
FAILED at round 1, step submit (worker worker1): execute returned an error: boom: 1 passed, 1 skipped, 1 failed in 1.50 s";
        assert_eq!(text, expected);
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
        let text = render_summary(&summary, Style { color: false });
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
            let report =
                TerminalReport::new(Box::new(buf.clone()), Redactor::new([]), level, false);
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

    #[test]
    fn multi_line_failure_is_indented_under_the_step() {
        let failure = StepFailure::Failed {
            phase: Phase::Execute,
            message:
                "KeyError: 'x'\nTraceback (most recent call last):\n  File \"/0/s.py\", line 3"
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
}
