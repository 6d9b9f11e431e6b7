//! The summary table and closing line of the terminal report, as a pure function of the
//! [`RunSummary`], tested on exact text.

use std::fmt::Write as _;
use std::time::Duration;

use crate::report::redact::Redactor;
use crate::report::sanitize::{MESSAGE_MAX_BYTES, cut};
use crate::runner::{RunOutcome, RunSummary, StepStatus};

use super::style::Style;

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
pub(crate) fn render_summary(summary: &RunSummary, style: Style, redactor: &Redactor) -> String {
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
    let mut out = String::with_capacity(rows.len() * (widths.iter().sum::<usize>() + 10));
    // One buffer for every row: formatting each cell into its own string cost more than
    // the table.
    let mut line = String::new();
    for (n, row) in rows.iter().enumerate() {
        line.clear();
        for (i, c) in row.iter().enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            let _ = write!(line, "{c:<w$}", w = widths[i]);
        }
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
                    .redact(&cut(&failure.to_string(), MESSAGE_MAX_BYTES))
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
