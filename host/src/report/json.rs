//! The `--json FILE` report: the whole run as one JSON document, the content of the JUnit
//! report in the shape documented in `docs/report-format.md` (format [`JSON_REPORT_VERSION`]).
//! Every text is scrubbed (secrets masked, control characters rendered visibly) before
//! serde escapes it.
//!
//! The document is streamed: each case (and each step of the `timings`) is scrubbed and
//! serialized straight into the output as the writer reaches it, so writing it costs one
//! pass over the run and holds one case's texts at a time, never a tree of the whole run
//! (a `serde_json::Value` of 100 000 cases is ~20 maps and strings per case).

use std::io::Write;
use std::path::Path;

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};
use serde_json::Value;

use crate::report::error::{ReportError, write_atomically_with};
use crate::report::history::StepEntry;
use crate::report::model::{Case, RunReport};
use crate::report::redact::Redactor;
use crate::timings::{StepParts, TimingsSnapshot};

/// The `version` of the document this build writes; raised when a field changes meaning
/// or goes away (new fields do not raise it).
pub const JSON_REPORT_VERSION: u32 = 1;

/// The JSON report of a run, as a value (for tests and callers that edit it; the report
/// file is streamed by [`write_to`] without building it).
pub fn render(report: &RunReport<'_>, redactor: &Redactor) -> Value {
    serde_json::to_value(Document {
        report,
        redactor,
        timings: None,
    })
    .expect("the report serializes")
}

/// The `timings` object (`run --timings`; docs/report-format.md): the phases measured
/// until the report was written, and every step's parts, in milliseconds.
pub fn render_timings(t: &TimingsSnapshot, redactor: &Redactor) -> Value {
    serde_json::to_value(Timings { t, redactor }).expect("the timings serialize")
}

/// Writes the JSON report (pretty-printed, ending with a newline) to `out`, with the run's
/// `timings` when given, in one pass over the cases.
pub fn write_to(
    out: &mut (impl Write + ?Sized),
    report: &RunReport<'_>,
    timings: Option<&TimingsSnapshot>,
    redactor: &Redactor,
) -> std::io::Result<()> {
    let document = Document {
        report,
        redactor,
        timings,
    };
    serde_json::to_writer_pretty(&mut *out, &document).map_err(std::io::Error::from)?;
    out.write_all(b"\n")
}

/// Writes the JSON report to `path`, with the run's `timings` when given.
pub fn write(
    path: &Path,
    report: &RunReport<'_>,
    timings: Option<&TimingsSnapshot>,
    redactor: &Redactor,
) -> Result<(), ReportError> {
    write_atomically_with("JSON", path, |out| write_to(out, report, timings, redactor))
}

/// A JSON array of the items the iterator `f` makes, serialized one at a time as they
/// are made: the array is never built.
struct Each<F>(F);

impl<F, I> Serialize for Each<F>
where
    F: Fn() -> I,
    I: Iterator,
    I::Item: Serialize,
{
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq((self.0)())
    }
}

/// The whole document, in the order of docs/report-format.md.
struct Document<'r, 'a> {
    report: &'r RunReport<'a>,
    redactor: &'r Redactor,
    timings: Option<&'r TimingsSnapshot>,
}

impl Serialize for Document<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (report, redactor) = (self.report, self.redactor);
        let line = |text: &str| redactor.scrub_line(text);
        let t = &report.totals;
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("version", &JSON_REPORT_VERSION)?;
        map.serialize_entry(
            "package",
            &PackageView {
                label: line(&report.package.label()),
                name: report.package.name.as_deref().map(line),
                version: report.package.version.as_deref().map(line),
                file: line(&report.package.file),
                sha256: &report.package.sha256,
            },
        )?;
        map.serialize_entry("outcome", report.outcome())?;
        map.serialize_entry("resumed", &report.resumed())?;
        map.serialize_entry("interrupted", &report.interrupted)?;
        map.serialize_entry(
            "invocations",
            &Each(|| {
                report.invocations.iter().map(|i| InvocationView {
                    invocation: i.invocation,
                    started_at: &i.started_at,
                    resume: line(&i.resume),
                    resumed_at: i
                        .resumed_at
                        .map(|(round, index)| ResumedAt { round, index }),
                })
            }),
        )?;
        map.serialize_entry(
            "totals",
            &TotalsView {
                tests: t.tests,
                passed: t.passed,
                failed: t.failed,
                skipped: t.skipped,
                not_run: t.not_run,
                flaky: t.flaky,
            },
        )?;
        map.serialize_entry("duration_ms", &report.duration_ms)?;
        map.serialize_entry("failures", &Failures { report, redactor })?;
        map.serialize_entry(
            "cases",
            &Each(|| report.cases.iter().map(|c| CaseView(c, redactor))),
        )?;
        if let Some(t) = self.timings {
            map.serialize_entry("timings", &Timings { t, redactor })?;
        }
        map.end()
    }
}

#[derive(Serialize)]
struct PackageView<'r> {
    label: String,
    name: Option<String>,
    version: Option<String>,
    file: String,
    sha256: &'r str,
}

#[derive(Serialize)]
struct InvocationView<'r> {
    invocation: u32,
    started_at: &'r str,
    resume: String,
    resumed_at: Option<ResumedAt>,
}

#[derive(Serialize)]
struct ResumedAt {
    round: u32,
    index: usize,
}

#[derive(Serialize)]
struct TotalsView {
    tests: usize,
    passed: usize,
    failed: usize,
    skipped: usize,
    not_run: usize,
    flaky: usize,
}

/// The cases whose last attempt failed: round, step, worker and the failure's message.
struct Failures<'r, 'a> {
    report: &'r RunReport<'a>,
    redactor: &'r Redactor,
}

impl Serialize for Failures<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let redactor = self.redactor;
        s.collect_seq(self.report.failures().map(|c| FailureView {
            round: c.round,
            step: redactor.scrub_line(c.step),
            worker: redactor.scrub_line(c.worker),
            message: c.last().map(|a| text(a.detail.as_deref(), redactor)),
        }))
    }
}

#[derive(Serialize)]
struct FailureView {
    round: u32,
    step: String,
    worker: String,
    message: Option<String>,
}

/// One case with its attempts.
struct CaseView<'r, 'a>(&'r Case<'a>, &'r Redactor);

impl Serialize for CaseView<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let CaseView(c, redactor) = *self;
        let mut map = s.serialize_map(Some(8))?;
        map.serialize_entry("round", &c.round)?;
        map.serialize_entry("step", &redactor.scrub_line(c.step))?;
        map.serialize_entry("worker", &redactor.scrub_line(c.worker))?;
        map.serialize_entry("status", c.status.as_str())?;
        map.serialize_entry("flaky", &c.is_flaky())?;
        map.serialize_entry(
            "reason",
            &c.reason.as_deref().map(|r| redactor.scrub_line(r)),
        )?;
        map.serialize_entry("duration_ms", &c.duration_ms())?;
        map.serialize_entry("attempts", &Attempts(c, redactor))?;
        map.end()
    }
}

/// A case's attempts, numbered from 1.
struct Attempts<'r, 'a>(&'r Case<'a>, &'r Redactor);

impl Serialize for Attempts<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let Attempts(c, redactor) = *self;
        s.collect_seq(c.attempts.iter().enumerate().map(|(i, a)| AttemptView {
            number: i + 1,
            attempt: a,
            redactor,
        }))
    }
}

/// One attempt: its result, log lines and host calls.
struct AttemptView<'r> {
    number: usize,
    attempt: &'r StepEntry,
    redactor: &'r Redactor,
}

impl Serialize for AttemptView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (a, redactor) = (self.attempt, self.redactor);
        let mut map = s.serialize_map(Some(8))?;
        map.serialize_entry("attempt", &self.number)?;
        map.serialize_entry("invocation", &a.invocation)?;
        map.serialize_entry("status", a.status.as_str())?;
        map.serialize_entry(
            "detail",
            &a.detail.as_deref().map(|d| text(Some(d), redactor)),
        )?;
        map.serialize_entry("duration_ms", &a.duration_ms)?;
        map.serialize_entry(
            "logs",
            &Each(|| {
                a.logs.iter().map(|l| LogView {
                    level: &l.level,
                    message: redactor.scrub_line(&l.message),
                })
            }),
        )?;
        map.serialize_entry(
            "calls",
            &Each(|| {
                a.calls.iter().map(|c| CallView {
                    kind: &c.kind,
                    summary: redactor.scrub_line(&c.summary),
                    request: redactor.scrub(&c.request),
                    response: redactor.scrub(&c.response),
                    failed: c.failed,
                    duration_ms: c.duration_ms,
                })
            }),
        )?;
        map.serialize_entry(
            "faults",
            &Each(|| {
                a.faults.iter().map(|f| FaultView {
                    when: &f.when,
                    worker: redactor.scrub_line(&f.worker),
                    fault: redactor.scrub_line(&f.fault),
                })
            }),
        )?;
        map.end()
    }
}

#[derive(Serialize)]
struct LogView<'r> {
    level: &'r str,
    message: String,
}

#[derive(Serialize)]
struct CallView<'r> {
    kind: &'r str,
    summary: String,
    request: String,
    response: String,
    failed: bool,
    duration_ms: f64,
}

#[derive(Serialize)]
struct FaultView<'r> {
    when: &'r str,
    worker: String,
    fault: String,
}

fn text(detail: Option<&str>, redactor: &Redactor) -> String {
    redactor.scrub(detail.unwrap_or_default())
}

fn ms(d: std::time::Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The `timings` object, streamed like the cases.
struct Timings<'r> {
    t: &'r TimingsSnapshot,
    redactor: &'r Redactor,
}

impl Serialize for Timings<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (t, redactor) = (self.t, self.redactor);
        let mut map = s.serialize_map(Some(4))?;
        map.serialize_entry("wall_ms", &ms(t.wall))?;
        map.serialize_entry("phases", &Phases(t))?;
        map.serialize_entry("steps_total", &StepsTotal(t))?;
        map.serialize_entry(
            "steps",
            &Each(|| {
                t.steps.iter().map(|step| StepTimingView {
                    round: step.round,
                    step: redactor.scrub_line(&step.step),
                    duration: step.duration,
                    parts: &step.parts,
                })
            }),
        )?;
        map.end()
    }
}

/// `"<phase>_ms": time` for every phase measured.
struct Phases<'r>(&'r TimingsSnapshot);

impl Serialize for Phases<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(
            self.0
                .phases
                .iter()
                .map(|(p, d)| (format!("{}_ms", p.key()), ms(*d))),
        )
    }
}

/// The steps' parts summed, with their count and the round ends.
struct StepsTotal<'r>(&'r TimingsSnapshot);

impl Serialize for StepsTotal<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let t = self.0;
        let mut map = s.serialize_map(None)?;
        parts(&mut map, t.steps_total, &t.step_totals)?;
        map.serialize_entry("count", &t.steps.len())?;
        map.serialize_entry("round_ends_ms", &ms(t.round_ends))?;
        map.end()
    }
}

/// One step's time and parts.
struct StepTimingView<'r> {
    round: u32,
    step: String,
    duration: std::time::Duration,
    parts: &'r StepParts,
}

impl Serialize for StepTimingView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("round", &self.round)?;
        map.serialize_entry("step", &self.step)?;
        parts(&mut map, self.duration, self.parts)?;
        map.end()
    }
}

/// `duration_ms` then `"<part>_ms"` for every part.
fn parts<M: SerializeMap>(
    map: &mut M,
    duration: std::time::Duration,
    p: &StepParts,
) -> Result<(), M::Error> {
    map.serialize_entry("duration_ms", &ms(duration))?;
    for (name, d) in p.named() {
        map.serialize_entry(&format!("{name}_ms"), &ms(d))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use crate::report::collect::tests::{package, red_then_green, redactor};
    use crate::timings::{RunPhase, StepParts, StepTiming, Timings};

    #[test]
    fn the_streamed_file_is_the_document_pretty_printed() {
        // Streaming writes each case as it is reached; what it writes must be exactly the
        // document `render` builds, `timings` last, scrubbed the same way.
        let dir = tempfile::tempdir().unwrap();
        let c = red_then_green(&dir.path().join("results.jsonl"));
        let r = redactor();
        let t = Timings::new(Instant::now());
        t.phase_ended(RunPhase::Load);
        t.phase_ended(RunPhase::Steps);
        for (round, step) in [(1, "fetch"), (2, "s3cret\u{1b}[31m")] {
            t.step(StepTiming {
                round,
                step: step.into(),
                duration: Duration::from_micros(1234),
                parts: StepParts {
                    instantiate: Duration::from_micros(17),
                    ..StepParts::default()
                },
            });
        }
        t.round_ended(Duration::from_micros(5));
        let timings = t.snapshot();
        c.with_report(&package(), |run| {
            let mut tree = super::render(run, &r);
            tree.as_object_mut()
                .expect("an object")
                .insert("timings".into(), super::render_timings(&timings, &r));
            let mut expected = serde_json::to_string_pretty(&tree).unwrap();
            expected.push('\n');
            let mut streamed = Vec::new();
            super::write_to(&mut streamed, run, Some(&timings), &r).unwrap();
            let streamed = String::from_utf8(streamed).unwrap();
            assert_eq!(streamed, expected);
            assert_eq!(tree["cases"].as_array().map(Vec::len), Some(6));
            assert!(!streamed.contains("s3cret") && !streamed.contains('\u{1b}'));
        });
    }
}
