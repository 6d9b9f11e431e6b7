//! Output levels and colour on the hello example: `-q` keeps the failure (with its
//! worker's last lines) and the closing line, `--color` overrides the terminal check and
//! `NO_COLOR`.

use system_tests::TestDir;

#[test]
fn quiet_shows_only_the_failure_with_context_and_the_closing_line() {
    let t = TestDir::hello();
    let out = t.run_steps(&["-q"]);
    assert_eq!(out.code(), 0, "{out}");
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 1, "{out}");
    assert!(
        lines[0].starts_with("PASSED: 9 passed, 1 skipped, 0 failed in "),
        "{out}"
    );

    t.set_config("fail_step", "audit-greeting".into());
    let out = t.run_steps(&["--reset", "-q"]);
    assert_eq!(out.code(), 1, "{out}");
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
    assert_eq!(out.code(), 0, "{out}");
    assert!(out.stdout.contains("\x1b[32m✓\x1b[0m"), "{out}");
    let out = t.run_steps(&["--color", "never", "--step", "check-health", "--round", "1"]);
    assert_eq!(out.code(), 0, "{out}");
    assert!(!out.stdout.contains('\x1b'), "{out}");
    let out = t.run_steps(&["--color", "sometimes"]);
    assert_eq!(out.code(), 2, "{out}");
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
    assert_eq!(out.code(), 0, "{out}");
    assert!(out.stdout.contains("▶ [1/5] check-health"), "{out}");
    let out = t.run_steps(&["-q", "-v"]);
    assert_eq!(out.code(), 2, "{out}");
    assert!(out.stderr.contains("cannot be used with"), "{out}");
}
