//! What `run` and `check` are given: a test folder instead of a file, a package that is not
//! built yet, and the notice shown while a package compiles.

use system_tests::{TestDir, wait_output};

#[test]
fn run_accepts_a_test_folder_holding_steps_wasm() {
    let t = TestDir::hello();
    let out = t.run(&["run", "tests", "--round", "1", "--step", "check-health"]);
    assert_eq!(out.code(), 0, "{out}");
    assert!(out.stdout.contains("steps: tests/steps.wasm"), "{out}");
    assert_eq!(out.started_steps(), ["check-health"], "{out}");
}

#[test]
fn a_folder_without_plan_or_package_lists_what_was_looked_for() {
    let t = TestDir::hello();
    std::fs::remove_file(t.steps()).expect("remove steps.wasm");
    let looked_for = "looked for tests/plan.yaml, tests/plan.yml, tests/steps.wasm";
    let out = t.run(&["run", "tests"]);
    assert_eq!(out.code(), 2, "{out}");
    assert!(
        out.stderr.contains(&format!(
            "tests is a folder without a plan or a step package: {looked_for}"
        )),
        "{out}"
    );
    assert!(out.stderr.contains("hint: build the step package"), "{out}");
    // `check` validates a configuration written before its steps, and says what is missing.
    let out = t.run(&["check", "tests"]);
    assert_eq!(out.code(), 0, "{out}");
    assert!(
        out.stdout.contains(&format!(
            "steps: no plan or step package ({looked_for}); `run` needs one"
        )),
        "{out}"
    );
    // A folder with neither a package nor config.yaml is refused by both.
    std::fs::create_dir_all(t.tests().join("empty")).expect("mkdir");
    let out = t.run(&["check", "tests/empty"]);
    assert_eq!(out.code(), 2, "{out}");
    assert!(
        out.stderr
            .contains("tests/empty is a folder without a plan"),
        "{out}"
    );
}

#[test]
fn check_loads_the_package_and_checks_its_steps_against_the_workers() {
    let t = TestDir::hello();
    let out = t.run(&[
        "check",
        "tests",
        "--set",
        "max_rounds=3",
        "--set",
        "max_round=4",
    ]);
    assert_eq!(out.code(), 0, "{out}");
    for line in [
        "warning: --set max_round=4: unknown key `max_round`; did you mean `max_rounds`?",
        "override: --set max_rounds=3",
        "rounds: 3 (max_rounds)",
        "steps: tests/steps.wasm (5 steps, ",
        "resolved steps (5 per round):",
        "3. audit-greeting @ worker2 (tests/steps.wasm)",
        "params: {\"text\":\"hello\"}",
    ] {
        assert!(out.stdout.contains(line), "no `{line}` in\n{out}");
    }
    // A step on a worker workers.json does not define.
    let mut workers = t.workers_json();
    workers.as_object_mut().expect("object").remove("worker2");
    t.write_workers_json(&workers);
    let out = t.run(&["check", "tests"]);
    assert_eq!(out.code(), 2, "{out}");
    assert!(
        out.stderr
            .contains("step `audit-greeting` of tests/steps.wasm runs on worker `worker2`"),
        "{out}"
    );
    // A file that is not a component.
    t.write("steps.wasm", "not wasm");
    let out = t.run(&["check", "tests/steps.wasm"]);
    assert_eq!(out.code(), 2, "{out}");
    assert!(
        out.stderr.contains("is not a WebAssembly component"),
        "{out}"
    );
}

#[test]
fn a_missing_package_is_one_message_with_the_build_command() {
    let t = TestDir::hello();
    let out = t.run(&["run", "tests/missing.wasm"]);
    assert_eq!(out.code(), 2, "{out}");
    assert_eq!(
        out.stderr.matches("No such file or directory").count(),
        1,
        "the OS error once:\n{out}"
    );
    assert!(
        out.stderr
            .contains("error: cannot read step package tests/missing.wasm: No such file"),
        "{out}"
    );
    assert!(
        out.stderr
            .contains("cargo build --target wasm32-wasip2 --release"),
        "{out}"
    );
}

#[test]
fn a_slow_load_says_it_is_compiling_on_stderr() {
    let t = TestDir::hello();
    // A notice delay of 0 makes every load "slow": compile times are not for tests.
    let run = |extra: &[&str]| {
        let mut args = vec!["run", "tests", "--step", "check-health", "--round", "1"];
        args.extend_from_slice(extra);
        let mut cmd = t.command(&args);
        cmd.env("PROMETHEUS_WASM_NOTICE_AFTER_MS", "0");
        wait_output(cmd.spawn().expect("spawn"))
    };
    let out = run(&[]);
    assert_eq!(out.code(), 0, "{out}");
    // stderr is a pipe: one plain line, no spinner's control sequences.
    assert!(
        out.stderr
            .lines()
            .any(|l| l == "compiling steps.wasm (first run; cached afterwards)…"),
        "{out}"
    );
    assert!(!out.stderr.contains('\x1b'), "{out}");
    assert!(!out.stdout.contains("compiling steps.wasm"), "{out}");
    let out = run(&["--no-cache"]);
    assert!(
        out.stderr
            .contains("compiling steps.wasm (--no-cache: every run compiles)…"),
        "{out}"
    );
}

#[test]
fn a_source_file_given_to_run_is_named_as_the_mistake() {
    let t = TestDir::hello();
    t.write("lib.rs", "fn main() {}\n");
    let out = t.run(&["run", "tests/lib.rs"]);
    assert_eq!(out.code(), 2, "{out}");
    assert!(
        out.stderr.contains(
            "tests/lib.rs is not a step package (a WebAssembly component), a plan (.yaml) or a test folder"
        ),
        "{out}"
    );
    assert!(
        !out.stderr.contains("config.yaml"),
        "not about a file never named: {out}"
    );
}

#[test]
fn list_takes_a_test_folder_and_says_what_a_plan_is() {
    let t = TestDir::hello();
    let out = t.run(&["list", "tests"]);
    assert_eq!(out.code(), 0, "{out}");
    assert!(out.stdout.contains("check-health"), "{out}");
    assert!(!out.stderr.contains("Is a directory"), "{out}");

    t.write(
        "plan.yaml",
        "packages:\n  steps:\n    path: steps.wasm\nsteps:\n  - use: steps\n",
    );
    let out = t.run(&["list", "tests"]);
    assert_eq!(out.code(), 2, "{out}");
    assert!(out.stderr.contains("tests/plan.yaml is a plan"), "{out}");
    assert!(out.stderr.contains("prometheus-wasm check tests"), "{out}");
}

#[test]
fn check_lists_each_secret_once_with_all_its_reasons() {
    let t = TestDir::hello();
    let mut workers = t.workers_json();
    for worker in ["worker1", "worker2"] {
        workers[worker]["env_vars"] = serde_json::json!({"T": "API_TOKEN"});
    }
    t.write_workers_json(&workers);
    t.write(".env", "API_TOKEN=abcdefgh-secret\n");
    let out = t.run(&["check", "tests"]);
    assert_eq!(out.code(), 0, "{out}");
    let mapped: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.trim_start().starts_with("T <- API_TOKEN ("))
        .collect();
    assert_eq!(
        mapped,
        ["  T <- API_TOKEN (env_vars of worker1; env_vars of worker2)"],
        "one line for the mapping, with both workers:\n{out}"
    );
    assert!(!out.stdout.contains("abcdefgh-secret"), "{out}");
}
