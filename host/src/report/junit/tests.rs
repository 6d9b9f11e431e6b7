//! The JUnit, JSON and HTML reports of synthetic runs (the collector fed [`RunEvent`]s,
//! host calls included): content, escaping, redaction, resumed runs, scale.

use super::*;
use crate::report::collect::ReportCollector;
use crate::report::collect::tests::{End, outline, package, red_then_green, redactor, step};
use crate::report::history::RESULTS_FILE_NAME;
use crate::report::model::Outline;
use crate::runner::ResumePoint;

/// A run that skips round 1's `submit` and fails at round 2's `submit`.
fn failed_run() -> ReportCollector {
    let fresh = ResumePoint::Fresh {
        reason: "--reset".into(),
    };
    let (c, _) = ReportCollector::start(None, outline(), &fresh, redactor()).expect("in memory");
    step(&c, 1, "fetch", "worker1", End::Pass);
    step(&c, 1, "submit", "worker1", End::Skip);
    step(&c, 1, "audit", "worker2", End::Pass);
    step(&c, 2, "fetch", "worker1", End::Pass);
    step(&c, 2, "submit", "worker1", End::Fail);
    c
}

fn junit_of(c: &ReportCollector) -> String {
    c.with_report(&package(), |r| render(r, &redactor()))
}

#[test]
fn junit_has_output_properties_and_the_steps_not_reached() {
    let xml = junit_of(&failed_run());
    assert!(xml.starts_with("<?xml"));
    let expect = [
        r#"<testsuites name="steps.wasm@sha256:0123456789ab" tests="6" failures="1" errors="0""#,
        r#"<testsuite name="round 1" tests="3" failures="0" errors="0" skipped="1""#,
        r#"<testsuite name="round 2" tests="3" failures="1" errors="0" skipped="1""#,
        r#"<property name="package" value="steps.wasm@sha256:0123456789ab"/>"#,
        r#"<property name="round" value="2"/>"#,
        r#"<property name="worker.audit" value="worker2"/>"#,
        r#"<property name="resumed" value="false"/>"#,
        r#"<skipped message="odd &quot;round&quot;"/>"#,
        r#"<skipped message="not reached: the run stopped at round 2, step submit (failed)"/>"#,
        r#"<failure message="execute returned an error: bad &lt;token&gt; *** &amp; more" type="step failure">"#,
        "round 2, worker worker1, attempt 1 of 1: failed (invocation 1 of 1, starting a fresh run (--reset))",
        "[info] submit says &lt;script&gt;alert(&apos;***&apos;)&lt;/script&gt;",
        "http POST http://127.0.0.1:5001/submit -&gt; 500 (2.0 ms)",
        "  &gt; {&quot;token&quot;:&quot;***&quot;}",
        "  &lt; boom",
    ];
    for e in expect {
        assert!(xml.contains(e), "no `{e}` in\n{xml}");
    }
    assert!(!xml.contains("s3cret"), "{xml}");
}

#[test]
fn junit_of_a_resumed_run_shows_the_failed_attempt_as_flaky() {
    let dir = tempfile::tempdir().expect("temp dir");
    let c = red_then_green(&dir.path().join(RESULTS_FILE_NAME));
    let xml = junit_of(&c);
    assert!(xml.contains(r#"failures="0""#), "{xml}");
    assert!(
        xml.contains(r#"<property name="resumed" value="true"/>"#),
        "{xml}"
    );
    assert!(
        xml.contains(r#"<property name="invocations" value="2 invocations (resumed 1×)"/>"#),
        "{xml}"
    );
    assert!(
        xml.contains(r#"<flakyFailure message="execute returned an error: bad &lt;token&gt; *** &amp; more" type="step failure">"#),
        "{xml}"
    );
    assert!(
        xml.contains("attempt 1 of 2: failed (invocation 1 of 2"),
        "{xml}"
    );
    assert!(
        xml.contains(
            "attempt 2 of 2: passed (invocation 2 of 2, resuming round 1 after step submit)"
        ),
        "{xml}"
    );
}

#[test]
fn json_report_has_a_version_cases_attempts_and_calls() {
    let dir = tempfile::tempdir().expect("temp dir");
    let c = red_then_green(&dir.path().join(RESULTS_FILE_NAME));
    let doc = c.with_report(&package(), |r| crate::report::json::render(r, &redactor()));
    assert_eq!(doc["version"], 1);
    assert_eq!(doc["outcome"], "passed");
    assert_eq!(doc["resumed"], true);
    assert_eq!(doc["invocations"].as_array().map(Vec::len), Some(2));
    assert_eq!(doc["totals"]["flaky"], 1);
    assert_eq!(doc["cases"].as_array().map(Vec::len), Some(6));
    let audit = &doc["cases"][2];
    assert_eq!(audit["status"], "passed");
    assert_eq!(audit["flaky"], true);
    assert_eq!(audit["attempts"][0]["status"], "failed");
    assert_eq!(audit["attempts"][0]["invocation"], 1);
    assert_eq!(audit["attempts"][0]["calls"][0]["kind"], "http");
    assert_eq!(audit["attempts"][1]["invocation"], 2);
    assert_eq!(doc["cases"][5]["status"], "skipped");
    assert!(!doc.to_string().contains("s3cret"));
    let failed = failed_run();
    let doc = failed.with_report(&package(), |r| crate::report::json::render(r, &redactor()));
    assert_eq!(doc["failures"][0]["step"], "submit");
    assert_eq!(doc["cases"][5]["status"], "not_run");
    assert_eq!(
        doc["cases"][5]["reason"],
        "not reached: the run stopped at round 2, step submit (failed)"
    );
}

#[test]
fn html_escapes_guest_text_and_shows_failures() {
    let c = failed_run();
    let html = c.with_report(&package(), |r| crate::report::html::render(r, &redactor()));
    assert!(html.contains("submit says &lt;script&gt;alert(&#39;***&#39;)&lt;/script&gt;"));
    assert!(!html.contains("<script>alert"), "{html}");
    assert!(!html.contains("s3cret"), "{html}");
    assert!(html.contains(r#"<b id="count-failed">1</b>"#), "{html}");
    assert!(
        html.contains("<h3 class=\"failure\">round 2, submit on worker1</h3>"),
        "{html}"
    );
    // Nothing is fetched: no URL outside the text a step wrote.
    for fetch in ["src=", "<link", "@import", "url("] {
        assert!(!html.contains(fetch), "{fetch} in\n{html}");
    }
}

#[test]
fn junit_is_well_formed_whatever_the_guest_wrote() {
    let evil =
        "\x00\x01\x08\x0b\x0c\x1b]52;c;aGk=\x07\r\u{fffe}\u{ffff}\u{202e}<&>\"' s3cr\x1b[0met";
    let outline = Outline {
        max_rounds: 1,
        steps: vec![(evil.into(), evil.into()), ("b".into(), evil.into())],
        selection: None,
    };
    let fresh = ResumePoint::Fresh {
        reason: evil.into(),
    };
    let (c, _) = ReportCollector::start(None, outline, &fresh, redactor()).expect("in memory");
    step(&c, 1, evil, evil, End::Fail);
    let mut package = package();
    package.file = evil.into();
    let xml = c.with_report(&package, |r| render(r, &redactor()));
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

#[test]
fn ten_thousand_steps_make_one_case_each() {
    // Size, not time (timing goes to benches): every report holds every step once.
    let steps: Vec<(String, String)> = (0..10_000)
        .map(|i| (format!("s{i}"), format!("worker{}", i % 3)))
        .collect();
    let outline = Outline {
        max_rounds: 1,
        steps: steps.clone(),
        selection: None,
    };
    let fresh = ResumePoint::Fresh {
        reason: "no saved state".into(),
    };
    let (c, _) = ReportCollector::start(None, outline, &fresh, redactor()).expect("in memory");
    for (name, worker) in &steps {
        step(&c, 1, name, worker, End::Pass);
    }
    let package = package();
    let (xml, html) = c.with_report(&package, |r| {
        (
            render(r, &redactor()),
            crate::report::html::render(r, &redactor()),
        )
    });
    assert_eq!(xml.matches("<testcase ").count(), 10_000);
    assert_eq!(html.matches("<tr class=\"case ").count(), 10_000);
}

#[test]
fn the_xml_guard_joins_characters_split_between_pieces_and_replaces_forbidden_ones() {
    let mut out = Vec::new();
    {
        let mut safe = XmlSafe::new(&mut out);
        let text = "é€😀\u{1}a\u{fffe}";
        // Every split point, inside characters included, one byte per piece.
        for byte in text.as_bytes() {
            safe.write_all(std::slice::from_ref(byte)).expect("write");
        }
        safe.write_all("ok".as_bytes()).expect("write");
        // A piece ending inside a character, then the end: the half is replaced.
        safe.write_all(&"€".as_bytes()[..2]).expect("write");
        safe.finish().expect("finish");
    }
    assert_eq!(
        String::from_utf8(out).expect("UTF-8"),
        "é€😀\u{fffd}a\u{fffd}ok\u{fffd}"
    );
}

#[test]
fn the_streamed_file_is_the_rendered_document() {
    let evil = "\u{1}\u{b}s3cr\u{1b}[0met é€😀 <&>";
    let outline = Outline {
        max_rounds: 1,
        steps: vec![(evil.into(), evil.into()), ("b".into(), "w".into())],
        selection: None,
    };
    let fresh = ResumePoint::Fresh {
        reason: evil.into(),
    };
    let (c, _) = ReportCollector::start(None, outline, &fresh, redactor()).expect("in memory");
    step(&c, 1, evil, evil, End::Fail);
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("junit.xml");
    let rendered = c.with_report(&package(), |r| {
        write(&path, r, &redactor()).expect("write the file");
        render(r, &redactor())
    });
    let written = std::fs::read_to_string(&path).expect("read the file");
    assert_eq!(written, rendered);
    assert!(written.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites "));
    assert!(written.ends_with("</testsuites>\n"), "{written}");
    assert!(written.chars().all(crate::report::sanitize::is_xml_char));
}
