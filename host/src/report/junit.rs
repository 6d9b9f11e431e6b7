//! The `--junit FILE` report: one `<testsuite>` per round, one `<testcase>` per step of
//! the round, as CI systems (GitLab, Jenkins, GitHub test reporters) read it; valid against
//! the Jenkins xUnit plugin's JUnit schema (checked in `tests/junit_schema.rs`).
//!
//! - A suite's `<properties>` name the package (`name@version`), the round, whether the run
//!   resumed and the worker of each step (`worker.<step>`); the schema has no properties
//!   per test case, so a case's `<system-out>` starts with its round, worker and attempt.
//! - A case's `<system-out>` holds the step's log lines and host calls (summary, request,
//!   response).
//! - Steps that did not run are `<skipped message="not reached: …">` or `"not selected"`.
//! - Attempts of earlier invocations that failed are `<flakyFailure>` (the step passed
//!   later) or `<rerunFailure>` (it failed again), each with its own output.
//!
//! Every text is scrubbed (secrets masked, control characters rendered visibly), so the
//! file is well-formed XML 1.0 whatever a guest wrote; [`xml_safe`] guards it once more,
//! piece by piece as the document streams to its file.

use std::fmt::Write as _;
use std::io::Write;
use std::path::Path;

use quick_xml::Writer;
use quick_xml::events::BytesText;

use crate::report::error::{ReportError, write_atomically_with};
use crate::report::history::{Status, StepEntry};
use crate::report::model::{Case, CaseStatus, RunReport};
use crate::report::redact::Redactor;
use crate::report::sanitize::xml_safe;

type XmlResult = std::io::Result<()>;

/// The JUnit XML document of a run.
pub fn render(report: &RunReport<'_>, redactor: &Redactor) -> String {
    let mut xml = Vec::new();
    write_to(&mut xml, report, redactor).expect("writing XML to a Vec cannot fail");
    String::from_utf8(xml).expect("the writer emits UTF-8")
}

/// Writes the JUnit report to `path`, streamed: one case's texts are alive at a time, the
/// document never is.
pub fn write(path: &Path, report: &RunReport<'_>, redactor: &Redactor) -> Result<(), ReportError> {
    write_atomically_with("JUnit", path, |out| write_to(out, report, redactor))
}

/// Writes the JUnit XML document of a run to `out` as it is made, every piece through
/// the XML guard ([`xml_safe`], applied piece by piece).
pub fn write_to(
    out: &mut dyn Write,
    report: &RunReport<'_>,
    redactor: &Redactor,
) -> std::io::Result<()> {
    let mut safe = XmlSafe::new(out);
    safe.write_all(b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n")?;
    let mut writer = Writer::new_with_indent(&mut safe, b' ', 2);
    let label = redactor.scrub_line(&report.package.label());
    let t = &report.totals;
    writer
        .create_element("testsuites")
        .with_attribute(("name", label.as_str()))
        .with_attribute(("tests", t.tests.to_string().as_str()))
        .with_attribute(("failures", t.failed.to_string().as_str()))
        .with_attribute(("errors", "0"))
        .with_attribute(("time", secs(report.duration_ms).as_str()))
        .write_inner_content(|w| {
            for round_cases in report.cases.chunk_by(|a, b| a.round == b.round) {
                suite(w, report, round_cases, &label, redactor)?;
            }
            Ok(())
        })?;
    safe.write_all(b"\n")?;
    safe.finish()
}

/// A writer that passes on only characters XML 1.0 allows, replacing any other with
/// U+FFFD ([`xml_safe`], applied piece by piece): the last guard of a streamed document.
/// The XML writer hands it UTF-8 that a piece boundary may split inside a character; the
/// split bytes wait for the next piece.
struct XmlSafe<'a> {
    out: &'a mut dyn Write,
    /// The start of a character the last piece ended inside (at most 3 bytes).
    pending: Vec<u8>,
}

impl<'a> XmlSafe<'a> {
    fn new(out: &'a mut dyn Write) -> Self {
        Self {
            out,
            pending: Vec::new(),
        }
    }

    /// Passes on `bytes`, valid UTF-8 up to an incomplete character at the end.
    fn pass(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let (text, rest) = match std::str::from_utf8(bytes) {
            Ok(text) => (text, &[][..]),
            Err(e) if e.error_len().is_none() => {
                let (valid, rest) = bytes.split_at(e.valid_up_to());
                (std::str::from_utf8(valid).unwrap_or_default(), rest)
            }
            // The XML writer writes only `str`s; anything else is replaced, not passed.
            Err(_) => {
                let text = String::from_utf8_lossy(bytes);
                self.out.write_all(xml_safe(&text).as_bytes())?;
                return Ok(bytes.len());
            }
        };
        self.out.write_all(xml_safe(text).as_bytes())?;
        self.pending.extend_from_slice(rest);
        Ok(bytes.len())
    }

    /// Ends the document: a character still incomplete is replaced.
    fn finish(&mut self) -> std::io::Result<()> {
        if !self.pending.is_empty() {
            self.pending.clear();
            self.out.write_all("\u{fffd}".as_bytes())?;
        }
        self.out.flush()
    }
}

impl Write for XmlSafe<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.pending.is_empty() {
            return self.pass(buf);
        }
        // Complete the pending character with the first bytes of this piece.
        let mut joined = std::mem::take(&mut self.pending);
        joined.extend_from_slice(buf);
        self.pass(&joined)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

/// Seconds with milliseconds, as the schema's time pattern wants.
fn secs(ms: f64) -> String {
    format!("{:.3}", ms / 1000.0)
}

/// The `<testsuite>` of one round.
fn suite<W: Write>(
    w: &mut Writer<W>,
    report: &RunReport<'_>,
    cases: &[Case<'_>],
    label: &str,
    redactor: &Redactor,
) -> XmlResult {
    let Some(round) = cases.first().map(|c| c.round) else {
        return Ok(());
    };
    let count = |s: CaseStatus| cases.iter().filter(|c| c.status == s).count();
    let skipped = count(CaseStatus::Skipped) + count(CaseStatus::NotRun);
    let time = cases.iter().map(Case::duration_ms).fold(0.0, |a, b| a + b);
    let name = match round {
        0 => "post-load".to_owned(),
        r => format!("round {r}"),
    };
    w.create_element("testsuite")
        .with_attribute(("name", name.as_str()))
        .with_attribute(("tests", cases.len().to_string().as_str()))
        .with_attribute(("failures", count(CaseStatus::Failed).to_string().as_str()))
        .with_attribute(("errors", "0"))
        .with_attribute(("skipped", skipped.to_string().as_str()))
        .with_attribute(("time", secs(time).as_str()))
        .write_inner_content(|w| {
            w.create_element("properties").write_inner_content(|w| {
                let mut property = |name: &str, value: &str| {
                    w.create_element("property")
                        .with_attribute(("name", name))
                        .with_attribute(("value", value))
                        .write_empty()
                        .map(|_| ())
                };
                property("package", label)?;
                property("package.file", &redactor.scrub_line(&report.package.file))?;
                property("package.sha256", &report.package.sha256)?;
                property("round", &round.to_string())?;
                property("resumed", if report.resumed() { "true" } else { "false" })?;
                property("invocations", &report.history_line())?;
                if let Some(signal) = &report.interrupted {
                    property("interrupted", signal)?;
                }
                for i in &report.invocations {
                    property(
                        &format!("invocation.{}", i.invocation),
                        &redactor.scrub_line(&format!("{}: {}", i.started_at, i.resume)),
                    )?;
                }
                for c in cases {
                    property(
                        &redactor.scrub_line(&format!("worker.{}", c.step)),
                        &redactor.scrub_line(c.worker),
                    )?;
                }
                Ok(())
            })?;
            let classname = format!("{label}.round{round}");
            for case in cases {
                testcase(w, report, case, &classname, redactor)?;
            }
            Ok(())
        })?;
    Ok(())
}

/// The `<testcase>` of one step of one round.
fn testcase<W: Write>(
    w: &mut Writer<W>,
    report: &RunReport<'_>,
    case: &Case<'_>,
    classname: &str,
    redactor: &Redactor,
) -> XmlResult {
    let name = redactor.scrub_line(case.step);
    w.create_element("testcase")
        .with_attribute(("name", name.as_ref()))
        .with_attribute(("classname", classname))
        .with_attribute(("time", secs(case.duration_ms()).as_str()))
        .write_inner_content(|w| {
            let n = case.attempts.len();
            for (i, attempt) in case.attempts.iter().enumerate() {
                let out = attempt_text(report, case, attempt, i + 1, redactor);
                if i + 1 == n {
                    match attempt.status {
                        Status::Passed => {}
                        Status::Skipped => skipped(w, detail(attempt, redactor).as_str())?,
                        Status::Failed => {
                            let text = detail(attempt, redactor);
                            w.create_element("failure")
                                .with_attribute(("message", first_line(&text)))
                                .with_attribute(("type", "step failure"))
                                .write_text_content(BytesText::new(&format!(
                                    "round {}, worker {}: {text}",
                                    case.round,
                                    redactor.scrub_line(case.worker)
                                )))?;
                        }
                    }
                    w.create_element("system-out")
                        .write_text_content(BytesText::new(&out))?;
                } else if attempt.status == Status::Failed {
                    let element = if case.status == CaseStatus::Failed {
                        "rerunFailure"
                    } else {
                        "flakyFailure"
                    };
                    let text = detail(attempt, redactor);
                    w.create_element(element)
                        .with_attribute(("message", first_line(&text)))
                        .with_attribute(("type", "step failure"))
                        .write_inner_content(|w| {
                            w.create_element("stackTrace")
                                .write_text_content(BytesText::new(&text))?;
                            w.create_element("system-out")
                                .write_text_content(BytesText::new(&out))?;
                            Ok(())
                        })?;
                }
            }
            if let Some(reason) = &case.reason {
                skipped(w, &redactor.scrub_line(reason))?;
            }
            Ok(())
        })?;
    Ok(())
}

fn skipped<W: Write>(w: &mut Writer<W>, message: &str) -> XmlResult {
    w.create_element("skipped")
        .with_attribute(("message", message))
        .write_empty()?;
    Ok(())
}

/// An attempt's skip reason or failure, scrubbed (multi-line: a traceback).
fn detail(attempt: &StepEntry, redactor: &Redactor) -> String {
    redactor.scrub(attempt.detail.as_deref().unwrap_or_default())
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or_default()
}

/// The `<system-out>` of an attempt: where and when it ran, its log lines, its host calls.
pub(crate) fn attempt_text(
    report: &RunReport<'_>,
    case: &Case<'_>,
    attempt: &StepEntry,
    number: usize,
    redactor: &Redactor,
) -> String {
    let mut out = String::with_capacity(256);
    // Invocations are numbered from 1 in journal order: looked up by index, so writing every
    // attempt stays linear however many invocations a (hostile) journal lists.
    let invocation = (attempt.invocation as usize)
        .checked_sub(1)
        .and_then(|i| report.invocations.get(i))
        .filter(|i| i.invocation == attempt.invocation);
    let _ = writeln!(
        out,
        "round {}, worker {}, attempt {number} of {}: {} (invocation {} of {}{})",
        case.round,
        redactor.scrub_line(&attempt.worker),
        case.attempts.len(),
        attempt.status.as_str(),
        attempt.invocation,
        report.invocations.len(),
        invocation.map_or(String::new(), |i| format!(
            ", {}",
            redactor.scrub_line(&i.resume)
        )),
    );
    for fault in &attempt.faults {
        let _ = writeln!(
            out,
            "[fault] ({}) {}",
            redactor.scrub_line(&fault.when),
            redactor.scrub_line(&fault.fault)
        );
    }
    for log in &attempt.logs {
        let _ = writeln!(out, "[{}] {}", log.level, redactor.scrub_line(&log.message));
    }
    if !attempt.calls.is_empty() {
        let _ = writeln!(out, "host calls:");
    }
    for call in &attempt.calls {
        let _ = writeln!(
            out,
            "{} {}{} ({:.1} ms)",
            call.kind,
            redactor.scrub_line(&call.summary),
            if call.failed { " [failed]" } else { "" },
            call.duration_ms
        );
        for (mark, text) in [("> ", &call.request), ("< ", &call.response)] {
            for line in redactor.scrub(text).lines() {
                out.push_str("  ");
                out.push_str(mark);
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests;
