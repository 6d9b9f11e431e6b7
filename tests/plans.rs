//! Plans: steps from several pinned packages, the capability lock, plan errors at the
//! plan's line:column, and the compiled-code cache shared by concurrent runs.

use serde_json::json;
use system_tests::{RunOutput, TestDir, component, repo_root};

/// The steps of a round of the shared-steps example's plan.
const ROUND: [&str; 6] = [
    "check-health",
    "submit-greeting",
    "worker2-audits-greeting",
    "worker3-audits-greeting",
    "worker3-audits-worker2",
    "summary",
];

/// The shared-steps example in a temp dir, its packages copied in as `hello.wasm` and
/// `audit.wasm` beside the plan.
fn shared() -> TestDir {
    let t = TestDir::example("shared-steps", &component("hello_steps"));
    std::fs::copy(component("hello_steps"), t.tests().join("hello.wasm")).expect("copy");
    std::fs::copy(component("audit_steps"), t.tests().join("audit.wasm")).expect("copy");
    let plan = std::fs::read_to_string(repo_root().join("examples/shared-steps/tests/plan.yaml"))
        .expect("read the example plan")
        .replace(
            "../../../target/wasm32-wasip2/guest/hello_steps.wasm",
            "hello.wasm",
        )
        .replace(
            "../../../target/wasm32-wasip2/guest/audit_steps.wasm",
            "audit.wasm",
        );
    t.write("plan.yaml", &plan);
    t
}

fn plan_text(t: &TestDir) -> String {
    std::fs::read_to_string(t.tests().join("plan.yaml")).expect("read plan")
}

fn lock_json(t: &TestDir) -> serde_json::Value {
    let text = std::fs::read_to_string(t.tests().join("plan.lock")).expect("plan.lock written");
    serde_json::from_str(&text).expect("lock is JSON")
}

fn assert_nothing_started(out: &RunOutput) {
    assert!(!out.stdout.contains("starting"), "workers started:\n{out}");
}

#[test]
fn a_plan_runs_a_shared_package_per_use_with_its_own_worker_and_params() {
    let t = shared();
    let out = t.run(&["run", "tests/plan.yaml"]);
    assert_eq!(out.code(), 0, "{out}");
    let expected: Vec<&str> = ROUND.iter().chain(ROUND.iter()).copied().collect();
    assert_eq!(out.started_steps(), expected, "{out}");
    assert!(
        out.stdout.contains(
            "▶ [4/6] worker3-audits-greeting @ worker3 — worker3 reads the greeting back"
        ),
        "{out}"
    );
    // Both packages sit in the test folder beside the plan: they are the folder's own,
    // rebuilt all day, and a "not pinned" note about them would be noise.
    assert!(!out.stdout.contains("is not pinned"), "{out}");
    let state = t.state();
    assert_eq!(state["last_completed_step"], json!("summary"));
    assert_eq!(
        state["rounds"]["2"]["greeting_auditors"],
        json!(["worker2", "worker3"])
    );
    assert_eq!(state["rounds"]["1"]["health_audits"], json!(["worker3"]));
    assert_eq!(state["global"]["post_load_ran"], json!(true));
    let lock = lock_json(&t);
    let audit = &lock["packages"]["audit"];
    assert_eq!(audit["wit"], json!("prometheus:step@0.1.0"));
    assert!(
        audit["imports"]
            .as_array()
            .expect("imports")
            .contains(&json!("prometheus:step/http@0.1.0")),
        "{lock}"
    );
}

#[test]
fn the_plan_params_override_the_package_defaults() {
    let t = shared();
    t.write(
        "plan.yaml",
        &plan_text(&t).replace("min_length: 20", "min_length: 500"),
    );
    let out = t.run(&["run", "tests/plan.yaml"]);
    assert_eq!(out.code(), 1, "{out}");
    assert!(
        out.all().contains("fewer than min_length 500"),
        "the plan's params reached the step:\n{out}"
    );
    assert_eq!(
        t.state()["last_completed_step"],
        json!("worker2-audits-greeting")
    );
}

#[test]
fn a_bare_package_runs_like_a_plan_listing_its_manifest() {
    let bare = TestDir::hello();
    let bare_out = bare.run_steps(&[]);
    assert_eq!(bare_out.code(), 0, "{bare_out}");
    let planned = TestDir::hello();
    planned.write(
        "plan.yaml",
        "packages:\n  hello:\n    path: steps.wasm\nsteps:\n  - use: hello\n",
    );
    let plan_out = planned.run(&["run", "tests/plan.yaml"]);
    assert_eq!(plan_out.code(), 0, "{plan_out}");
    assert_eq!(bare_out.started_steps(), plan_out.started_steps());
    assert_eq!(bare.state(), planned.state());
}

/// The sha256 of each package, as `prometheus-wasm lock` prints them.
fn pins(t: &TestDir) -> Vec<String> {
    let out = t.run(&["lock", "tests/plan.yaml"]);
    assert_eq!(out.code(), 0, "{out}");
    out.stdout
        .lines()
        .filter_map(|l| l.trim().strip_prefix("sha256: "))
        .map(str::to_string)
        .collect()
}

#[test]
fn a_pin_mismatch_is_refused_before_anything_starts_with_both_hashes() {
    let t = shared();
    let pins = pins(&t);
    assert_eq!(pins.len(), 2, "hello and audit");
    let wrong = "0".repeat(64);
    let pinned = plan_text(&t)
        .replace(
            "path: hello.wasm",
            &format!("path: hello.wasm\n    sha256: {}", pins[0]),
        )
        .replace(
            "path: audit.wasm",
            &format!("path: audit.wasm\n    sha256: {wrong}"),
        );
    t.write("plan.yaml", &pinned);
    let out = t.run(&["run", "tests/plan.yaml"]);
    assert_eq!(out.code(), 2, "{out}");
    assert!(
        out.stderr.contains("package `audit` (") && out.stderr.contains("does not match its pin"),
        "{out}"
    );
    assert!(out.stderr.contains(&wrong), "{out}");
    assert!(
        out.stderr.contains("prometheus-wasm lock --update-pins"),
        "the hint names the command that rewrites pins:\n{out}"
    );
    assert!(out.stderr.contains(&pins[1]), "{out}");
    assert_nothing_started(&out);

    t.write("plan.yaml", &pinned.replace(&wrong, &pins[1]));
    let out = t.run(&["run", "tests/plan.yaml"]);
    assert_eq!(out.code(), 0, "{out}");
    assert!(!out.stdout.contains("not pinned"), "{out}");
}

#[test]
fn a_package_asking_for_more_than_the_lock_fails_until_update_lock() {
    let t = shared();
    let out = t.run(&["lock", "tests/plan.yaml"]);
    assert_eq!(out.code(), 0, "{out}");
    // The lock as an older audit package without HTTP would have left it.
    let mut lock = lock_json(&t);
    let imports = lock["packages"]["audit"]["imports"]
        .as_array_mut()
        .expect("imports");
    imports.retain(|i| i != "prometheus:step/http@0.1.0");
    t.write(
        "plan.lock",
        &serde_json::to_string_pretty(&lock).expect("json"),
    );

    // `--locked` (what CI=true implies): even the folder's own package may not grow.
    let out = t.run(&["run", "tests/plan.yaml", "--locked"]);
    assert_eq!(out.code(), 2, "{out}");
    assert!(
        out.stderr
            .contains("a package asks for capabilities the lock does not grant"),
        "{out}"
    );
    assert!(out.stderr.contains("package `audit`:"), "{out}");
    assert!(
        out.stderr
            .contains("+ prometheus:step/http@0.1.0  (HTTP requests"),
        "{out}"
    );
    assert!(!out.stderr.contains("package `hello`"), "{out}");
    assert!(out.stderr.contains("--update-lock"), "{out}");
    assert_nothing_started(&out);

    let out = t.run(&["run", "tests/plan.yaml", "--update-lock"]);
    assert_eq!(out.code(), 0, "{out}");
    assert!(out.stdout.contains("approved new capabilities"), "{out}");
    assert!(
        lock_json(&t)["packages"]["audit"]["imports"]
            .as_array()
            .expect("imports")
            .contains(&json!("prometheus:step/http@0.1.0"))
    );
    let out = t.run(&["run", "tests/plan.yaml", "--reset"]);
    assert_eq!(out.code(), 0, "the updated lock grants it:\n{out}");
}

/// Runs the shared example with the plan edited by `edit`; returns stderr after checking
/// that it was a configuration error and nothing started.
fn plan_error(edit: impl Fn(String) -> String) -> String {
    let t = shared();
    t.write("plan.yaml", &edit(plan_text(&t)));
    let out = t.run(&["run", "tests/plan.yaml"]);
    assert_eq!(out.code(), 2, "{out}");
    assert_nothing_started(&out);
    out.stderr
}

#[test]
fn an_unknown_step_is_reported_at_the_plan_line_and_column() {
    let err = plan_error(|p| p.replace("use: audit/audit-health", "use: audit/audit-helth"));
    assert!(
        err.contains("tests/plan.yaml:25:10: package `audit`"),
        "{err}"
    );
    assert!(err.contains("has no step `audit-helth`"), "{err}");
    assert!(err.contains("did you mean `audit/audit-health`?"), "{err}");
}

#[test]
fn an_unknown_package_is_reported_at_the_plan_line_and_column() {
    let err = plan_error(|p| p.replace("use: hello/summary", "use: helo/summary"));
    assert!(
        err.contains("tests/plan.yaml:29:10: step 6 uses unknown package `helo`"),
        "{err}"
    );
    assert!(
        err.contains("the plan's packages are: hello, audit"),
        "{err}"
    );
}

#[test]
fn an_unknown_worker_is_reported_at_the_plan_line_and_column() {
    let err = plan_error(|p| p.replacen("worker: worker3", "worker: worker9", 1));
    assert!(
        err.contains(
            "tests/plan.yaml:23:13: step `worker3-audits-greeting` runs on worker `worker9`"
        ),
        "{err}"
    );
    assert!(
        err.contains("the workers are: worker1, worker2, worker3"),
        "{err}"
    );
}

#[test]
fn a_misspelled_key_is_reported_at_the_plan_line_and_column() {
    let err = plan_error(|p| p.replacen("    params: {min_length", "    parms: {min_length", 1));
    assert!(
        err.contains("tests/plan.yaml:24:5: steps[3]: unknown field `parms`"),
        "{err}"
    );
}

#[test]
fn check_loads_the_plan_and_compares_the_lock_without_writing_it() {
    let t = shared();
    let out = t.run(&["check", "tests"]);
    assert_eq!(out.code(), 0, "{out}");
    for line in [
        "resolved steps (6 per round):",
        "4. worker3-audits-greeting @ worker3 (tests/audit.wasm)",
        "\"min_length\":20}",
        "plan.lock: none yet; `run` writes it with the capabilities of 2 package(s)",
        "ok: the test folder is valid (nothing was started)",
    ] {
        assert!(out.stdout.contains(line), "no `{line}` in\n{out}");
    }
    assert!(
        !t.tests().join("plan.lock").exists(),
        "check wrote the lock"
    );

    // A lock that grants less than a package asks for fails `check` as it fails `run`.
    assert_eq!(t.run(&["lock", "tests/plan.yaml"]).code(), 0);
    let mut lock = lock_json(&t);
    lock["packages"]["audit"]["imports"]
        .as_array_mut()
        .expect("imports")
        .retain(|i| i != "prometheus:step/http@0.1.0");
    t.write(
        "plan.lock",
        &serde_json::to_string_pretty(&lock).expect("json"),
    );
    let out = t.run(&["check", "tests/plan.yaml", "--locked"]);
    assert_eq!(out.code(), 2, "{out}");
    assert!(
        out.stderr
            .contains("a package asks for capabilities the lock does not grant"),
        "{out}"
    );
}

/// The shared example with a lock granting `audit` no HTTP, as an older build of it left.
fn shared_with_an_older_lock() -> TestDir {
    let t = shared();
    assert_eq!(t.run(&["lock", "tests/plan.yaml"]).code(), 0);
    let mut lock = lock_json(&t);
    lock["packages"]["audit"]["imports"]
        .as_array_mut()
        .expect("imports")
        .retain(|i| i != "prometheus:step/http@0.1.0");
    t.write(
        "plan.lock",
        &serde_json::to_string_pretty(&lock).expect("json"),
    );
    t
}

/// Runs `args` with `CI` unset (a developer's machine) or set to `ci`.
fn run_with_ci(t: &TestDir, args: &[&str], ci: Option<&str>) -> RunOutput {
    let mut command = t.command(args);
    match ci {
        Some(value) => command.env("CI", value),
        None => command.env_remove("CI"),
    };
    system_tests::wait_output(command.spawn().expect("spawn the runner"))
}

fn audit_imports_http(t: &TestDir) -> bool {
    lock_json(t)["packages"]["audit"]["imports"]
        .as_array()
        .expect("imports")
        .contains(&json!("prometheus:step/http@0.1.0"))
}

#[test]
fn the_lock_follows_the_folders_own_package_outside_ci_and_says_what_changed() {
    let t = shared_with_an_older_lock();
    // `check` says what `run` will record, and writes nothing.
    let out = run_with_ci(&t, &["check", "tests"], None);
    assert_eq!(out.code(), 0, "{out}");
    assert!(
        out.stdout
            .contains("package `audit` (this folder's own) now imports prometheus:step/http@0.1.0"),
        "{out}"
    );
    assert!(!audit_imports_http(&t), "check wrote the lock");

    let out = run_with_ci(&t, &["run", "tests/plan.yaml"], None);
    assert_eq!(out.code(), 0, "{out}");
    let changed: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.contains("(this folder's own)"))
        .collect();
    assert_eq!(changed.len(), 1, "one line per capability added:\n{out}");
    assert!(
        changed[0].contains("plan.lock: package `audit` (this folder's own) now imports prometheus:step/http@0.1.0 (HTTP requests"),
        "{out}"
    );
    assert!(audit_imports_http(&t), "the lock follows the package");

    // And back: a capability the package no longer imports is one line too.
    let mut lock = lock_json(&t);
    lock["packages"]["audit"]["imports"]
        .as_array_mut()
        .expect("imports")
        .push(json!("prometheus:step/mongo@0.1.0"));
    t.write(
        "plan.lock",
        &serde_json::to_string_pretty(&lock).expect("json"),
    );
    let out = run_with_ci(&t, &["run", "tests/plan.yaml", "--reset"], None);
    assert_eq!(out.code(), 0, "{out}");
    assert!(
        out.stdout
            .contains("package `audit` no longer imports prometheus:step/mongo@0.1.0"),
        "{out}"
    );
}

#[test]
fn ci_refuses_the_folders_own_package_asking_for_more() {
    let t = shared_with_an_older_lock();
    for command in ["check", "run"] {
        let out = run_with_ci(&t, &[command, "tests/plan.yaml"], Some("true"));
        assert_eq!(out.code(), 2, "{command}: {out}");
        assert!(
            out.stderr
                .contains("a package asks for capabilities the lock does not grant"),
            "{command}: {out}"
        );
        assert!(
            out.stderr.contains("only outside CI and without --locked"),
            "the hint says why its own package was not followed:\n{out}"
        );
        assert_nothing_started(&out);
    }
    assert!(!audit_imports_http(&t), "CI changed the lock");
}

#[test]
fn a_package_from_outside_the_folder_is_noted_and_never_followed() {
    let t = shared_with_an_older_lock();
    // The same bytes, one folder up: no longer the test folder's own.
    let root = t.tests().parent().expect("root").to_path_buf();
    std::fs::rename(t.tests().join("audit.wasm"), root.join("audit.wasm")).expect("move");
    t.write(
        "plan.yaml",
        &plan_text(&t).replace("path: audit.wasm", "path: ../audit.wasm"),
    );
    let out = run_with_ci(&t, &["run", "tests/plan.yaml"], None);
    assert_eq!(out.code(), 2, "{out}");
    assert!(
        out.stdout.contains("package `audit` is not pinned"),
        "the note stays for packages from elsewhere:\n{out}"
    );
    assert!(
        out.stderr
            .contains("a package asks for capabilities the lock does not grant"),
        "{out}"
    );
    assert_nothing_started(&out);
    assert!(
        !audit_imports_http(&t),
        "the lock followed an outside package"
    );
}

#[test]
fn run_writes_no_lock_when_a_later_check_refuses_the_run() {
    let t = shared();
    // A report path that cannot be a file: the last check before the data is touched.
    let out = t.run(&["run", "tests/plan.yaml", "--junit", "tests"]);
    assert_eq!(out.code(), 2, "{out}");
    assert!(out.stderr.contains("it is a directory"), "{out}");
    assert_nothing_started(&out);
    // A test the runner refuses (0 rounds) leaves no lock either.
    let out = t.run(&["run", "tests", "--set", "max_rounds=0"]);
    assert_eq!(out.code(), 2, "{out}");
    assert!(out.stderr.contains("the test has 0 rounds"), "{out}");
    assert_nothing_started(&out);
    assert!(
        !t.tests().join("plan.lock").exists(),
        "the lock was written by a refused run:\n{out}"
    );
}

/// The fault lines of the terminal output.
fn fault_lines(out: &RunOutput) -> Vec<&str> {
    out.stdout
        .lines()
        .filter(|l| l.trim_start().starts_with("⚡ fault"))
        .collect()
}

/// The pids of every `[worker] hello-worker worker listening on … (pid N, …)` line.
fn pids_started(out: &RunOutput, worker: &str) -> Vec<i32> {
    let prefix = format!("[{worker}] hello-worker {worker} listening on ");
    out.stdout
        .lines()
        .filter_map(|l| l.strip_prefix(&prefix))
        .filter_map(|rest| rest.split_once("(pid ").map(|(_, r)| r))
        .filter_map(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .map(|pid| pid.parse().expect("pid"))
        .collect()
}

#[test]
fn a_plans_faults_kill_and_start_a_worker_at_the_plans_own_step_names() {
    // `worker2-audits-greeting` and `worker3-audits-greeting` exist only in the plan (they
    // rename the audit package's `audit-greeting`): worker3 is down between them in round 2
    // and back, with a new process, for its own audit, which passes.
    let t = shared();
    t.write(
        "plan.yaml",
        &format!(
            "{}faults:\n  - at: {{round: 2, after: worker2-audits-greeting}}\n    kill: worker3\n  - at: {{round: 2, before: worker3-audits-greeting}}\n    start: worker3\n",
            plan_text(&t)
        ),
    );
    let out = t.run(&["run", "tests/plan.yaml"]);
    assert_eq!(out.code(), 0, "{out}");
    assert!(out.stdout.contains("faults: 2 scheduled"), "{out}");
    let faults = fault_lines(&out);
    assert_eq!(faults.len(), 2, "{out}");
    assert!(
        faults[0].contains("(after worker2-audits-greeting): killed worker3 (pid"),
        "{out}"
    );
    assert!(
        faults[1].contains("(before worker3-audits-greeting): started worker3 (pid"),
        "{out}"
    );
    let pids = pids_started(&out, "worker3");
    assert_eq!(pids.len(), 2, "worker3 started twice: {out}");
    assert_ne!(pids[0], pids[1], "a new process: {out}");
    assert!(
        faults[0].contains(&format!("(pid {})", pids[0])),
        "the first process was killed: {out}"
    );
    assert!(
        !system_tests::is_alive(pids[0]),
        "the killed pid {} is gone",
        pids[0]
    );
    assert!(
        !out.all().contains("exited during the run"),
        "a kill on purpose is not a death: {out}"
    );
    assert_eq!(t.state()["last_completed_step"], json!("summary"));
}

#[test]
fn a_bad_step_name_in_a_plans_faults_is_refused_by_check_and_run() {
    let t = shared();
    let original = plan_text(&t);
    t.write(
        "plan.yaml",
        &format!(
            "{original}faults:\n  - at: {{round: 1, after: worker2-audits-greting}}\n    kill: worker3\n"
        ),
    );
    let expected = "tests/plan.yaml: invalid `faults[0].at.after`: no step `worker2-audits-greting` in round 1 of the plan; did you mean `worker2-audits-greeting`?";
    for command in ["check", "run"] {
        let out = t.run(&[command, "tests/plan.yaml"]);
        assert_eq!(out.code(), 2, "{command}: {out}");
        assert!(out.stderr.contains(expected), "{command}: {out}");
        assert_nothing_started(&out);
        assert!(
            !out.stdout.contains("listening on"),
            "{command} started a worker: {out}"
        );
    }
    assert!(
        !t.tests().join("data/test_state.json").exists(),
        "nothing was written"
    );

    // An unknown worker is refused at the plan's `faults` key, naming the plan.
    t.write(
        "plan.yaml",
        &format!("{original}faults:\n  - at: {{round: 1}}\n    kill: worker4\n"),
    );
    for command in ["check", "run"] {
        let out = t.run(&[command, "tests/plan.yaml"]);
        assert_eq!(out.code(), 2, "{command}: {out}");
        assert!(
            out.stderr.contains(
                "tests/plan.yaml:30:1: invalid `faults[0].kill`: no worker `worker4` in workers.json; did you mean `worker1`?"
            ),
            "{command}: {out}"
        );
    }
}
