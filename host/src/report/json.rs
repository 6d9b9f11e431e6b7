//! The `--json FILE` report: the run's summary as one JSON document. Every text is scrubbed
//! (secrets masked, control characters rendered visibly) before serde escapes it.

use std::path::Path;

use serde_json::{Value, json};

use crate::report::error::{ReportError, write_atomically};
use crate::report::redact::Redactor;
use crate::runner::{RunOutcome, RunSummary, StepStatus};

/// The JSON report of a run.
pub fn render(summary: &RunSummary, package: &str, redactor: &Redactor) -> Value {
    let steps: Vec<Value> = summary
        .steps
        .iter()
        .map(|r| {
            let (status, detail) = match &r.status {
                StepStatus::Passed => ("passed", Value::Null),
                StepStatus::Skipped(reason) => ("skipped", json!(redactor.scrub_line(reason))),
                StepStatus::Failed(f) => ("failed", json!(redactor.scrub(&f.to_string()))),
            };
            json!({
                "round": r.round,
                "step": redactor.scrub_line(&r.step),
                "worker": redactor.scrub_line(&r.worker),
                "status": status,
                "detail": detail,
                "duration_ms": r.duration.as_secs_f64() * 1000.0,
            })
        })
        .collect();
    let failure = match &summary.outcome {
        RunOutcome::Passed => Value::Null,
        RunOutcome::Failed {
            round,
            step,
            worker,
            failure,
        } => json!({
            "round": round,
            "step": redactor.scrub_line(step),
            "worker": redactor.scrub_line(worker),
            "message": redactor.scrub(&failure.to_string()),
        }),
    };
    json!({
        "package": redactor.scrub_line(package),
        "outcome": if summary.is_passed() { "passed" } else { "failed" },
        "passed": summary.passed,
        "skipped": summary.skipped,
        "failed": summary.failed,
        "rounds_run": summary.rounds_run,
        "duration_ms": summary.total_duration.as_secs_f64() * 1000.0,
        "failure": failure,
        "steps": steps,
    })
}

/// Writes the JSON report to `path`.
pub fn write(
    path: &Path,
    summary: &RunSummary,
    package: &str,
    redactor: &Redactor,
) -> Result<(), ReportError> {
    let mut text = serde_json::to_string_pretty(&render(summary, package, redactor))
        .expect("JSON values serialize");
    text.push('\n');
    write_atomically("JSON", path, text.as_bytes())
}
