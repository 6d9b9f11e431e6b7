//! `run --timings` and the JSON report's `timings`: every phase is there, the parts of a
//! step add up to at most the step, the phases to at most the run. No timing thresholds:
//! only how the measured times relate to each other.

use std::time::Instant;

use serde_json::Value;
use system_tests::{TestDir, wait_output};

/// JSON numbers of milliseconds are sums of whole nanoseconds converted to f64: a
/// rounding allowance for comparing sums, far below one nanosecond.
const ROUNDING_MS: f64 = 1e-6;

/// The phases a full, fresh run goes through, as the JSON report names them (the reports'
/// own writing is not in the report being written).
const JSON_PHASES: [&str; 7] = [
    "load_ms",
    "preflight_ms",
    "seeding_ms",
    "workers_ready_ms",
    "post_load_ms",
    "steps_ms",
    "stop_ms",
];

/// The step parts, as the JSON report names them.
const PARTS: [&str; 5] = [
    "instantiate_ms",
    "prepare_ms",
    "execute_ms",
    "host_calls_ms",
    "checkpoint_ms",
];

fn ms(v: &Value, key: &str) -> f64 {
    v[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} is not a number in {v}"))
}

fn timed_run(t: &TestDir, extra: &[&str]) -> (system_tests::RunOutput, f64) {
    let mut args = vec!["run", "tests/steps.wasm"];
    args.extend_from_slice(extra);
    let started = Instant::now();
    let out = wait_output(t.command(&args).spawn().expect("spawn the runner"));
    (out, started.elapsed().as_secs_f64() * 1000.0)
}

#[test]
fn timings_split_the_run_into_phases_and_steps_into_parts() {
    let t = TestDir::hello();
    let (out, process_ms) = timed_run(&t, &["--timings", "--json", "report.json"]);
    assert_eq!(out.code(), 0, "{out}");

    // The table, at the end of the run, with every phase and part.
    let table = out
        .stdout
        .split("timings (wall ")
        .nth(1)
        .unwrap_or_else(|| panic!("no timings table\n{out}"));
    for label in [
        "load",
        "preflight",
        "seeding",
        "workers ready",
        "post-load",
        "steps",
        "instantiate",
        "prepare",
        "execute",
        "host calls",
        "checkpoint",
        "round ends",
        "stop",
        "reports",
    ] {
        assert!(
            table.lines().any(|l| l.trim_start().starts_with(label)),
            "no `{label}` line in the table\n{out}"
        );
    }
    assert!(table.contains("10 step(s)"), "{out}");

    let report: Value = serde_json::from_str(
        &std::fs::read_to_string(t.tests().parent().expect("root").join("report.json"))
            .expect("the JSON report"),
    )
    .expect("JSON");
    let timings = &report["timings"];
    let wall = ms(timings, "wall_ms");
    assert!(wall >= 0.0, "{timings}");
    // The runner's own clock starts after the process did and stops before it exits.
    assert!(
        wall <= process_ms,
        "wall {wall} ms > process {process_ms} ms"
    );

    let phases = &timings["phases"];
    let mut sum = 0.0;
    for key in JSON_PHASES {
        let d = ms(phases, key);
        assert!(d >= 0.0, "{key} is negative: {phases}");
        sum += d;
    }
    assert_eq!(
        phases.as_object().expect("phases").len(),
        JSON_PHASES.len(),
        "{phases}"
    );
    assert!(
        sum <= wall + ROUNDING_MS,
        "phases {sum} ms > wall {wall} ms"
    );

    // Every step of both rounds, each with its parts within its duration.
    let steps = timings["steps"].as_array().expect("steps");
    assert_eq!(steps.len(), 10, "{timings}");
    assert_eq!(timings["steps_total"]["count"], 10, "{timings}");
    for step in steps {
        let duration = ms(step, "duration_ms");
        let mut parts = 0.0;
        for key in PARTS {
            let d = ms(step, key);
            assert!(d >= 0.0, "{key} is negative: {step}");
            parts += d;
        }
        assert!(
            parts <= duration + ROUNDING_MS,
            "parts {parts} ms > step {duration} ms: {step}"
        );
        // Each completed step was instantiated and saved: the parts are wired, not zero.
        assert!(ms(step, "instantiate_ms") > 0.0, "{step}");
        assert!(ms(step, "checkpoint_ms") > 0.0, "{step}");
    }
    let step_sum: f64 = steps.iter().map(|s| ms(s, "duration_ms")).sum();
    assert!(
        step_sum <= ms(phases, "steps_ms") + ROUNDING_MS,
        "the steps {step_sum} ms > their phase {phases}"
    );
    // check-health calls every worker over HTTP: its host calls are counted.
    let health = steps
        .iter()
        .find(|s| s["step"] == "check-health")
        .expect("check-health timed");
    assert!(ms(health, "host_calls_ms") > 0.0, "{health}");
}

#[test]
fn timings_table_is_shown_only_when_asked_and_not_with_quiet() {
    let t = TestDir::hello();
    let (plain, _) = timed_run(&t, &["--reset"]);
    assert_eq!(plain.code(), 0, "{plain}");
    assert!(!plain.stdout.contains("timings (wall"), "{plain}");

    let (quiet, _) = timed_run(&t, &["--reset", "--timings", "-q", "--json", "q.json"]);
    assert_eq!(quiet.code(), 0, "{quiet}");
    assert!(!quiet.stdout.contains("timings (wall"), "{quiet}");
    // The JSON report has them whatever the terminal shows.
    let report: Value = serde_json::from_str(
        &std::fs::read_to_string(t.tests().parent().expect("root").join("q.json"))
            .expect("the JSON report"),
    )
    .expect("JSON");
    assert_eq!(
        report["timings"]["steps"].as_array().map(Vec::len),
        Some(10)
    );
}

#[test]
fn a_resumed_run_times_the_steps_it_ran() {
    let t = TestDir::hello();
    t.set_config("fail_step", "audit-greeting".into());
    t.set_config("fail_round", 2.into());
    let (failed, _) = timed_run(&t, &["--json", "first.json"]);
    assert_eq!(failed.code(), 1, "{failed}");
    let root = t.tests().parent().expect("root").to_path_buf();
    let first: Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("first.json")).expect("report"))
            .expect("JSON");
    // Round 1 (5 steps), then round 2's first two and the failed third: 8 runs timed,
    // the failed one without a checkpoint.
    let steps = first["timings"]["steps"].as_array().expect("steps");
    assert_eq!(steps.len(), 8, "{first}");
    let last = steps.last().expect("a step");
    assert_eq!(last["step"], "audit-greeting", "{last}");
    assert_eq!(ms(last, "checkpoint_ms"), 0.0, "{last}");

    t.remove_config("fail_step");
    let (resumed, _) = timed_run(&t, &["--json", "second.json"]);
    assert_eq!(resumed.code(), 0, "{resumed}");
    let second: Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("second.json")).expect("report"))
            .expect("JSON");
    let steps = second["timings"]["steps"].as_array().expect("steps");
    assert_eq!(steps.len(), 3, "{second}");
    assert_eq!(steps[0]["step"], "audit-greeting", "{second}");
    assert_eq!(steps[0]["round"], 2, "{second}");
}
