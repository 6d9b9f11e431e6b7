//! Output levels and colour on the hello example: `-q` keeps the failure (with its
//! worker's last lines) and the closing line, `--color` overrides the terminal check and
//! `NO_COLOR`.

use system_tests::{TestDir, component, exit};

#[test]
fn quiet_shows_only_the_failure_with_context_and_the_closing_line() {
    let t = TestDir::hello();
    let out = t.run_steps(&["-q"]);
    assert_eq!(out.code(), exit::OK, "{out}");
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 1, "{out}");
    assert!(
        lines[0].starts_with("PASSED: 9 passed, 1 skipped, 0 failed in "),
        "{out}"
    );

    t.set_config("fail_step", "audit-greeting".into());
    let out = t.run_steps(&["--reset", "-q"]);
    assert_eq!(out.code(), exit::FAILED, "{out}");
    assert!(
        out.stdout
            .starts_with("  ✗ audit-greeting failed (round 1, worker worker2, "),
        "{out}"
    );
    // The worker's last lines come with the failure, though -q hid them as they came.
    assert!(
        out.stdout.contains("    last output of worker worker2:\n"),
        "{out}"
    );
    assert!(out.stdout.contains("[worker2] "), "{out}");
    assert!(
        out.stdout
            .contains("FAILED at round 1, step audit-greeting"),
        "{out}"
    );
    for hidden in ["▶", "✓", "starting", "round  step", "━━"] {
        assert!(!out.stdout.contains(hidden), "-q shows `{hidden}`:\n{out}");
    }
}

#[test]
fn color_always_and_never_override_no_color_and_the_pipe() {
    let t = TestDir::hello();
    // The harness sets NO_COLOR and pipes stdout: `always` still colours.
    let out = t.run_steps(&[
        "--color",
        "always",
        "--step",
        "check-health",
        "--round",
        "1",
    ]);
    assert_eq!(out.code(), exit::OK, "{out}");
    assert!(out.stdout.contains("\x1b[32m✓\x1b[0m"), "{out}");
    let out = t.run_steps(&["--color", "never", "--step", "check-health", "--round", "1"]);
    assert_eq!(out.code(), exit::OK, "{out}");
    assert!(!out.stdout.contains('\x1b'), "{out}");
    let out = t.run_steps(&["--color", "sometimes"]);
    assert_eq!(out.code(), exit::USAGE, "{out}");
    assert!(
        out.stderr
            .contains("[possible values: auto, always, never]"),
        "{out}"
    );
}

#[test]
fn very_verbose_shows_debug_lines() {
    let t = TestDir::hello();
    let out = t.run_steps(&["-vv", "--step", "check-health", "--round", "1"]);
    assert_eq!(out.code(), exit::OK, "{out}");
    assert!(out.stdout.contains("▶ [1/5] check-health"), "{out}");
    let out = t.run_steps(&["-q", "-v"]);
    assert_eq!(out.code(), exit::USAGE, "{out}");
    assert!(out.stderr.contains("cannot be used with"), "{out}");
}

/// Host calls on real worker processes: a failed step shows its last calls (the POST with
/// its body, and the answer) without `-v`; `-vv` shows every call as it happens; JUnit
/// carries them in the case's `<system-out>`.
#[test]
fn host_calls_show_under_a_failure_with_vv_and_in_junit() {
    let t = TestDir::example("hello", &component("replay_greeter"));
    let out = t.run_steps(&["--junit", "reports/junit.xml"]);
    assert_eq!(out.code(), exit::FAILED, "{out}");
    let shown = out
        .stdout
        .split("✗ greet failed")
        .nth(1)
        .expect("the failure");
    assert!(shown.contains("    host calls (5):\n"), "{out}");
    assert!(shown.contains("⇄ http POST http://localhost:"), "{out}");
    assert!(shown.contains("/greetings -> 201 Created ("), "{out}");
    // The request body as sent, and the answer, under the call's line.
    assert!(
        shown.contains("> {\"round\":1,\"from\":\"worker1\""),
        "{out}"
    );
    assert!(shown.contains("< HTTP 201 Created"), "{out}");
    let junit = t.tests().parent().expect("root").join("reports/junit.xml");
    let junit = std::fs::read_to_string(junit).expect("the JUnit report");
    assert!(junit.contains("/greetings -&gt; 201 Created"), "{junit}");
    assert!(junit.contains("HTTP 201 Created"), "{junit}");

    let out = t.run_steps(&["--reset", "-vv"]);
    assert_eq!(out.code(), exit::FAILED, "{out}");
    let post = out
        .stdout
        .find("/greetings -> 201 Created")
        .expect("-vv shows the POST as it happens");
    let failure = out.stdout.find("✗ greet failed").expect("the failure");
    assert!(post < failure, "{out}");
    // With -vv the failure does not repeat the calls already shown.
    assert!(!out.stdout.contains("host calls ("), "{out}");
}

#[test]
fn a_failure_names_the_rerun_and_the_replay_also_under_quiet() {
    let t = TestDir::hello();
    t.set_config("fail_step", "audit-greeting".into());
    let out = t.run_steps(&["--reset", "-q"]);
    assert_eq!(out.code(), exit::FAILED, "{out}");
    let rerun = "prometheus-wasm run tests/steps.wasm -q --step audit-greeting --round 1";
    assert!(
        out.stdout.contains(&format!("    rerun it: {rerun}\n")),
        "the rerun drops --reset and adds the step:\n{out}"
    );
    assert!(
        out.stdout
            .contains("    replay it without workers: prometheus-wasm replay "),
        "{out}"
    );

    // The printed command is the one that reruns the step: once the fault is gone, it passes.
    t.remove_config("fail_step");
    let args: Vec<&str> = rerun.split(' ').skip(1).collect();
    let again = t.run(&args);
    assert_eq!(again.code(), exit::OK, "{again}");
    assert!(again.stdout.contains("PASSED: 1 passed"), "{again}");
}

#[test]
fn very_verbose_shows_every_host_call_reads_included() {
    let t = TestDir::hello();
    let out = t.run_steps(&["-vv"]);
    assert_eq!(out.code(), exit::OK, "{out}");
    for read in [
        "⇄ config config.get fail_step",
        "⇄ state state.get greeting_ids",
    ] {
        assert!(out.stdout.contains(read), "-vv lacks `{read}`:\n{out}");
    }
}

#[test]
fn a_run_that_never_touches_the_store_says_nothing_about_it() {
    // hello imports no mongo interface and seeds no collection.
    let t = TestDir::hello();
    let out = t.run_steps(&[]);
    assert_eq!(out.code(), exit::OK, "{out}");
    assert!(!out.stdout.contains("embedded store"), "{out}");
    assert!(!out.stdout.contains("running post-load"), "-v only: {out}");
    let out = t.run_steps(&["--reset", "-v"]);
    assert!(out.stdout.contains("running post-load"), "{out}");
}
