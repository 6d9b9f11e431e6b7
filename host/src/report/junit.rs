//! The `--junit FILE` report: one `<testsuite>` per round, one `<testcase>` per step run,
//! as CI systems (GitLab, Jenkins, GitHub test reporters) read it. Every text is scrubbed
//! (secrets masked, control characters rendered visibly), so the file is well-formed XML 1.0
//! whatever a guest wrote; [`xml_safe`] guards the whole document once more.

use std::path::Path;

use quick_xml::Writer;
use quick_xml::events::BytesText;

use crate::report::error::{ReportError, write_atomically};
use crate::report::redact::Redactor;
use crate::report::sanitize::xml_safe;
use crate::runner::{RunSummary, StepStatus};

/// The JUnit XML document of a run.
pub fn render(summary: &RunSummary, package: &str, redactor: &Redactor) -> String {
    let mut writer = Writer::new_with_indent(Vec::new(), b' ', 2);
    let package = redactor.scrub_line(package);
    let package = package.as_str();
    let secs = |d: std::time::Duration| format!("{:.3}", d.as_secs_f64());
    let result = writer
        .create_element("testsuites")
        .with_attribute(("name", package))
        .with_attribute(("tests", summary.steps.len().to_string().as_str()))
        .with_attribute(("failures", summary.failed.to_string().as_str()))
        .with_attribute(("skipped", summary.skipped.to_string().as_str()))
        .with_attribute(("time", secs(summary.total_duration).as_str()))
        .write_inner_content(|w| {
            // Grouped in one pass: filtering every step per round is quadratic in long runs.
            let mut by_round: std::collections::HashMap<u32, Vec<_>> = Default::default();
            for r in &summary.steps {
                by_round.entry(r.round).or_default().push(r);
            }
            for round in &summary.rounds_run {
                let records = by_round.remove(round).unwrap_or_default();
                let failures = records
                    .iter()
                    .filter(|r| matches!(r.status, StepStatus::Failed(_)))
                    .count();
                let skipped = records
                    .iter()
                    .filter(|r| matches!(r.status, StepStatus::Skipped(_)))
                    .count();
                let time: std::time::Duration = records.iter().map(|r| r.duration).sum();
                w.create_element("testsuite")
                    .with_attribute(("name", format!("round {round}").as_str()))
                    .with_attribute(("tests", records.len().to_string().as_str()))
                    .with_attribute(("failures", failures.to_string().as_str()))
                    .with_attribute(("skipped", skipped.to_string().as_str()))
                    .with_attribute(("time", secs(time).as_str()))
                    .write_inner_content(|w| {
                        for r in &records {
                            let name = redactor.scrub_line(&r.step);
                            let case = w
                                .create_element("testcase")
                                .with_attribute(("name", name.as_str()))
                                .with_attribute((
                                    "classname",
                                    format!("{package}.round{round}").as_str(),
                                ))
                                .with_attribute(("time", secs(r.duration).as_str()));
                            match &r.status {
                                StepStatus::Passed => {
                                    case.write_empty()?;
                                }
                                StepStatus::Skipped(reason) => {
                                    case.write_inner_content(|w| {
                                        w.create_element("skipped")
                                            .with_attribute((
                                                "message",
                                                redactor.scrub_line(reason).as_str(),
                                            ))
                                            .write_empty()?;
                                        Ok(())
                                    })?;
                                }
                                StepStatus::Failed(f) => {
                                    // The attribute is the first line, the body the whole
                                    // message (a traceback).
                                    let text = redactor.redact(&f.to_string()).into_owned();
                                    let message = redactor
                                        .scrub_line(text.lines().next().unwrap_or_default());
                                    let text = format!(
                                        "round {round}, worker {}: {}",
                                        redactor.scrub_line(&r.worker),
                                        redactor.scrub(&text)
                                    );
                                    case.write_inner_content(|w| {
                                        w.create_element("failure")
                                            .with_attribute(("message", message.as_str()))
                                            .write_text_content(BytesText::new(&text))?;
                                        Ok(())
                                    })?;
                                }
                            }
                        }
                        Ok(())
                    })?;
            }
            Ok(())
        });
    result.expect("writing XML to a Vec cannot fail");
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    xml.push_str(&String::from_utf8(writer.into_inner()).expect("the writer emits UTF-8"));
    xml.push('\n');
    xml_safe(&xml).into_owned()
}

/// Writes the JUnit report to `path`.
pub fn write(
    path: &Path,
    summary: &RunSummary,
    package: &str,
    redactor: &Redactor,
) -> Result<(), ReportError> {
    write_atomically("JUnit", path, render(summary, package, redactor).as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::{Phase, StepFailure};
    use crate::runner::{RunOutcome, StepRecord};
    use std::time::Duration;

    fn summary() -> RunSummary {
        let rec = |round, step: &str, status| StepRecord {
            round,
            step: step.into(),
            worker: "worker1".into(),
            status,
            duration: Duration::from_millis(5),
        };
        let failure = StepFailure::Failed {
            phase: Phase::Execute,
            message: "bad <token> s3cret & more".into(),
        };
        RunSummary {
            rounds_run: vec![1, 2],
            steps: vec![
                rec(1, "a", StepStatus::Passed),
                rec(1, "b", StepStatus::Skipped("odd \"round\"".into())),
                rec(2, "a", StepStatus::Failed(failure.clone())),
            ],
            passed: 1,
            skipped: 1,
            failed: 1,
            outcome: RunOutcome::Failed {
                round: 2,
                step: "a".into(),
                worker: "worker1".into(),
                failure,
            },
            total_duration: Duration::from_millis(15),
        }
    }

    #[test]
    fn junit_has_a_suite_per_round_escaped_and_redacted() {
        let xml = render(&summary(), "hello", &Redactor::new(["s3cret".to_string()]));
        assert!(xml.starts_with("<?xml"));
        assert!(
            xml.contains(r#"<testsuites name="hello" tests="3" failures="1" skipped="1""#),
            "{xml}"
        );
        assert!(
            xml.contains(r#"<testsuite name="round 1" tests="2" failures="0" skipped="1""#),
            "{xml}"
        );
        assert!(
            xml.contains(r#"<skipped message="odd &quot;round&quot;"/>"#),
            "{xml}"
        );
        assert!(xml.contains("bad &lt;token&gt; *** &amp; more"), "{xml}");
        assert!(!xml.contains("s3cret"), "{xml}");
    }

    #[test]
    fn json_report_lists_steps_and_the_failure() {
        let doc = crate::report::json::render(
            &summary(),
            "hello",
            &Redactor::new(["s3cret".to_string()]),
        );
        assert_eq!(doc["outcome"], "failed");
        assert_eq!(doc["steps"].as_array().map(Vec::len), Some(3));
        assert_eq!(doc["steps"][1]["status"], "skipped");
        assert_eq!(doc["failure"]["step"], "a");
        assert!(!doc.to_string().contains("s3cret"));
    }

    #[test]
    fn junit_is_well_formed_whatever_the_guest_wrote() {
        let evil =
            "\x00\x01\x08\x0b\x0c\x1b]52;c;aGk=\x07\r\u{fffe}\u{ffff}\u{202e}<&>\"' s3cr\x1b[0met";
        let mut summary = summary();
        for r in &mut summary.steps {
            r.step = evil.into();
            r.worker = evil.into();
        }
        summary.steps[1].status = StepStatus::Skipped(evil.into());
        summary.steps[2].status = StepStatus::Failed(StepFailure::Failed {
            phase: Phase::Execute,
            message: format!("{evil}\n{evil}"),
        });
        let xml = render(&summary, evil, &Redactor::new(["s3cret".to_string()]));
        let mut reader = quick_xml::Reader::from_str(&xml);
        let mut texts = String::new();
        loop {
            match reader.read_event() {
                Ok(quick_xml::events::Event::Eof) => break,
                Ok(quick_xml::events::Event::Start(e) | quick_xml::events::Event::Empty(e)) => {
                    for a in e.attributes() {
                        let a = a.expect("well-formed attribute");
                        texts.push_str(
                            &a.normalized_value(quick_xml::XmlVersion::default())
                                .expect("escaped attribute"),
                        );
                    }
                }
                Ok(_) => {}
                Err(e) => panic!("not well-formed at {}: {e}\n{xml}", reader.error_position()),
            }
        }
        assert!(
            xml.chars().all(crate::report::sanitize::is_xml_char),
            "{xml}"
        );
        assert!(!texts.contains("s3cr") && !xml.contains("s3cr"), "{xml}");
        assert!(texts.contains("\\u{1b}]52;c;aGk=\\u{7}\\r"), "{texts}");
        assert!(texts.contains("<&>\"'"), "{texts}");
    }
}
