//! The `--html FILE` report: one self-contained page (inline CSS and script, no fonts,
//! images or scripts fetched; a Content-Security-Policy forbids any request) with the
//! summary, a timeline of the steps per worker and round, each failure with its log and
//! host calls, and every step's output.
//!
//! Every guest or worker text is scrubbed like in the other reports (secrets masked,
//! control characters rendered visibly) and then HTML-escaped, so a step log holding
//! `<script>` is shown as text. Built in one pass, linear in the steps, and written out
//! in pieces as it is built.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use crate::report::error::{ReportError, write_atomically_with};
use crate::report::junit::attempt_text;
use crate::report::model::{Case, CaseStatus, RunReport};
use crate::report::redact::Redactor;

const STYLE: &str = r#"
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1b1f24;background:#f6f8fa}
header{padding:16px 24px;color:#fff}
header.passed{background:#1a7f37}header.failed{background:#cf222e}header.interrupted{background:#9a6700}
header h1{margin:0 0 4px;font-size:20px}
main{padding:16px 24px}
section{background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:12px 16px;margin-bottom:16px}
h2{font-size:16px;margin:0 0 8px}
.counts span{display:inline-block;margin-right:16px}
.counts b{font-size:18px}
.resumed{background:#fff8c5;border:1px solid #d4a72c;padding:6px 10px;border-radius:6px;margin:8px 0}
table{border-collapse:collapse}
td,th{border:1px solid #d0d7de;padding:4px 6px;vertical-align:top;text-align:left}
.chip{display:inline-block;min-width:10px;height:14px;margin:1px;padding:0 4px;border-radius:3px;font-size:11px;line-height:14px;color:#fff;text-decoration:none}
.passed .chip,.chip.passed{background:#2da44e}.chip.failed{background:#cf222e}
.chip.skipped{background:#8c959f}.chip.not_run{background:#eaeef2;color:#57606a}
.chip.flaky{outline:2px solid #d4a72c}
.fault{display:inline-block;margin:1px;font-size:11px;line-height:14px;color:#9a6700;cursor:help}
pre{background:#f6f8fa;border:1px solid #d0d7de;padding:8px;overflow-x:auto;white-space:pre-wrap;word-break:break-word;margin:4px 0}
.status-failed{color:#cf222e;font-weight:600}.status-passed{color:#1a7f37}
.status-skipped,.status-not_run{color:#57606a}
nav button{margin-right:6px}
"#;

const SCRIPT: &str = r#"
document.querySelectorAll('nav button').forEach(function(b){b.addEventListener('click',function(){
var s=b.getAttribute('data-show');document.querySelectorAll('tr.case').forEach(function(r){
r.hidden=!(s==='all'||r.classList.contains(s));});});});
"#;

/// The HTML page of a run.
pub fn render(report: &RunReport<'_>, redactor: &Redactor) -> String {
    let mut out = Vec::with_capacity(4096 + report.cases.len() * 256);
    write_to(&mut out, report, redactor).expect("writing to memory cannot fail");
    String::from_utf8(out).expect("the page is built from strings")
}

/// Writes the HTML page of a run to `out`, in pieces of about `PIECE_BYTES` as it is
/// built: the page of a long run is never held whole.
pub fn write_to(
    out: &mut dyn std::io::Write,
    report: &RunReport<'_>,
    redactor: &Redactor,
) -> std::io::Result<()> {
    let mut page = Page {
        text: String::with_capacity(PIECE_BYTES + 4096),
        out,
        error: None,
    };
    let label = esc_line(&report.package.label(), redactor);
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
         style-src 'unsafe-inline'; script-src 'unsafe-inline'\">\
         <title>{label}: {outcome}</title><style>{STYLE}</style></head><body>\
         <header class=\"{outcome}\"><h1 id=\"outcome\">{label}: {outcome}</h1>\
         <div>{history}</div></header><main>",
        outcome = report.outcome(),
        history = esc(&report.history_line()),
    );
    summary(&mut page, report, redactor);
    timeline(&mut page, report, redactor);
    failures(&mut page, report, redactor);
    steps(&mut page, report, redactor);
    let _ = writeln!(page, "</main><script>{SCRIPT}</script></body></html>");
    page.finish()
}

/// Writes the HTML report to `path`, streamed into its temporary file.
pub fn write(path: &Path, report: &RunReport<'_>, redactor: &Redactor) -> Result<(), ReportError> {
    write_atomically_with("HTML", path, |out| write_to(out, report, redactor))
}

/// How much of the page is built before it is written out.
const PIECE_BYTES: usize = 1 << 16;

/// The page being built: text is appended to a buffer that goes to `out` each time it
/// holds [`PIECE_BYTES`]; the first write error is kept and ends the writing.
struct Page<'w> {
    text: String,
    out: &'w mut dyn std::io::Write,
    error: Option<std::io::Error>,
}

impl Page<'_> {
    fn push_str(&mut self, s: &str) {
        self.text.push_str(s);
        if self.text.len() >= PIECE_BYTES {
            self.flush();
        }
    }

    fn flush(&mut self) {
        if self.error.is_none()
            && let Err(e) = self.out.write_all(self.text.as_bytes())
        {
            self.error = Some(e);
        }
        self.text.clear();
    }

    fn finish(mut self) -> std::io::Result<()> {
        self.flush();
        self.error.map_or(Ok(()), Err)
    }
}

impl std::fmt::Write for Page<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.push_str(s);
        Ok(())
    }
}

fn summary(page: &mut Page<'_>, report: &RunReport<'_>, redactor: &Redactor) {
    let t = &report.totals;
    let _ = write!(
        page,
        "<section id=\"summary\"><h2>Summary</h2><div class=\"counts\">\
         <span><b id=\"count-tests\">{}</b> steps</span>\
         <span><b id=\"count-passed\">{}</b> passed</span>\
         <span><b id=\"count-failed\">{}</b> failed</span>\
         <span><b id=\"count-skipped\">{}</b> skipped</span>\
         <span><b id=\"count-not-run\">{}</b> not run</span>\
         <span><b id=\"count-flaky\">{}</b> flaky</span>\
         <span><b>{:.1}</b> s</span></div>",
        t.tests,
        t.passed,
        t.failed,
        t.skipped,
        t.not_run,
        t.flaky,
        report.duration_ms / 1000.0
    );
    if report.resumed() {
        let _ = write!(
            page,
            "<div class=\"resumed\" id=\"resumed\">This run was resumed: {}.</div>",
            esc(&report.history_line())
        );
    }
    page.push_str("<table><tr><th>Invocation</th><th>Started</th><th>How</th></tr>");
    for i in &report.invocations {
        let _ = write!(
            page,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            i.invocation,
            esc(&i.started_at),
            esc_line(&i.resume, redactor)
        );
    }
    page.push_str("</table></section>");
}

/// The cases of one worker in one round, with their index in the report.
type Chips<'r, 'a> = Vec<(usize, &'r Case<'a>)>;

/// A table: a row per worker, a column per round, a chip per step in run order.
fn timeline(page: &mut Page<'_>, report: &RunReport<'_>, redactor: &Redactor) {
    let mut rounds: Vec<u32> = report.cases.iter().map(|c| c.round).collect();
    rounds.dedup();
    // Every round has the manifest's steps, in order.
    let steps_per_round = (report.cases.len() / rounds.len().max(1)).max(1);
    // Worker → round → (case index, case), in run order.
    let mut rows: BTreeMap<&str, BTreeMap<u32, Chips<'_, '_>>> = BTreeMap::new();
    for (i, c) in report.cases.iter().enumerate() {
        rows.entry(c.worker)
            .or_default()
            .entry(c.round)
            .or_default()
            .push((i, c));
    }
    page.push_str("<section id=\"timeline\"><h2>Timeline</h2><table><tr><th>Worker</th>");
    for r in &rounds {
        let _ = write!(page, "<th>round {r}</th>");
    }
    page.push_str("</tr>");
    for (worker, by_round) in &rows {
        let _ = write!(page, "<tr><th>{}</th>", esc_line(worker, redactor));
        for r in &rounds {
            page.push_str("<td>");
            for (i, c) in by_round.get(r).map(Vec::as_slice).unwrap_or_default() {
                // A fault applied at this step (before, during or after it) is marked just
                // before its chip, each fault in the marker's title.
                let faults: Vec<String> = c
                    .attempts
                    .iter()
                    .flat_map(|a| a.faults.iter())
                    .map(|f| format!("{}: {}", f.when, f.fault))
                    .collect();
                if !faults.is_empty() {
                    let _ = write!(
                        page,
                        "<span class=\"fault\" title=\"{}\">⚡</span>",
                        esc_line(&faults.join("; "), redactor)
                    );
                }
                // The chip shows the step's position in the round; its title the rest.
                let position = i % steps_per_round + 1;
                let _ = write!(
                    page,
                    "<a class=\"chip {}{}\" href=\"#case-{i}\" title=\"{}: {}, {} attempt(s)\">{position}</a>",
                    c.status.as_str(),
                    if c.is_flaky() { " flaky" } else { "" },
                    esc_line(c.step, redactor),
                    c.status.as_str(),
                    c.attempts.len()
                );
            }
            page.push_str("</td>");
        }
        page.push_str("</tr>");
    }
    page.push_str("</table></section>");
}

fn failures(page: &mut Page<'_>, report: &RunReport<'_>, redactor: &Redactor) {
    let flaky = report.cases.iter().filter(|c| c.is_flaky());
    let listed: Vec<&Case<'_>> = report.failures().chain(flaky).collect();
    if listed.is_empty() {
        return;
    }
    page.push_str("<section id=\"failures\"><h2>Failures</h2>");
    for c in listed {
        let _ = write!(
            page,
            "<h3 class=\"failure\">round {}, {} on {}{}</h3>",
            c.round,
            esc_line(c.step, redactor),
            esc_line(c.worker, redactor),
            if c.is_flaky() {
                " (failed, then passed when resumed)"
            } else {
                ""
            }
        );
        for (n, a) in c.attempts.iter().enumerate() {
            if a.status == crate::report::history::Status::Failed {
                let _ = write!(
                    page,
                    "<pre class=\"message\">{}</pre><pre class=\"output\">{}</pre>",
                    esc(&redactor.scrub(a.detail.as_deref().unwrap_or_default())),
                    esc(&attempt_text(report, c, a, n + 1, redactor))
                );
            }
        }
    }
    page.push_str("</section>");
}

fn steps(page: &mut Page<'_>, report: &RunReport<'_>, redactor: &Redactor) {
    page.push_str(
        "<section id=\"steps\"><h2>Steps</h2><nav>\
         <button data-show=\"all\">all</button><button data-show=\"failed\">failed</button>\
         <button data-show=\"flaky\">flaky</button><button data-show=\"not_run\">not run</button>\
         </nav><table><tr><th>Round</th><th>Step</th><th>Worker</th><th>Status</th><th>Output</th></tr>",
    );
    for (i, c) in report.cases.iter().enumerate() {
        let _ = write!(
            page,
            "<tr class=\"case {status}{flaky}\" id=\"case-{i}\"><td>{}</td><td>{}</td><td>{}</td>\
             <td class=\"status-{status}\">{status}{note}</td><td>",
            c.round,
            esc_line(c.step, redactor),
            esc_line(c.worker, redactor),
            status = c.status.as_str(),
            flaky = if c.is_flaky() { " flaky" } else { "" },
            note = match (&c.reason, c.attempts.len()) {
                (Some(reason), _) => format!(": {}", esc_line(reason, redactor)),
                (None, n) if n > 1 => format!(" ({n} attempts)"),
                _ => String::new(),
            },
        );
        for (n, a) in c.attempts.iter().enumerate() {
            let _ = write!(
                page,
                "<details{}><summary>attempt {}: {}</summary><pre>{}</pre></details>",
                if c.status == CaseStatus::Failed {
                    " open"
                } else {
                    ""
                },
                n + 1,
                a.status.as_str(),
                esc(&attempt_text(report, c, a, n + 1, redactor))
            );
        }
        page.push_str("</td></tr>");
    }
    page.push_str("</table></section>");
}

/// One line of guest or worker text, scrubbed and escaped.
fn esc_line(text: &str, redactor: &Redactor) -> String {
    esc(&redactor.scrub_line(text))
}

/// `text` escaped for HTML element content and quoted attribute values.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::report::collect::tests::{End, fresh, package, redactor, step};
    use crate::report::{Outline, ReportCollector};

    /// Records the size of every write it is given.
    #[derive(Default)]
    struct Pieces {
        bytes: Vec<u8>,
        writes: Vec<usize>,
    }

    impl std::io::Write for Pieces {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.bytes.extend_from_slice(buf);
            self.writes.push(buf.len());
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_long_run_s_page_is_written_in_pieces_as_it_is_built() {
        let outline = Outline {
            max_rounds: 400,
            steps: vec![("submit".into(), "worker1".into())],
            selection: None,
        };
        let (c, _) = ReportCollector::start(None, outline, &fresh(), redactor()).unwrap();
        for round in 1..=400 {
            step(&c, round, "submit", "worker1", End::Pass);
        }
        let r = redactor();
        let mut pieces = Pieces::default();
        c.with_report(&package(), |run| {
            super::write_to(&mut pieces, run, &r).unwrap();
            assert_eq!(pieces.bytes, super::render(run, &r).into_bytes());
        });
        // Every piece but the last holds about PIECE_BYTES (plus what the last append
        // added); none is the whole page.
        assert!(pieces.writes.len() > 3, "{:?}", pieces.writes);
        let (last, full) = pieces.writes.split_last().unwrap();
        assert!(*last <= pieces.bytes.len() / 2);
        for n in full {
            assert!(
                (super::PIECE_BYTES..2 * super::PIECE_BYTES).contains(n),
                "{n}"
            );
        }
    }
}
