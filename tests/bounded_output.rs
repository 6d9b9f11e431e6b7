//! One cap for any single message, and one output path for text from elsewhere, through
//! the real binary:
//!
//! - a step failing with a 10 MiB and a 100 MiB message (`hostile-text` with
//!   `fail_bytes`): stdout, stderr and the JUnit, JSON and HTML reports each stay under a
//!   stated size, say how much they cut, and show no raw control character or secret;
//! - names and identities carrying C0, C1 and bidi characters in a package's metadata and
//!   manifest, a plan file, its lock and a results journal: escaped on `list`, `inspect`,
//!   `metadata`, `check`, `lock`, `lock --update-pins` and in every report.

use std::time::Duration;

use serde_json::json;
use system_tests::{RunOutput, TestDir, component, wait_measured};

/// The secret, in `.env` as `API_TOKEN` and in config.yaml's `leak`.
const SECRET: &str = "tok-Sekr3t-9f8e7d6c";

/// The most stdout and stderr may hold for a run whose one failure is huge: the message
/// is cut to 64 KiB where it is shown (the step line, the closing line's first line, the
/// error), plus the run's ordinary lines.
const MAX_STREAM_BYTES: usize = 512 << 10;

/// The most a report file may hold for that run: the message at most twice (JSON's
/// `failures` and the attempt), each cut to 64 KiB, plus the ordinary content.
const MAX_REPORT_BYTES: usize = 512 << 10;

/// Peak RSS of such a run: the message itself is held by the guest and copied by the host
/// a few times; redacting or sanitizing it whole took gigabytes (about 50 bytes per byte).
const MAX_RSS_KIB: u64 = 1 << 20;

/// How long one run may take: detects a hang, not a speed.
const MAX_RUN_TIME: Duration = Duration::from_secs(120);

/// Every class the sanitizer escapes: C0 (ESC, BEL, CR, NUL, VT), DEL, C1 (CSI, OSC), an
/// OSC 52 clipboard write, a screen clear, bidi overrides and isolates, zero-width and
/// line-separator characters. (No NUL: it cannot be a command-line argument; the journal
/// test adds one.)
const HOSTILE: &str = "\u{1b}]52;c;aGk=\u{7}\u{1b}[2J\r\u{1}\u{b}\u{7f}\u{9b}31m\u{9d}0;t\u{9c}\u{202e}\u{2066}\u{200b}\u{2028}\u{feff}";

/// Asserts that `text` holds no raw control character but newlines and tabs, no bidi,
/// zero-width or separator character, and no piece of the secret.
fn assert_clean(what: &str, text: &str, out: &RunOutput) {
    let raw: Vec<char> = text
        .chars()
        .filter(|&c| {
            (c.is_control() && c != '\n' && c != '\t')
                || matches!(c, '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}')
        })
        .collect();
    assert!(
        raw.is_empty(),
        "{what} holds raw controls {raw:?}\n{}",
        short(&out.to_string())
    );
    for piece in ["tok-Sekr3", "9f8e7d6c"] {
        assert!(!text.contains(piece), "{what} leaks `{piece}`");
    }
}

/// A JSON document's text must not carry control characters escaped by serde alone
/// (`\u001b`): they would be raw again for whoever reads the value.
fn assert_json_clean(what: &str, text: &str, out: &RunOutput) {
    assert_clean(what, text, out);
    for escaped in ["\\u001b", "\\u0007", "\\u0000", "\\u009b"] {
        assert!(!text.contains(escaped), "{what} holds `{escaped}`");
    }
    let doc: serde_json::Value = serde_json::from_str(text).expect("the JSON parses");
    let mut strings = Vec::new();
    collect_strings(&doc, &mut strings);
    for s in strings {
        assert_clean(&format!("a string of {what}"), &s, out);
    }
}

fn collect_strings(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::String(s) => out.push(s.clone()),
        serde_json::Value::Array(items) => items.iter().for_each(|v| collect_strings(v, out)),
        serde_json::Value::Object(map) => map.iter().for_each(|(k, v)| {
            out.push(k.clone());
            collect_strings(v, out);
        }),
        _ => {}
    }
}

/// The first and last 2 KiB of a long output, for failure messages.
fn short(text: &str) -> String {
    if text.len() <= 4096 {
        return text.to_owned();
    }
    let mut head = 2048;
    while !text.is_char_boundary(head) {
        head -= 1;
    }
    let mut tail = text.len() - 2048;
    while !text.is_char_boundary(tail) {
        tail += 1;
    }
    format!("{} […] {}", &text[..head], &text[tail..])
}

/// Runs the runner to completion and returns its output and its peak RSS in KiB (its own
/// `wait4` usage).
fn run_measured(dir: &TestDir, args: &[&str]) -> (RunOutput, u64) {
    wait_measured(
        dir.command(args).spawn().expect("spawn the runner"),
        MAX_RUN_TIME,
    )
}

/// The hello test folder running `hostile-text` for one round, its last step failing
/// with a message of `fail_bytes` bytes.
fn huge_failure_dir(fail_bytes: usize) -> TestDir {
    let dir = TestDir::example("hello", &component("hostile_text"));
    dir.set_config("max_rounds", 1.into());
    dir.set_config("leak", SECRET.into());
    dir.set_config("fail_bytes", (fail_bytes as u64).into());
    dir.write(".env", &format!("API_TOKEN={SECRET}\nNODE_ENV=test\n"));
    dir
}

/// Runs a step failing with `fail_bytes` of message and checks every output's size.
fn huge_failure_is_bounded(fail_bytes: usize, extra: &[&str]) {
    let dir = huge_failure_dir(fail_bytes);
    let mut args = vec![
        "run",
        "tests/steps.wasm",
        "--reset",
        "--junit",
        "tests/report.xml",
        "--json",
        "tests/report.json",
        "--html",
        "tests/report.html",
    ];
    args.extend_from_slice(extra);
    let (out, rss_kib) = run_measured(&dir, &args);
    assert_eq!(
        out.code(),
        1,
        "the last step fails\n{}",
        short(&out.to_string())
    );
    eprintln!(
        "{fail_bytes} bytes of failure: stdout {} B, stderr {} B, peak RSS {rss_kib} KiB",
        out.stdout.len(),
        out.stderr.len()
    );
    for (what, text) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
        assert!(
            text.len() < MAX_STREAM_BYTES,
            "{what}: {} bytes\n{}",
            text.len(),
            short(text)
        );
        assert_clean(what, text, &out);
    }
    assert!(rss_kib < MAX_RSS_KIB, "peak RSS {rss_kib} KiB");
    assert!(
        out.stdout.contains(" more bytes]"),
        "the terminal says what it cut\n{}",
        short(&out.stdout)
    );
    assert!(
        out.stdout.contains("huge failure ***"),
        "{}",
        short(&out.stdout)
    );
    for file in ["report.xml", "report.json", "report.html"] {
        let text = std::fs::read_to_string(dir.tests().join(file)).expect("report written");
        eprintln!("  {file}: {} B", text.len());
        assert!(
            text.len() < MAX_REPORT_BYTES,
            "{file}: {} bytes\n{}",
            text.len(),
            short(&text)
        );
        assert!(text.contains(" more bytes]"), "{file} says what it cut");
        if file.ends_with(".json") {
            assert_json_clean(file, &text, &out);
        } else {
            assert_clean(file, &text, &out);
        }
    }
    // The results journal keeps the cut message, not the whole one.
    let journal = dir.tests().join("data/test_state.results.jsonl");
    let kept = std::fs::metadata(&journal).expect("journal").len();
    eprintln!("  journal: {kept} B");
    assert!(kept < MAX_REPORT_BYTES as u64, "journal {kept} bytes");
    // So does the failed step's recording (masked after the cut, not before).
    let recording = dir.tests().join("data/recording.jsonl");
    let kept = std::fs::metadata(&recording)
        .expect("the failed step is recorded")
        .len();
    eprintln!("  recording: {kept} B");
    assert!(kept < MAX_REPORT_BYTES as u64, "recording {kept} bytes");
}

#[test]
fn a_10_mib_failure_message_gives_bounded_output_and_reports() {
    huge_failure_is_bounded(10 << 20, &[]);
}

#[test]
fn a_100_mib_failure_message_gives_bounded_output_and_reports() {
    // With the recording on (the default): the recorder cuts the outcome before masking
    // it, so the failed step's recording is as bounded as the reports.
    huge_failure_is_bounded(100 << 20, &[]);
}

/// A test folder whose plan names the `hostile-text` package (stamped with a hostile
/// name and version) under a hostile package name, pinned to a wrong sha256.
fn hostile_plan_dir() -> (TestDir, String) {
    let dir = TestDir::example("hello", &component("hostile_text"));
    dir.set_config("max_rounds", 1.into());
    dir.set_config("leak", SECRET.into());
    let stamped = dir.tests().join("hostile.wasm");
    let out = dir.run(&[
        "metadata",
        &dir.steps().display().to_string(),
        "--name",
        &format!("evil{HOSTILE}"),
        "--set-version",
        &format!("1.0{HOSTILE}"),
        "--description",
        &format!("desc{HOSTILE}"),
        "-o",
        &stamped.display().to_string(),
    ]);
    assert_eq!(out.code(), 0, "{out}");
    assert_clean("metadata's stamp line", &out.all(), &out);
    // YAML double-quoted escapes: ESC, BEL, CR, C1 CSI, RLO; no `/` (a package name).
    let name = r#""pkg\e]52;c;aGk=\a\r\x9b31m\u202e""#;
    let wrong = "0".repeat(64);
    let plan = format!(
        "packages:\n  {name}:\n    path: hostile.wasm\n    sha256: {wrong}\nsteps:\n  - use: {}\n",
        r#""pkg\e]52;c;aGk=\a\r\x9b31m\u202e/skip\u202eme""#
    );
    dir.write("plan.yaml", &plan);
    (dir, wrong)
}

#[test]
fn hostile_names_and_identities_are_escaped_on_every_command() {
    let (dir, wrong) = hostile_plan_dir();
    let package = dir.tests().join("hostile.wasm").display().to_string();

    for args in [
        vec!["metadata", package.as_str()],
        vec!["list", package.as_str()],
        vec!["inspect", package.as_str()],
    ] {
        let out = dir.run(&args);
        assert_eq!(out.code(), 0, "{args:?}\n{out}");
        assert_clean(&format!("{args:?}"), &out.all(), &out);
        assert!(
            out.stdout.contains("u{1b}]52;c;aGk=") || out.stdout.contains("u{1b}[31m"),
            "{args:?} shows the hostile text escaped\n{out}"
        );
    }
    for args in [
        vec!["metadata", package.as_str()],
        vec!["list", "--json", package.as_str()],
        vec!["inspect", "--json", package.as_str()],
    ] {
        let out = dir.run(&args);
        assert_eq!(out.code(), 0, "{args:?}\n{out}");
        assert_json_clean(&format!("{args:?}"), &out.stdout, &out);
    }

    // The pin is wrong: `lock` and `check` refuse, quoting the package's name.
    for args in [
        vec!["lock", "tests/plan.yaml"],
        vec!["check", "tests/plan.yaml"],
    ] {
        let out = dir.run(&args);
        assert_eq!(out.code(), 2, "{args:?}\n{out}");
        assert_clean(&format!("{args:?}"), &out.all(), &out);
        assert!(out.stderr.contains(&wrong), "{args:?}\n{out}");
    }
    // `--update-pins` shows the old and new pins beside the name and identity, and asks
    // (no terminal: the answer is no).
    let out = dir.run(&["lock", "tests/plan.yaml", "--update-pins"]);
    assert_eq!(out.code(), 2, "{out}");
    assert_clean("lock --update-pins", &out.all(), &out);
    assert!(out.stdout.contains(&format!("old {wrong}")), "{out}");
    assert!(
        out.stdout
            .contains("pkg\\u{1b}]52;c;aGk=\\u{7}\\r\\u{9b}31m\\u{202e}"),
        "{out}"
    );
    assert!(out.stdout.contains("new "), "{out}");
    assert!(
        out.stdout.contains("evil\\u{1b}]52"),
        "the new identity, escaped\n{out}"
    );

    // Rewritten (or refused with an error that quotes the name): either way escaped.
    let out = dir.run(&["lock", "tests/plan.yaml", "--update-pins", "--yes"]);
    assert_clean("lock --update-pins --yes", &out.all(), &out);
    if out.code() == 0 {
        // The plan now holds the right pin: `lock` writes the lock and prints the pins,
        // `check` describes the lock and the plan.
        for args in [
            vec!["lock", "tests/plan.yaml"],
            vec!["check", "tests/plan.yaml"],
        ] {
            let out = dir.run(&args);
            assert_eq!(out.code(), 0, "{args:?}\n{out}");
            assert_clean(&format!("{args:?}"), &out.all(), &out);
        }
        let lock = std::fs::read_to_string(dir.tests().join("plan.lock"));
        assert!(lock.is_ok(), "lock written");
    } else {
        assert_eq!(out.code(), 2, "{out}");
        assert!(out.stderr.contains("pkg\\u{1b}]52"), "{out}");
    }
}

#[test]
fn a_results_journal_with_control_characters_is_escaped_in_every_report() {
    let dir = huge_failure_dir(0);
    dir.remove_config("fail_bytes");
    dir.write(".env", &format!("API_TOKEN={SECRET}\nNODE_ENV=test\n"));
    let reports = [
        "--junit",
        "tests/report.xml",
        "--json",
        "tests/report.json",
        "--html",
        "tests/report.html",
    ];
    let mut args = vec!["--reset"];
    args.extend(reports);
    let out = dir.run_steps(&args);
    assert_eq!(out.code(), 1, "the last step fails\n{out}");
    // Whoever can write data_dir rewrites the journal: raw controls in the fields the
    // runner itself wrote (times, levels, call kinds, the resume line) and a 2 MiB log line.
    let journal = dir.tests().join("data/test_state.results.jsonl");
    let text = std::fs::read_to_string(&journal).expect("journal");
    let mut lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("a record"))
        .collect();
    for record in lines.iter_mut().skip(1) {
        if record["record"] == "invocation" {
            record["started_at"] = json!(format!("2026-01-01T00:00:00Z{HOSTILE}\u{0}"));
            record["resume"] = json!(format!("resume{HOSTILE}"));
        }
        if record["record"] == "step" {
            record["logs"]
                .as_array_mut()
                .expect("logs")
                .push(json!({"level": format!("info{HOSTILE}"),
                    "message": format!("{HOSTILE}{}", "L".repeat(2 << 20))}));
            record["calls"].as_array_mut().expect("calls").push(json!({
                "kind": format!("http{HOSTILE}"), "summary": HOSTILE, "request": HOSTILE,
                "response": HOSTILE, "failed": true, "duration_ms": 1.0}));
        }
    }
    let rewritten: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(&journal, rewritten).expect("rewrite the journal");

    // Resumed: the reports restore the journal.
    let out = dir.run_steps(&reports);
    assert_eq!(out.code(), 1, "the last step fails again\n{out}");
    assert_clean("stdout", &out.stdout, &out);
    assert_clean("stderr", &out.stderr, &out);
    for file in ["report.xml", "report.json", "report.html"] {
        let text = std::fs::read_to_string(dir.tests().join(file)).expect("report written");
        if file.ends_with(".json") {
            assert_json_clean(file, &text, &out);
        } else {
            assert_clean(file, &text, &out);
        }
        assert!(
            text.contains("\\u{1b}]52;c;aGk="),
            "{file} shows the attack escaped"
        );
        assert!(
            text.len() < MAX_REPORT_BYTES,
            "{file}: {} bytes",
            text.len()
        );
    }
}

#[test]
fn check_shows_config_and_overrides_escaped_one_line_each() {
    let dir = huge_failure_dir(0);
    dir.remove_config("fail_bytes");
    // A task id with a newline would draw a line of its own (`ok: …`) if not escaped.
    dir.set_config("task_id", format!("task{HOSTILE}\nok: forged line").into());
    // YAML refuses control characters in a value, not bidi or zero-width ones.
    let set = "leak=value\u{202e}\u{2066}\u{200b}".to_string();
    let out = dir.run(&["check", "tests", "--set", &set]);
    assert_eq!(out.code(), 0, "{out}");
    assert_clean("check", &out.all(), &out);
    assert!(
        !out.stdout.lines().any(|l| l.starts_with("ok: forged")),
        "a name drew its own line\n{out}"
    );
    assert!(
        out.stdout.contains("override: --set leak=value\\u{202e}"),
        "{out}"
    );
    assert!(out.stdout.contains("task\\u{1b}]52"), "{out}");
}
