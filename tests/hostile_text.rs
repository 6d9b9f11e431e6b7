//! Guest and worker text never drives the terminal, and secrets stay masked, through the
//! real binary: the `hostile-text` package (`tests/components/hostile-text`) puts ESC, OSC
//! 52, BEL, `\r`, a bidi override and a secret of `.env` (whole, split by escape codes,
//! cut by the log line limit) into step names, descriptions, logs, output, skip reasons,
//! failures and post-load; a worker prints the same. Nothing of it may reach stdout,
//! stderr or the reports raw.

use serde_json::json;
use system_tests::{RunOutput, TestDir, component};

/// The secret, in `.env` as `API_TOKEN` (secret by its name).
const SECRET: &str = "tok-Sekr3t-9f8e7d6c";

/// Pieces of [`SECRET`] that must not show anywhere: its start (as a cut leaves it), the
/// pieces the package splits it into, its end.
const PIECES: [&str; 4] = ["tok-Sekr3", "Sekr3t", "9f8e7d6c", "8e7d6c"];

/// A worker that prints hostile text and the secret (whole, split by escapes, and at the
/// end of a line longer than the runner's 16 KiB line limit), then becomes the hello worker.
const WORKER_SCRIPT: &str = r#"
printf 'osc52 \033]52;c;aGFja2Vk\007 bel\007 erase\033[2K\r  ✓ fake-pass %s\n' "$API_TOKEN"
head=$(printf %s "$API_TOKEN" | cut -c1-9); tail=$(printf %s "$API_TOKEN" | cut -c10-)
printf 'split %s\033[0m%s\n' "$head" "$tail"
head -c 16380 /dev/zero | tr '\0' x; printf ' %s\n' "$API_TOKEN"
exec "$1"
"#;

/// The hello test folder running `hostile-text` for one round, with the secret in
/// `.env`, in config.yaml's `leak` (which the package reads) and in worker1's output.
fn hostile_dir() -> TestDir {
    let dir = TestDir::example("hello", &component("hostile_text"));
    dir.set_config("max_rounds", 1.into());
    dir.set_config("leak", SECRET.into());
    dir.write(".env", &format!("API_TOKEN={SECRET}\nNODE_ENV=test\n"));
    dir.write("worker.sh", WORKER_SCRIPT);
    let script = dir.tests().join("worker.sh").display().to_string();
    let mut workers = dir.workers_json();
    workers["worker1"]["command"] = json!(["sh", script, "${HELLO_WORKER}"]);
    dir.write_workers_json(&workers);
    dir
}

/// Asserts that `text` holds no raw control character but newlines and tabs, no bidi
/// control and no piece of the secret.
fn assert_clean(what: &str, text: &str, out: &RunOutput) {
    let raw: Vec<char> = text
        .chars()
        .filter(|&c| {
            (c.is_control() && c != '\n' && c != '\t') || ('\u{202a}'..='\u{202e}').contains(&c)
        })
        .collect();
    assert!(raw.is_empty(), "{what} holds raw controls {raw:?}\n{out}");
    for piece in PIECES {
        assert!(
            !text.contains(piece),
            "{what} leaks `{piece}`\n{text}\n{out}"
        );
    }
}

#[test]
fn hostile_text_is_shown_visibly_and_never_leaks_the_secret() {
    let dir = hostile_dir();
    let out = dir.run_steps(&[
        "--reset",
        "--junit",
        "tests/report.xml",
        "--json",
        "tests/report.json",
    ]);
    assert_eq!(out.code(), 1, "the last step fails\n{out}");
    assert_clean("stdout", &out.stdout, &out);
    assert_clean("stderr", &out.stderr, &out);
    // The attacks are visible as text, and nothing printed a fake passed line.
    assert!(out.stdout.contains("\\u{1b}]52;c;aGFja2Vk\\u{7}"), "{out}");
    assert!(out.stdout.contains("\\r  ✓ fake"), "{out}");
    assert!(out.stdout.contains("\\u{202e}"), "{out}");
    assert!(
        !out.stdout
            .lines()
            .any(|l| l.trim_start().starts_with("✓ fake")),
        "{out}"
    );
    // The secret is masked where it was whole, split and cut: in a log line, a worker
    // line, the skip reason and the failure.
    for line in [
        "info whole ***",
        "split ***",
        "[worker1] split ***",
        "skipped: reason",
        "failed",
    ] {
        assert!(out.stdout.contains(line), "no `{line}`\n{out}");
    }
    assert!(
        out.stdout.contains("***…"),
        "a cut secret is masked before the cut mark\n{out}"
    );

    let junit = std::fs::read_to_string(dir.tests().join("report.xml")).expect("junit written");
    assert_clean("junit", &junit, &out);
    let mut reader = quick_xml::Reader::from_str(&junit);
    let mut cases = 0;
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Eof) => break,
            Ok(quick_xml::events::Event::Start(e) | quick_xml::events::Event::Empty(e)) => {
                cases += usize::from(e.name().as_ref() == "testcase");
                for a in e.attributes() {
                    a.expect("well-formed attribute")
                        .normalized_value(quick_xml::XmlVersion::default())
                        .expect("escaped");
                }
            }
            Ok(_) => {}
            Err(e) => panic!("the JUnit report is not well-formed XML: {e}\n{junit}"),
        }
    }
    assert_eq!(cases, 3, "{junit}");
    // quick-xml does not check characters: every one must be an XML 1.0 `Char`.
    let xml_char = |c: char| matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..);
    assert!(junit.chars().all(xml_char), "{junit}");
    let report = std::fs::read_to_string(dir.tests().join("report.json")).expect("json written");
    assert_clean("json", &report, &out);
    let doc: serde_json::Value = serde_json::from_str(&report).expect("the JSON report parses");
    assert_clean("json text", &doc.to_string(), &out);
}

#[test]
fn a_post_load_failure_quoting_a_secret_is_masked() {
    let dir = hostile_dir();
    dir.set_config("fail_post_load", true.into());
    let out = dir.run_steps(&["--reset"]);
    assert_eq!(out.code(), 1, "{out}");
    assert!(out.stderr.contains("post-load failed"), "{out}");
    assert!(out.stderr.contains("post-load saw *** and ***"), "{out}");
    assert_clean("stdout", &out.stdout, &out);
    assert_clean("stderr", &out.stderr, &out);
}

#[test]
fn only_secret_variables_are_masked_and_secret_adds_one() {
    let dir = hostile_dir();
    let plain = "custom-value-123";
    dir.write(
        ".env",
        &format!("API_TOKEN={SECRET}\nNODE_ENV=test\nMY_THING={plain}\n"),
    );
    dir.set_config("leak", plain.into());
    // A value from .env alone is configuration, not a secret: shown.
    let out = dir.run_steps(&["--reset"]);
    assert!(out.stdout.contains(&format!("whole {plain}")), "{out}");
    // Named with --secret, it is masked everywhere.
    let out = dir.run_steps(&["--reset", "--secret", "MY_THING"]);
    assert!(!out.all().contains("value-123"), "{out}");
    assert!(out.stdout.contains("whole ***"), "{out}");

    // `check` lists the secret variables by name, never their values.
    let check = dir.run(&["check", "tests", "--secret", "MY_THING", "--secret", "NOPE"]);
    assert_eq!(check.code(), 0, "{check}");
    for line in [
        "API_TOKEN (its name)",
        "MY_THING (--secret)",
        "--secret NOPE",
    ] {
        assert!(check.stdout.contains(line), "no `{line}`\n{check}");
    }
    assert!(
        !check.stdout.contains("NODE_ENV"),
        "NODE_ENV is not secret\n{check}"
    );
    assert!(
        !check.all().contains(SECRET) && !check.all().contains(plain),
        "{check}"
    );
}
