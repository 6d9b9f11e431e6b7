//! The `--json FILE` report: the whole run as one JSON document, the content of the JUnit
//! report in the shape documented in `docs/report-format.md` (format [`JSON_REPORT_VERSION`]).
//! Every text is scrubbed (secrets masked, control characters rendered visibly) before
//! serde escapes it.

use std::path::Path;

use serde_json::{Value, json};

use crate::report::error::{ReportError, write_atomically};
use crate::report::history::StepEntry;
use crate::report::model::{Case, RunReport};
use crate::report::redact::Redactor;
use crate::timings::TimingsSnapshot;

/// The `version` of the document this build writes; raised when a field changes meaning
/// or goes away (new fields do not raise it).
pub const JSON_REPORT_VERSION: u32 = 1;

/// The JSON report of a run.
pub fn render(report: &RunReport<'_>, redactor: &Redactor) -> Value {
    let line = |s: &str| Value::String(redactor.scrub_line(s));
    let t = &report.totals;
    let failures: Vec<Value> = report
        .failures()
        .map(|c| {
            json!({
                "round": c.round,
                "step": line(c.step),
                "worker": line(c.worker),
                "message": c.last().map(|a| text(a.detail.as_deref(), redactor)),
            })
        })
        .collect();
    let invocations: Vec<Value> = report
        .invocations
        .iter()
        .map(|i| {
            json!({
                "invocation": i.invocation,
                "started_at": i.started_at,
                "resume": line(&i.resume),
                "resumed_at": i.resumed_at.map(|(round, index)| json!({"round": round, "index": index})),
            })
        })
        .collect();
    let cases: Vec<Value> = report.cases.iter().map(|c| case(c, redactor)).collect();
    json!({
        "version": JSON_REPORT_VERSION,
        "package": {
            "label": line(&report.package.label()),
            "name": report.package.name.as_deref().map(line),
            "version": report.package.version.as_deref().map(line),
            "file": line(&report.package.file),
            "sha256": report.package.sha256,
        },
        "outcome": report.outcome(),
        "resumed": report.resumed(),
        "interrupted": report.interrupted,
        "invocations": invocations,
        "totals": {
            "tests": t.tests,
            "passed": t.passed,
            "failed": t.failed,
            "skipped": t.skipped,
            "not_run": t.not_run,
            "flaky": t.flaky,
        },
        "duration_ms": report.duration_ms,
        "failures": failures,
        "cases": cases,
    })
}

/// One case with its attempts.
fn case(c: &Case<'_>, redactor: &Redactor) -> Value {
    let attempts: Vec<Value> = c
        .attempts
        .iter()
        .enumerate()
        .map(|(i, a)| attempt(i + 1, a, redactor))
        .collect();
    json!({
        "round": c.round,
        "step": redactor.scrub_line(c.step),
        "worker": redactor.scrub_line(c.worker),
        "status": c.status.as_str(),
        "flaky": c.is_flaky(),
        "reason": c.reason.as_deref().map(|r| redactor.scrub_line(r)),
        "duration_ms": c.duration_ms(),
        "attempts": attempts,
    })
}

/// One attempt: its result, log lines and host calls.
fn attempt(number: usize, a: &StepEntry, redactor: &Redactor) -> Value {
    let logs: Vec<Value> = a
        .logs
        .iter()
        .map(|l| json!({"level": l.level, "message": redactor.scrub_line(&l.message)}))
        .collect();
    let calls: Vec<Value> = a
        .calls
        .iter()
        .map(|c| {
            json!({
                "kind": c.kind,
                "summary": redactor.scrub_line(&c.summary),
                "request": redactor.scrub(&c.request),
                "response": redactor.scrub(&c.response),
                "failed": c.failed,
                "duration_ms": c.duration_ms,
            })
        })
        .collect();
    let faults: Vec<Value> = a
        .faults
        .iter()
        .map(|f| {
            json!({
                "when": f.when,
                "worker": redactor.scrub_line(&f.worker),
                "fault": redactor.scrub_line(&f.fault),
            })
        })
        .collect();
    json!({
        "attempt": number,
        "invocation": a.invocation,
        "status": a.status.as_str(),
        "detail": a.detail.as_deref().map(|d| text(Some(d), redactor)),
        "duration_ms": a.duration_ms,
        "logs": logs,
        "calls": calls,
        "faults": faults,
    })
}

fn text(detail: Option<&str>, redactor: &Redactor) -> Value {
    Value::String(redactor.scrub(detail.unwrap_or_default()))
}

/// The `timings` object (`run --timings`; docs/report-format.md): the phases measured
/// until the report was written, and every step's parts, in milliseconds.
pub fn render_timings(t: &TimingsSnapshot, redactor: &Redactor) -> Value {
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
    let phases: serde_json::Map<String, Value> = t
        .phases
        .iter()
        .map(|(p, d)| (format!("{}_ms", p.key()), json!(ms(*d))))
        .collect();
    let parts = |duration, p: &crate::timings::StepParts| {
        let mut o = serde_json::Map::new();
        o.insert("duration_ms".into(), json!(ms(duration)));
        for (name, d) in p.named() {
            o.insert(format!("{name}_ms"), json!(ms(d)));
        }
        o
    };
    let mut totals = parts(t.steps_total, &t.step_totals);
    totals.insert("count".into(), json!(t.steps.len()));
    totals.insert("round_ends_ms".into(), json!(ms(t.round_ends)));
    let steps: Vec<Value> = t
        .steps
        .iter()
        .map(|s| {
            let mut o = serde_json::Map::new();
            o.insert("round".into(), json!(s.round));
            o.insert("step".into(), json!(redactor.scrub_line(&s.step)));
            o.extend(parts(s.duration, &s.parts));
            Value::Object(o)
        })
        .collect();
    json!({
        "wall_ms": ms(t.wall),
        "phases": phases,
        "steps_total": totals,
        "steps": steps,
    })
}

/// Writes the JSON report to `path`, with the run's `timings` when given.
pub fn write(
    path: &Path,
    report: &RunReport<'_>,
    timings: Option<&TimingsSnapshot>,
    redactor: &Redactor,
) -> Result<(), ReportError> {
    let mut doc = render(report, redactor);
    if let (Some(t), Value::Object(o)) = (timings, &mut doc) {
        o.insert("timings".into(), render_timings(t, redactor));
    }
    let mut text = serde_json::to_string_pretty(&doc).expect("JSON values serialize");
    text.push('\n');
    write_atomically("JSON", path, text.as_bytes())
}
