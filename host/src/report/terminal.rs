//! The live terminal report: run and round banners, step lines, worker output prefixed by
//! worker name, host calls (`-vv`), a failed step's context, and the summary table
//! (`summary_table.rs`). Every text from a guest, a worker or the CLI is scrubbed (secrets
//! masked, control characters rendered visibly) before it is styled, and every written line
//! is redacted once more. Every message is cut to
//! [`MESSAGE_MAX_BYTES`] before it is redacted.
//!
//! How much is shown is a [`Verbosity`]: `-q` keeps failures (with their context),
//! warnings and the closing line.

use std::io::Write;
use std::sync::Mutex;

use crate::model::{LogLevel, StepFailure, StepOutcome};
use crate::report::redact::Redactor;
use crate::report::sanitize::{MESSAGE_MAX_BYTES, cut, sanitize_line};
use crate::runner::{RunEvent, RunObserver, RunSummary};

use super::context::{FailureContext, call_lines};
use super::style::{Style, auto_color};
pub use super::summary_table::fmt_duration;

/// How much the terminal report shows (`-q`, default, `-v`, `-vv`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum Verbosity {
    /// Failures with their context, warnings, and the closing line only.
    Quiet,
    /// Banners, step lines, info log lines, worker output, the summary table.
    #[default]
    Normal,
    /// Also debug log lines and trap backtraces.
    Verbose,
    /// Also every host call of every step, with its request and response.
    VeryVerbose,
}

/// Writes the run to the terminal as it happens.
pub struct TerminalReport {
    out: Mutex<Box<dyn Write + Send>>,
    redactor: Redactor,
    style: Style,
    /// Lower levels of guest log lines are not shown.
    min_level: LogLevel,
    verbosity: Verbosity,
    /// What a failed step shows.
    context: Mutex<FailureContext>,
    /// The command that ran this run, without its selection: a failure shows it with
    /// `--step S --round R` as the way to rerun that step.
    rerun: Option<String>,
}

impl TerminalReport {
    /// A report on stdout, colored when stdout is a terminal and `NO_COLOR` is unset.
    pub fn stdout(redactor: Redactor, min_level: LogLevel) -> Self {
        Self::new(
            Box::new(std::io::stdout()),
            redactor,
            min_level,
            auto_color(),
        )
    }

    /// A report on any writer (tests use a buffer), at [`Verbosity::Normal`].
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
            verbosity: Verbosity::Normal,
            context: Mutex::new(FailureContext::default()),
            rerun: None,
        }
    }

    /// The same report naming `command` (this run's command line without its selection
    /// flags, already shell-quoted) as the way to rerun a failed step.
    pub fn with_rerun(mut self, command: String) -> Self {
        self.rerun = Some(command);
        self
    }

    /// The same report at `verbosity`: `-v` and more show debug lines too.
    pub fn with_verbosity(mut self, verbosity: Verbosity) -> Self {
        self.verbosity = verbosity;
        if verbosity >= Verbosity::Verbose {
            self.min_level = self.min_level.min(LogLevel::Debug);
        }
        self
    }

    /// The same report with colour on or off (`--color always|never`).
    pub fn with_color(mut self, color: bool) -> Self {
        self.style = Style { color };
        self
    }

    fn quiet(&self) -> bool {
        self.verbosity == Verbosity::Quiet
    }

    fn context(&self) -> std::sync::MutexGuard<'_, FailureContext> {
        self.context.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Prints text, scrubbed (newlines kept: each becomes a line); not with `-q`.
    pub fn line(&self, text: &str) {
        if !self.quiet() {
            self.write_line(&self.redactor.scrub(text));
        }
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

    /// Writes already scrubbed and styled lines, each redacted once more like
    /// [`TerminalReport::write_line`], in one write: a table of 100 000 rows is not
    /// 100 000 flushes, and no row is matched against the others.
    fn write_lines<'a>(&self, lines: impl Iterator<Item = &'a str>) {
        let mut text = String::new();
        for line in lines {
            text.push_str(&self.redactor.redact(line));
            text.push('\n');
        }
        let mut out = self.out.lock().unwrap_or_else(|p| p.into_inner());
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
    }

    /// A line of a worker's output: shown (not with `-q`) and kept for a failure on the
    /// worker.
    pub fn worker_line(&self, worker: &str, is_stderr: bool, line: &str) {
        let worker = self.redactor.scrub_line(worker);
        let line = self.redactor.scrub_line(line);
        let prefix = if is_stderr {
            format!("[{worker} ERR]")
        } else {
            format!("[{worker}]")
        };
        let shown = format!("{} {line}", self.style.dim(&prefix));
        self.context().worker_line(&worker, shown.clone());
        if !self.quiet() {
            self.write_line(&shown);
        }
    }

    /// A note from the runner itself (worker start, stop); not with `-q`.
    pub fn note(&self, text: &str) {
        if !self.quiet() {
            self.write_line(&self.style.dim(&self.redactor.scrub(text)));
        }
    }

    /// A warning from the runner (always shown).
    pub fn warning(&self, text: &str) {
        let text = self.redactor.scrub(text);
        self.write_line(&format!("{} {text}", self.style.yellow("warning:")));
    }

    /// The summary table and the closing line; with `-q` the closing line only.
    pub fn summary(&self, summary: &RunSummary) {
        let text = super::summary_table::render_summary(summary, self.style, &self.redactor);
        if self.quiet() {
            self.write_line(text.lines().last().unwrap_or_default());
        } else {
            self.write_line("");
            self.write_lines(text.lines());
        }
    }

    /// The `--timings` table (`timings_table.rs`); not with `-q`.
    pub fn timings(&self, timings: &crate::timings::TimingsSnapshot) {
        if !self.quiet() {
            self.write_line("");
            self.write_line(&super::timings_table::render_timings(timings, self.style));
        }
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

    /// A failed step: the cause (indented when it spans lines), the backtrace with `-v`,
    /// then its last host calls and its worker's last lines.
    fn step_failed(
        &self,
        round: u32,
        step: &str,
        worker: &str,
        failure: &StepFailure,
        duration: std::time::Duration,
    ) {
        let s = self.style;
        // Cut before anything else reads it: the message of a guest can be 100 MiB.
        let text = failure.to_string();
        let text = self
            .redactor
            .redact(&cut(&text, MESSAGE_MAX_BYTES))
            .into_owned();
        let mut lines = text.lines().map(sanitize_line);
        self.write_line(&format!(
            "  {} {} failed (round {round}, worker {}, {}): {}",
            s.red("✗"),
            self.redactor.scrub_line(step),
            self.redactor.scrub_line(worker),
            fmt_duration(duration),
            lines.next().unwrap_or_default()
        ));
        for l in lines {
            self.write_line(&format!("    {l}"));
        }
        // Where in the guest a trap happened matters to the package's author, not to
        // every reader of the run: shown with -v only, after the cause.
        if let Some(backtrace) = failure.backtrace()
            && self.min_level <= LogLevel::Debug
        {
            for l in backtrace.lines() {
                let l = self.redactor.scrub_line(l);
                self.write_line(&format!("    {}", s.dim(&l)));
            }
        }
        // -vv printed every call as it came.
        let with_calls = self.verbosity < Verbosity::VeryVerbose;
        let context = self.context().render(worker, with_calls, s, &self.redactor);
        for l in context {
            self.write_line(&l);
        }
        // The next command, also under -q (what CI runs): a plain rerun resumes here too.
        if let Some(command) = &self.rerun {
            self.write_line(&format!(
                "    {} {command} {}",
                s.dim("rerun it:"),
                self.redactor
                    .scrub_line(&crate::runner::select_args(step, round))
            ));
        }
    }
}

impl RunObserver for TerminalReport {
    fn event(&self, event: &RunEvent) {
        let s = self.style;
        let line = |text: &str| self.redactor.scrub_line(text);
        // What -q keeps: failures and what they need.
        match event {
            RunEvent::StepStarted { .. } => self.context().step_started(),
            RunEvent::HostCalled { call, .. } => self.context().call(call),
            _ => {}
        }
        if self.quiet()
            && !matches!(
                event,
                RunEvent::StepFailed { .. } | RunEvent::StepRecorded { .. }
            )
        {
            return;
        }
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
            // Every package has a post-load (most do nothing in it): its lines show as they
            // come, the bracket around them only with -v.
            RunEvent::PostLoadStarted if self.verbosity >= Verbosity::Verbose => {
                self.note("running post-load")
            }
            RunEvent::PostLoadFinished { duration } if self.verbosity >= Verbosity::Verbose => {
                self.note(&format!("post-load done ({})", fmt_duration(*duration)))
            }
            RunEvent::PostLoadStarted | RunEvent::PostLoadFinished { .. } => {}
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
                    let message = cut(message, MESSAGE_MAX_BYTES);
                    for l in self.redactor.redact(&message).lines() {
                        let l = sanitize_line(l);
                        self.write_line(&format!("    {} {l}", self.level_tag(*level)));
                    }
                }
            }
            RunEvent::HostCalled { call, .. } => {
                if self.verbosity >= Verbosity::VeryVerbose {
                    for l in call_lines(call, "    ", s, &self.redactor) {
                        self.write_line(&l);
                    }
                }
            }
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
            } => self.step_failed(*round, step, worker, failure, *duration),
            RunEvent::StepRecorded { round, step, path } => self.write_line(&format!(
                "    {} {}",
                s.dim("replay it without workers:"),
                line(&crate::runner::replay_command(path, step, *round))
            )),
            RunEvent::FaultApplied {
                step, when, fault, ..
            } => {
                let at = match (when, step) {
                    (crate::runner::FaultWhen::RoundStart, _) | (_, None) => when.to_string(),
                    (when, Some(step)) => format!("{when} {}", line(step)),
                };
                self.write_line(&format!(
                    "  {} {} {}",
                    s.yellow("⚡ fault"),
                    s.dim(&format!("({at}):")),
                    line(fault)
                ));
            }
            RunEvent::RoundFinished { .. } => {}
        }
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod levels_tests;
