//! [`ReportCollector`]: the [`RunObserver`] that keeps what the report files need — each
//! step's log lines, host calls and result — and appends every step result to the results
//! journal ([`history`]) as it happens, so that a run stopped by a crash or
//! resumed later still has its whole story.

use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::model::{HostCall, LogLevel, MAX_STEP_NAME_BYTES, MAX_WORKER_NAME_BYTES, StepOutcome};
use crate::report::clock::rfc3339_now;
use crate::report::history::{
    self, CallEntry, Entry, FaultEntry, HistoryError, InterruptedEntry, InvocationEntry, LogEntry,
    ResultsWriter, Status, StepEntry,
};
use crate::report::model::{Outline, PackageId, RunReport};
use crate::report::redact::Redactor;
use crate::report::sanitize::{MESSAGE_MAX_BYTES, bounded_line, cut};
use crate::runner::{POST_LOAD_STEP, ResumePoint, RunEvent, RunObserver};

/// Collects step results for the report files; see the module docs.
pub struct ReportCollector {
    redactor: Redactor,
    outline: Outline,
    inner: Mutex<Inner>,
}

struct Inner {
    /// Every entry of the run: earlier invocations' and this one's.
    entries: Vec<Entry>,
    invocation: u32,
    writer: Option<ResultsWriter>,
    /// The step running now, with what it logged and called so far.
    pending: Option<StepEntry>,
    /// The first journal write that failed; later writes are not tried.
    error: Option<HistoryError>,
    /// When `post-load` started, while it runs.
    post_load_started: Option<Instant>,
}

/// What [`ReportCollector::start`] found in the journal, for the terminal.
#[derive(Debug, Default)]
pub struct Started {
    /// Invocations the journal already held.
    pub earlier_invocations: u32,
    /// Whether a last record cut short by a crash was dropped.
    pub torn_tail: bool,
    /// True when a resumed run found no journal: the reports cover this invocation only.
    pub history_missing: bool,
}

impl ReportCollector {
    /// Opens the results journal at `journal` for this invocation: a new one for a fresh
    /// run, the existing one (if any) for a resumed run. `None` keeps results in memory.
    pub fn start(
        journal: Option<&Path>,
        outline: Outline,
        resume: &ResumePoint,
        redactor: Redactor,
    ) -> Result<(Self, Started), HistoryError> {
        let resumed_at = match resume {
            // A selective run's reports cover its own steps (it keeps no results journal).
            ResumePoint::Fresh { .. } | ResumePoint::Selected { .. } => None,
            ResumePoint::Resumed { round, after_step } => Some((
                *round,
                after_step
                    .as_deref()
                    .and_then(|s| outline.index_of(s))
                    .map_or(0, |i| i + 1),
            )),
        };
        let mut started = Started::default();
        let mut entries = Vec::new();
        let mut writer = None;
        if let Some(path) = journal {
            let existing = match resumed_at {
                Some(_) => history::read(path)?,
                None => None,
            };
            writer = Some(match existing {
                Some(found) => {
                    started.torn_tail = found.torn_tail;
                    entries = found.entries.into_iter().map(restored).collect();
                    ResultsWriter::append_to(path, found.good_len)?
                }
                None => {
                    started.history_missing = resumed_at.is_some();
                    ResultsWriter::create(path)?
                }
            });
        }
        started.earlier_invocations = entries
            .iter()
            .filter(|e| matches!(e, Entry::Invocation(_)))
            .count() as u32;
        let invocation = InvocationEntry {
            invocation: started.earlier_invocations + 1,
            started_at: rfc3339_now(),
            resume: redactor.redact(&resume.to_string()).into_owned(),
            resumed_at,
        };
        let number = invocation.invocation;
        let mut inner = Inner {
            entries,
            invocation: number,
            writer,
            pending: None,
            error: None,
            post_load_started: None,
        };
        inner.record(Entry::Invocation(invocation));
        if let Some(e) = inner.error.take() {
            return Err(e);
        }
        let collector = ReportCollector {
            redactor,
            outline,
            inner: Mutex::new(inner),
        };
        Ok((collector, started))
    }

    /// Records that the run ended with `message` while the package's `post-load` ran (it
    /// failed; the run stops before its first step), with what it logged and called, as
    /// the case `post-load` of round 0. Does nothing (false) when `post-load` was not
    /// running.
    pub fn post_load_failed(&self, message: &str) -> bool {
        let Some(started) = self.lock().post_load_started.take() else {
            return false;
        };
        self.finish(
            0,
            POST_LOAD_STEP,
            "",
            Status::Failed,
            Some(message.to_owned()),
            started.elapsed(),
        );
        true
    }

    /// Records that a signal stopped this invocation (the step running did not end), so
    /// that the reports and the next invocation's say so.
    pub fn interrupted(&self, signal: &str) {
        let mut inner = self.lock();
        inner.pending = None;
        let entry = Entry::Interrupted(InterruptedEntry {
            invocation: inner.invocation,
            signal: signal.to_owned(),
        });
        inner.record(entry);
    }

    /// The first error writing the journal, if one happened (the reports still cover the
    /// whole run: entries are kept in memory too).
    pub fn take_error(&self) -> Option<HistoryError> {
        self.lock().error.take()
    }

    /// Calls `f` with the report of the whole run so far.
    pub fn with_report<T>(&self, package: &PackageId, f: impl FnOnce(&RunReport<'_>) -> T) -> T {
        let inner = self.lock();
        f(&RunReport::build(package, &self.outline, &inner.entries))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves plain data behind; keep reporting.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn pending<'a>(
        &self,
        inner: &'a mut Inner,
        round: u32,
        step: &str,
        worker: Option<&str>,
    ) -> &'a mut StepEntry {
        // `post-load` logs under the round the run starts in; it is kept as round 0.
        let round = if step == POST_LOAD_STEP { 0 } else { round };
        let stale = inner
            .pending
            .as_ref()
            .is_none_or(|p| p.round != round || p.step != step);
        if stale {
            inner.pending = Some(StepEntry {
                invocation: inner.invocation,
                round,
                step: step.to_owned(),
                worker: worker.unwrap_or_default().to_owned(),
                status: Status::Passed,
                detail: None,
                duration_ms: 0.0,
                logs: Vec::new(),
                calls: Vec::new(),
                faults: Vec::new(),
            });
        }
        inner.pending.as_mut().expect("set above")
    }

    fn finish(
        &self,
        round: u32,
        step: &str,
        worker: &str,
        status: Status,
        detail: Option<String>,
        duration: Duration,
    ) {
        let mut inner = self.lock();
        // Moved out, not copied: a step's entry holds every call and line it made.
        self.pending(&mut inner, round, step, Some(worker));
        let mut entry = inner.pending.take().expect("pending() just set it");
        entry.worker = worker.to_owned();
        entry.status = status;
        entry.detail = detail.map(|d| self.bound(&d));
        entry.duration_ms = ms(duration);
        inner.record(Entry::Step(entry));
    }
}

impl Inner {
    /// Keeps `entry` and appends it to the journal.
    fn record(&mut self, entry: Entry) {
        if self.error.is_none()
            && let Some(writer) = &mut self.writer
            && let Err(e) = writer.append(&entry)
        {
            self.error = Some(e);
        }
        self.entries.push(entry);
    }
}

impl RunObserver for ReportCollector {
    fn event(&self, event: &RunEvent) {
        match event {
            RunEvent::PostLoadStarted => self.lock().post_load_started = Some(Instant::now()),
            RunEvent::PostLoadFinished { .. } => {
                let mut inner = self.lock();
                inner.post_load_started = None;
                inner.pending = None;
            }
            RunEvent::StepStarted {
                round,
                step,
                worker,
                ..
            } => {
                let mut inner = self.lock();
                inner.pending = None;
                self.pending(&mut inner, *round, step, Some(worker));
            }
            RunEvent::StepLogged {
                round,
                step,
                level,
                message,
            } => {
                let mut inner = self.lock();
                let entry = self.pending(&mut inner, *round, step, None);
                entry.logs.push(LogEntry {
                    level: level_name(*level).to_owned(),
                    message: self.bound(message),
                });
            }
            RunEvent::HostCalled { round, step, call } => {
                let mut inner = self.lock();
                let entry = self.pending(&mut inner, *round, step, None);
                entry.calls.push(self.call_entry(call));
            }
            RunEvent::StepFinished {
                round,
                step,
                worker,
                outcome,
                duration,
            } => {
                let (status, detail) = match outcome {
                    StepOutcome::Done(_) => (Status::Passed, None),
                    StepOutcome::Skipped(reason) => (Status::Skipped, Some(reason.clone())),
                };
                self.finish(*round, step, worker, status, detail, *duration);
            }
            RunEvent::StepFailed {
                round,
                step,
                worker,
                failure,
                duration,
            } => self.finish(
                *round,
                step,
                worker,
                Status::Failed,
                Some(failure.to_string()),
                *duration,
            ),
            RunEvent::StepRecorded { round, step, path } => self.recorded(*round, step, path),
            RunEvent::FaultApplied {
                round,
                step,
                when,
                worker,
                fault,
            } => {
                let mut inner = self.lock();
                // A fault at the round's start is applied as its first step starts.
                let step = match (step, &inner.pending) {
                    (Some(step), _) => step.clone(),
                    (None, Some(pending)) => pending.step.clone(),
                    (None, None) => return,
                };
                let entry = FaultEntry {
                    when: when.to_string(),
                    worker: self.bound(worker),
                    fault: self.bound(fault),
                };
                self.pending(&mut inner, *round, &step, None)
                    .faults
                    .push(entry);
            }
            _ => {}
        }
    }
}

impl ReportCollector {
    /// Adds where the failed attempt just reported was recorded, and the command that
    /// replays it, to its failure text: every report then carries it. Kept in memory only:
    /// the next run's first recorded step rotates the file away, so a later invocation's
    /// reports must not point at it.
    fn recorded(&self, round: u32, step: &str, path: &std::path::Path) {
        let command = crate::runner::replay_command(path, step, round);
        let mut inner = self.lock();
        let attempt = inner.entries.iter_mut().rev().find_map(|e| match e {
            Entry::Step(s) if s.round == round && s.step == step => Some(s),
            _ => None,
        });
        if let Some(attempt) = attempt {
            let detail = attempt.detail.get_or_insert_with(String::new);
            detail.push_str(&format!(
                "\nrecorded in {}; replay it without workers: {command}",
                path.display()
            ));
        }
    }

    /// A message as the model keeps it: [cut](cut) to [`MESSAGE_MAX_BYTES`] first (a 100 MiB
    /// failure message must not be copied, redacted or journaled whole), then redacted.
    /// Control characters stay raw until a writer sanitizes them.
    fn bound(&self, text: &str) -> String {
        self.redactor
            .redact(&cut(text, MESSAGE_MAX_BYTES))
            .into_owned()
    }

    fn call_entry(&self, call: &HostCall) -> CallEntry {
        // Already cut and masked where they were built; redacted again for secrets only
        // the run knows (`--secret`).
        let r = |s: &str| self.bound(s);
        CallEntry {
            kind: call.kind.as_str().to_owned(),
            summary: r(&call.summary),
            request: r(&call.request),
            response: r(&call.response),
            failed: call.failed,
            duration_ms: ms(call.duration),
        }
    }
}

/// An entry read back from a results journal, which anyone who can write `data_dir` may have
/// written, as it enters the report model: every free text cut to [`MESSAGE_MAX_BYTES`],
/// step and worker names to the longest a manifest may declare (no real one is longer;
/// a name is quoted in the reason of every step not reached), and the fields the writers show as they are
/// (times, signals, log levels, call kinds: this program's own words when it wrote them)
/// sanitized, so that no writer prints a raw control character from a journal.
fn restored(entry: Entry) -> Entry {
    let cut_to = |max: usize| {
        move |s: String| match cut(&s, max) {
            std::borrow::Cow::Borrowed(_) => s,
            std::borrow::Cow::Owned(c) => c,
        }
    };
    let cut = cut_to(MESSAGE_MAX_BYTES);
    // Rendered, a name's escapes take at most 5 bytes per byte: a name a manifest may
    // declare is never cut, so it still matches its step.
    let name = cut_to(8 * MAX_STEP_NAME_BYTES.max(MAX_WORKER_NAME_BYTES));
    let word = |s: String| bounded_line(&s);
    match entry {
        Entry::Invocation(i) => Entry::Invocation(InvocationEntry {
            started_at: word(i.started_at),
            resume: cut(i.resume),
            ..i
        }),
        Entry::Interrupted(i) => Entry::Interrupted(InterruptedEntry {
            signal: word(i.signal),
            ..i
        }),
        Entry::Step(s) => Entry::Step(StepEntry {
            step: name(s.step),
            worker: name(s.worker),
            detail: s.detail.map(cut),
            logs: s
                .logs
                .into_iter()
                .map(|l| LogEntry {
                    level: word(l.level),
                    message: cut(l.message),
                })
                .collect(),
            faults: s
                .faults
                .into_iter()
                .map(|f| FaultEntry {
                    when: word(f.when),
                    worker: name(f.worker),
                    fault: cut(f.fault),
                })
                .collect(),
            calls: s
                .calls
                .into_iter()
                .map(|c| CallEntry {
                    kind: word(c.kind),
                    summary: cut(c.summary),
                    request: cut(c.request),
                    response: cut(c.response),
                    ..c
                })
                .collect(),
            ..s
        }),
    }
}

/// The name a log level has in the reports and the journal.
fn level_name(level: LogLevel) -> &'static str {
    match level {
        LogLevel::Trace => "trace",
        LogLevel::Debug => "debug",
        LogLevel::Info => "info",
        LogLevel::Warn => "warn",
        LogLevel::Error => "error",
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[cfg(test)]
pub(crate) mod tests;
