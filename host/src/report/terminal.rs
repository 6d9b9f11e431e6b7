//! The live terminal report: run and round banners, step lines, worker output prefixed by
//! worker name, and the summary table. Every text from a guest, a worker or the CLI is
//! scrubbed (secrets masked, control characters rendered visibly) before it is styled, and
//! every written line is redacted once more.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::Duration;

use crate::plugin::{LogLevel, StepOutcome};
use crate::report::redact::Redactor;
use crate::report::sanitize::sanitize_line;
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

    /// Prints text, scrubbed (newlines kept: each becomes a line).
    pub fn line(&self, text: &str) {
        self.write_line(&self.redactor.scrub(text));
    }

    /// Writes an already scrubbed and styled line, redacted once more (a secret that
    /// spans two scrubbed pieces).
    fn write_line(&self, text: &str) {
        let text = self.redactor.redact(text);
        let mut out = self.out.lock().unwrap_or_else(|p| p.into_inner());
        // A closed stdout (e.g. `| head`) must not abort the run and orphan workers.
        let _ = writeln!(out, "{text}");
        let _ = out.flush();
    }

    /// A line of a worker's output.
    pub fn worker_line(&self, worker: &str, is_stderr: bool, line: &str) {
        let worker = self.redactor.scrub_line(worker);
        let line = self.redactor.scrub_line(line);
        let prefix = if is_stderr {
            format!("[{worker} ERR]")
        } else {
            format!("[{worker}]")
        };
        self.write_line(&format!("{} {line}", self.style.dim(&prefix)));
    }

    /// A note from the runner itself (worker start, stop, warnings).
    pub fn note(&self, text: &str) {
        self.write_line(&self.style.dim(&self.redactor.scrub(text)));
    }

    /// A warning from the runner.
    pub fn warning(&self, text: &str) {
        let text = self.redactor.scrub(text);
        self.write_line(&format!("{} {text}", self.style.yellow("warning:")));
    }

    /// The summary table and the closing line.
    pub fn summary(&self, summary: &RunSummary) {
        self.write_line("");
        self.write_line(&render_summary(summary, self.style, &self.redactor));
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
        let line = |text: &str| self.redactor.scrub_line(text);
        match event {
            RunEvent::RunStarted {
                max_rounds,
                steps,
                resume,
            } => self.write_line(&format!(
                "{} {}: {max_rounds} round(s) of {steps} step(s)",
                s.bold("run:"),
                line(&resume.to_string())
            )),
            RunEvent::PostLoadStarted => self.note("running post-load"),
            RunEvent::PostLoadFinished { duration } => {
                self.note(&format!("post-load done ({})", fmt_duration(*duration)))
            }
            RunEvent::RoundStarted { round, max_rounds } => {
                self.write_line("");
                self.write_line(&s.bold(&format!("━━ round {round}/{max_rounds} ━━")));
            }
            RunEvent::StepStarted {
                index,
                total,
                step,
                description,
                worker,
                ..
            } => self.write_line(&format!(
                "{} {} {} {}",
                s.bold(&format!("▶ [{}/{total}]", index + 1)),
                s.bold(&line(step)),
                s.dim(&format!("@ {}", line(worker))),
                s.dim(&format!("— {}", line(description)))
            )),
            RunEvent::StepLogged { level, message, .. } => {
                if *level >= self.min_level {
                    // Redacted whole (a secret split across lines), then shown line by line.
                    for l in self.redactor.redact(message).lines() {
                        let l = sanitize_line(l);
                        self.write_line(&format!("    {} {l}", self.level_tag(*level)));
                    }
                }
            }
            // Shown with -vv and under a failed step (issue #11); not yet printed.
            RunEvent::HostCalled { .. } => {}
            RunEvent::StepFinished {
                step,
                outcome,
                duration,
                ..
            } => match outcome {
                StepOutcome::Done(_) => self.write_line(&format!(
                    "  {} {} {}",
                    s.green("✓"),
                    line(step),
                    s.dim(&format!("({})", fmt_duration(*duration)))
                )),
                StepOutcome::Skipped(reason) => self.write_line(&format!(
                    "  {} {} skipped: {}",
                    s.yellow("↷"),
                    line(step),
                    line(reason)
                )),
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
                let text = self.redactor.redact(&failure.to_string()).into_owned();
                let mut lines = text.lines().map(sanitize_line);
                self.write_line(&format!(
                    "  {} {} failed (round {round}, worker {}, {}): {}",
                    s.red("✗"),
                    line(step),
                    line(worker),
                    fmt_duration(*duration),
                    lines.next().unwrap_or_default()
                ));
                for l in lines {
                    self.write_line(&format!("    {l}"));
                }
                // Where in the guest a trap happened matters to the package's author,
                // not to every reader of the run: shown with -v only, after the cause.
                if let Some(backtrace) = failure.backtrace()
                    && self.min_level <= LogLevel::Debug
                {
                    for l in backtrace.lines() {
                        let l = self.redactor.scrub_line(l);
                        self.write_line(&format!("    {}", s.dim(&l)));
                    }
                }
            }
            RunEvent::StepRecorded { round, step, path } => self.write_line(&format!(
                "    {} {}",
                s.dim("replay it without workers:"),
                line(&crate::runner::replay_command(path, step, *round))
            )),
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
fn render_summary(summary: &RunSummary, style: Style, redactor: &Redactor) -> String {
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
            clip(&redactor.scrub_line(&r.step)),
            clip(&redactor.scrub_line(&r.worker)),
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
            "{} at round {round}, step {} (worker {}): {}",
            style.red("FAILED"),
            redactor.scrub_line(step),
            redactor.scrub_line(worker),
            redactor.scrub_line(
                redactor
                    .redact(&failure.to_string())
                    .lines()
                    .next()
                    .unwrap_or_default()
            )
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
#[path = "terminal_tests.rs"]
mod tests;
