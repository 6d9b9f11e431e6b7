//! What a failed step shows without `-v`: its last few host calls and the last lines its
//! worker wrote ([`FailureContext`]), and how one host call is written ([`call_lines`], also
//! used by `-vv` for every call).
//!
//! Calls and lines arrive cut and masked; they pass the redactor and the sanitizer once
//! more here, like every text the terminal writes.

use std::collections::{BTreeMap, VecDeque};

use crate::model::HostCall;
use crate::report::redact::Redactor;
use crate::report::sanitize::sanitize_line;

use super::style::Style;
use super::summary_table::fmt_duration;

/// Host calls of the current step kept for its failure (the HTTP exchange that failed and
/// what led to it) — a ring: older ones are dropped.
pub const FAILURE_CALLS: usize = 5;

/// Lines of each worker kept for a failure on it — a ring per worker.
pub const FAILURE_WORKER_LINES: usize = 5;

/// The rings a failure is shown from.
#[derive(Debug, Default)]
pub struct FailureContext {
    /// The current step's last calls.
    calls: VecDeque<HostCall>,
    /// How many calls the current step made in all.
    call_count: usize,
    /// Each worker's last lines, already scrubbed.
    worker_lines: BTreeMap<String, VecDeque<String>>,
}

impl FailureContext {
    /// A step started: its calls replace the previous step's.
    pub fn step_started(&mut self) {
        self.calls.clear();
        self.call_count = 0;
    }

    /// The current step made a call.
    pub fn call(&mut self, call: &HostCall) {
        if self.calls.len() == FAILURE_CALLS {
            self.calls.pop_front();
        }
        self.calls.push_back(call.clone());
        self.call_count += 1;
    }

    /// A worker wrote a line (scrubbed by the caller).
    pub fn worker_line(&mut self, worker: &str, line: String) {
        let ring = self.worker_lines.entry(worker.to_owned()).or_default();
        if ring.len() == FAILURE_WORKER_LINES {
            ring.pop_front();
        }
        ring.push_back(line);
    }

    /// The lines shown under a failed step on `worker`, indented; `with_calls` is off
    /// when `-vv` printed the calls already.
    pub fn render(
        &self,
        worker: &str,
        with_calls: bool,
        style: Style,
        redactor: &Redactor,
    ) -> Vec<String> {
        let mut out = Vec::new();
        if with_calls && !self.calls.is_empty() {
            let shown = self.calls.len();
            out.push(style.dim(&if shown < self.call_count {
                format!("    last {shown} of {} host calls:", self.call_count)
            } else {
                format!("    host calls ({shown}):")
            }));
            for call in &self.calls {
                // The response too: for the call that failed it is the error or status.
                out.extend(call_lines(call, "      ", style, redactor));
            }
        }
        if let Some(lines) = self.worker_lines.get(worker).filter(|l| !l.is_empty()) {
            out.push(style.dim(&format!(
                "    last output of worker {}:",
                redactor.scrub_line(worker)
            )));
            out.extend(lines.iter().map(|l| format!("      {l}")));
        }
        out
    }
}

/// One call as lines at `indent`: the summary (`http POST … -> 500 (12 ms)`), then the
/// request (`> `) and response (`< `) texts line by line.
pub fn call_lines(call: &HostCall, indent: &str, style: Style, redactor: &Redactor) -> Vec<String> {
    let mark = if call.failed {
        style.red("✗")
    } else {
        style.dim("⇄")
    };
    let mut out = vec![format!(
        "{indent}{mark} {} {} {}",
        call.kind.as_str(),
        redactor.scrub_line(&call.summary),
        style.dim(&format!("({})", fmt_duration(call.duration)))
    )];
    for (prefix, text) in [("> ", &call.request), ("< ", &call.response)] {
        // Redacted whole (a secret split across lines), then shown line by line.
        for line in redactor.redact(text).lines() {
            out.push(format!(
                "{indent}    {}",
                style.dim(&format!("{prefix}{}", sanitize_line(line)))
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::model::CallKind;

    fn http(n: usize, failed: bool) -> HostCall {
        HostCall {
            kind: CallKind::Http,
            summary: format!(
                "POST http://127.0.0.1:5001/task/{n} -> {}",
                if failed { "500" } else { "200 OK" }
            ),
            request: format!(
                "content-type: application/json\n\n{{\"n\":{n},\"token\":\"s3cret-value\"}}"
            ),
            response: "HTTP/1.1 500\n\nboom\x1b[2J".into(),
            failed,
            duration: Duration::from_millis(12),
        }
    }

    #[test]
    fn a_call_is_its_summary_then_request_and_response_redacted_and_sanitized() {
        let redactor = Redactor::new(["s3cret-value".to_string()]);
        let lines = call_lines(&http(1, true), "  ", Style { color: false }, &redactor);
        assert_eq!(
            lines,
            [
                "  ✗ http POST http://127.0.0.1:5001/task/1 -> 500 (12 ms)",
                "      > content-type: application/json",
                "      > ",
                "      > {\"n\":1,\"token\":\"***\"}",
                "      < HTTP/1.1 500",
                "      < ",
                "      < boom\\u{1b}[2J",
            ]
        );
    }

    #[test]
    fn the_rings_keep_the_last_calls_of_the_step_and_lines_of_the_worker() {
        let mut ctx = FailureContext::default();
        ctx.call(&http(0, false));
        ctx.step_started();
        for n in 1..=7 {
            ctx.call(&http(n, n == 7));
        }
        for n in 1..=8 {
            ctx.worker_line("worker1", format!("line {n}"));
        }
        ctx.worker_line("worker2", "other".into());
        let text = ctx
            .render(
                "worker1",
                true,
                Style { color: false },
                &Redactor::default(),
            )
            .join("\n");
        assert!(text.starts_with("    last 5 of 7 host calls:"), "{text}");
        assert!(!text.contains("task/2 "), "{text}");
        assert!(
            text.contains("task/3 -> 200 OK")
                && text.contains("✗ http POST http://127.0.0.1:5001/task/7 -> 500"),
            "{text}"
        );
        assert!(
            text.contains("    last output of worker worker1:\n      line 4\n"),
            "{text}"
        );
        assert!(text.ends_with("      line 8"), "{text}");
        assert!(!text.contains("other"), "{text}");
        let without_calls = ctx.render(
            "worker1",
            false,
            Style { color: false },
            &Redactor::default(),
        );
        assert_eq!(without_calls.len(), 6);
    }
}
