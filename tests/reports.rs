//! The report files of real runs (the binary, the hello worker processes, components built
//! from source): the JUnit file valid against the CI schema (`xmllint`), the JSON report,
//! the HTML page rendered by a headless chromium (screenshot and DOM checked), and a run
//! that failed and was resumed to green, which every report shows as such.
//!
//! xmllint and chromium come from Debian (`scripts/setup-report-tools.sh`, run here).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Once;

use serde_json::{Value, json};
use system_tests::{TestDir, component, repo_root};

const REPORT_ARGS: [&str; 6] = [
    "--junit",
    "reports/junit.xml",
    "--json",
    "reports/run.json",
    "--html",
    "reports/run.html",
];

/// Installs xmllint and chromium once per test binary (does nothing when present).
fn report_tools() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let status = Command::new(repo_root().join("scripts/setup-report-tools.sh"))
            .status()
            .expect("run scripts/setup-report-tools.sh");
        assert!(status.success(), "scripts/setup-report-tools.sh failed");
    });
}

fn root(t: &TestDir) -> PathBuf {
    t.tests().parent().expect("root").to_path_buf()
}

/// Validates `xml` against the vendored JUnit schema; returns xmllint's verdict.
fn validate_junit(xml: &Path) -> Result<(), String> {
    report_tools();
    let schema = repo_root().join("tests/fixtures/junit/junit.xsd");
    let out = Command::new("xmllint")
        .args(["--noout", "--schema"])
        .arg(&schema)
        .arg(xml)
        .output()
        .expect("run xmllint");
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

fn read(path: PathBuf) -> String {
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Runs headless chromium on `page`: its DOM after scripts ran, and a screenshot at `png`.
fn chromium(page: &Path, png: &Path) -> String {
    report_tools();
    let profile = tempfile::tempdir().expect("profile dir");
    let url = format!("file://{}", page.display());
    let base = |cmd: &mut Command| {
        cmd.args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--hide-scrollbars",
            "--window-size=1200,900",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()));
    };
    let mut shot = Command::new("chromium");
    base(&mut shot);
    let out = shot
        .arg(format!("--screenshot={}", png.display()))
        .arg(&url)
        .output()
        .expect("run chromium");
    assert!(
        out.status.success() && png.exists(),
        "chromium took no screenshot: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut dump = Command::new("chromium");
    base(&mut dump);
    let out = dump
        .arg("--dump-dom")
        .arg(&url)
        .output()
        .expect("run chromium");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("the DOM is UTF-8")
}

#[test]
fn a_failed_then_resumed_run_shows_both_attempts_in_every_report() {
    let t = TestDir::hello();
    t.set_config("fail_step", "audit-greeting".into());
    let out = t.run_steps(&REPORT_ARGS);
    assert_eq!(out.code(), 1, "{out}");
    let root = root(&t);
    let junit = root.join("reports/junit.xml");
    validate_junit(&junit).unwrap_or_else(|e| panic!("{e}\n{}", read(junit.clone())));
    let xml = read(junit.clone());
    for e in [
        r#"<testsuite name="round 1" tests="5" failures="1" errors="0" skipped="2""#,
        r#"<testsuite name="round 2" tests="5" failures="0" errors="0" skipped="5""#,
        r#"<property name="package" value="steps.wasm@sha256:"#,
        r#"<property name="worker.audit-greeting" value="worker2"/>"#,
        r#"<skipped message="not reached: the run stopped at round 1, step audit-greeting (failed)"/>"#,
        "injected failure in audit-greeting (config fail_step)",
        "round 1, worker worker2, attempt 1 of 1: failed (invocation 1 of 1, starting a fresh run",
    ] {
        assert!(xml.contains(e), "no `{e}` in\n{xml}");
    }
    assert!(
        t.tests().join("data/test_state.results.jsonl").is_file(),
        "the results journal is kept beside the state file"
    );

    t.remove_config("fail_step");
    let out = t.run_steps(&REPORT_ARGS);
    assert_eq!(out.code(), 0, "{out}");
    validate_junit(&junit).unwrap_or_else(|e| panic!("{e}\n{}", read(junit.clone())));
    let xml = read(junit.clone());
    for e in [
        r#"tests="10" failures="0" errors="0""#,
        r#"<property name="resumed" value="true"/>"#,
        r#"<property name="invocations" value="2 invocations (resumed 1×)"/>"#,
        r#"<flakyFailure message="execute returned an error: injected failure in audit-greeting (config fail_step)" type="step failure">"#,
        "attempt 1 of 2: failed (invocation 1 of 2",
        "attempt 2 of 2: passed (invocation 2 of 2, resuming round 1 after step submit-greeting)",
    ] {
        assert!(xml.contains(e), "no `{e}` in\n{xml}");
    }
    assert!(!xml.contains("not reached"), "{xml}");

    let doc: Value = serde_json::from_str(&read(root.join("reports/run.json"))).expect("JSON");
    assert_eq!(doc["version"], json!(1));
    assert_eq!(doc["outcome"], json!("passed"));
    assert_eq!(doc["resumed"], json!(true));
    assert_eq!(doc["invocations"].as_array().map(Vec::len), Some(2));
    assert_eq!(doc["totals"]["failed"], json!(0));
    assert_eq!(doc["totals"]["flaky"], json!(1));
    let audit = doc["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .find(|c| c["round"] == json!(1) && c["step"] == json!("audit-greeting"))
        .expect("round 1's audit-greeting");
    assert_eq!(audit["status"], json!("passed"));
    assert_eq!(audit["attempts"][0]["status"], json!("failed"));
    assert_eq!(audit["attempts"][0]["invocation"], json!(1));
    assert_eq!(audit["attempts"][1]["invocation"], json!(2));

    let png = root.join("reports/run.png");
    let dom = chromium(&root.join("reports/run.html"), &png);
    assert!(dom.contains(r#"<b id="count-flaky">1</b>"#), "{dom}");
    assert!(dom.contains(r#"<b id="count-failed">0</b>"#), "{dom}");
    assert!(dom.contains("This run was resumed"), "{dom}");
    assert!(
        dom.contains("round 1, audit-greeting on worker2 (failed, then passed when resumed)"),
        "{dom}"
    );
    // The screenshot in the README is this page; regenerate it with
    // PROMETHEUS_WASM_SCREENSHOT=docs/img/html-report.png.
    if let Ok(dest) = std::env::var("PROMETHEUS_WASM_SCREENSHOT") {
        std::fs::copy(&png, repo_root().join(dest)).expect("copy the screenshot");
    }

    // A fresh run starts a new results journal: the old attempts are gone.
    let out = t.run_steps(&["--reset", "--json", "reports/run.json"]);
    assert_eq!(out.code(), 0, "{out}");
    let doc: Value = serde_json::from_str(&read(root.join("reports/run.json"))).expect("JSON");
    assert_eq!(doc["resumed"], json!(false));
    assert_eq!(doc["invocations"].as_array().map(Vec::len), Some(1));
    assert_eq!(doc["totals"]["flaky"], json!(0));
}

#[test]
fn the_html_report_shows_a_failure_and_hostile_markup_as_text() {
    let t = TestDir::example("hello", &component("hostile_text"));
    t.set_config("max_rounds", 1.into());
    t.set_config("leak", "tok-Sekr3t-9f8e7d6c".into());
    t.write(".env", "API_TOKEN=tok-Sekr3t-9f8e7d6c\n");
    let out = t.run_steps(&["--junit", "reports/junit.xml", "--html", "reports/run.html"]);
    assert_eq!(out.code(), 1, "{out}");
    let root = root(&t);
    validate_junit(&root.join("reports/junit.xml"))
        .unwrap_or_else(|e| panic!("{e}\n{}", read(root.join("reports/junit.xml"))));
    let html = read(root.join("reports/run.html"));
    assert!(!html.contains("Sekr3t"), "{html}");
    let dom = chromium(
        &root.join("reports/run.html"),
        &root.join("reports/run.png"),
    );
    // The markup is text: no script ran (the title is the report's), no image element.
    assert!(dom.contains("<title>steps.wasm@sha256:"), "{dom}");
    assert!(!dom.contains("pwned</title>"), "{dom}");
    assert!(
        dom.contains("markup &lt;script&gt;document.title='pwned'&lt;/script&gt;&lt;img src=x"),
        "{dom}"
    );
    assert!(!dom.contains("<img"), "{dom}");
    assert!(dom.contains(r#"<b id="count-failed">1</b>"#), "{dom}");
    assert!(dom.contains(r#"<b id="count-skipped">1</b>"#), "{dom}");
    assert!(
        dom.contains("<h3 class=\"failure\">round 1, fail\\u{7} on worker1</h3>"),
        "{dom}"
    );
    assert!(!dom.contains("Sekr3t"), "{dom}");
}

#[test]
fn a_step_that_fails_again_when_resumed_keeps_its_first_failure_as_a_rerun() {
    let t = TestDir::hello();
    t.set_config("fail_step", "submit-greeting".into());
    assert_eq!(t.run_steps(&[]).code(), 1);
    let out = t.run_steps(&["--junit", "reports/junit.xml", "--json", "reports/run.json"]);
    assert_eq!(out.code(), 1, "{out}");
    let root = root(&t);
    let junit = root.join("reports/junit.xml");
    validate_junit(&junit).unwrap_or_else(|e| panic!("{e}\n{}", read(junit.clone())));
    let xml = read(junit);
    assert!(
        xml.contains(r#"<rerunFailure message="execute returned an error: injected failure in submit-greeting (config fail_step)" type="step failure">"#),
        "{xml}"
    );
    assert!(
        xml.contains(
            "attempt 2 of 2: failed (invocation 2 of 2, resuming round 1 after step check-health)"
        ),
        "{xml}"
    );
    let doc: Value = serde_json::from_str(&read(root.join("reports/run.json"))).expect("JSON");
    assert_eq!(doc["outcome"], json!("failed"));
    assert_eq!(doc["totals"]["flaky"], json!(0));
    assert_eq!(
        doc["cases"][1]["attempts"].as_array().map(Vec::len),
        Some(2)
    );
}

#[test]
fn a_damaged_results_journal_refuses_the_resumed_run_and_names_the_file() {
    let t = TestDir::hello();
    t.set_config("fail_step", "submit-greeting".into());
    assert_eq!(t.run_steps(&[]).code(), 1);
    let journal = t.tests().join("data/test_state.results.jsonl");
    let text = read(journal.clone());
    let (header, rest) = text.split_once('\n').expect("a header line");
    std::fs::write(&journal, format!("{header}\nnot a record\n{rest}")).expect("damage it");
    t.remove_config("fail_step");
    let out = t.run_steps(&[]);
    assert_eq!(out.code(), 2, "{out}");
    assert!(
        out.all()
            .contains("test_state.results.jsonl is damaged at line 2"),
        "{out}"
    );
    assert!(out.all().contains("or run with --reset"), "{out}");
    // Nothing ran, and the saved state still resumes once the journal is dealt with.
    assert!(out.started_steps().is_empty(), "{out}");
    std::fs::remove_file(&journal).expect("delete it");
    let out = t.run_steps(&["--json", "reports/run.json"]);
    assert_eq!(out.code(), 0, "{out}");
    assert!(out.all().contains("no results journal"), "{out}");
    let doc: Value = serde_json::from_str(&read(root(&t).join("reports/run.json"))).expect("JSON");
    assert_eq!(
        doc["cases"][0]["reason"],
        json!("completed by an earlier invocation whose results were not kept")
    );
}

#[test]
fn a_failed_post_load_is_reported_as_the_reason_nothing_ran() {
    let t = TestDir::example("hello", &component("hostile_text"));
    t.set_config("max_rounds", 1.into());
    t.set_config("leak", "tok-Sekr3t-9f8e7d6c".into());
    t.set_config("fail_post_load", true.into());
    t.write(".env", "API_TOKEN=tok-Sekr3t-9f8e7d6c\n");
    let out = t.run_steps(&["--junit", "reports/junit.xml", "--json", "reports/run.json"]);
    assert_eq!(out.code(), 1, "{out}");
    let junit = root(&t).join("reports/junit.xml");
    validate_junit(&junit).unwrap_or_else(|e| panic!("{e}\n{}", read(junit.clone())));
    let xml = read(junit);
    assert!(
        xml.contains(r#"<testsuite name="post-load" tests="1" failures="1" errors="0""#),
        "{xml}"
    );
    assert!(
        xml.contains(r#"<skipped message="not reached: post-load failed"/>"#),
        "{xml}"
    );
    assert!(!xml.contains("Sekr3t"), "{xml}");
    let doc: Value = serde_json::from_str(&read(root(&t).join("reports/run.json"))).expect("JSON");
    assert_eq!(doc["outcome"], json!("failed"));
    assert_eq!(doc["failures"][0]["step"], json!("post-load"));
}
