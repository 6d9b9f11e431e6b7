//! `prometheus-wasm migrate` on prometheus-test suites: the py-suite fixture (a project
//! shaped like the real ones: stage modules, `create_signature`, `functools.partial`
//! params, `requests`, `runner.state`, Mongo-seeded rounds, a post-load callback, a
//! standard-library worker server) is migrated, built with the generated build.sh and run
//! with the real binary against real worker processes to a pass; the py-state-suite fixture
//! (runner.state used as prometheus-test's dict) migrates with exactly its unservable uses
//! listed and passes; the docs-summarizer and builder-247 peer suites (config and data,
//! plus steps written for this repository in tests/fixtures/peer-steps) migrate with
//! exactly their sandbox-incompatible lines listed.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use system_tests::{RunOutput, free_ports, repo_root, run_in};

/// Copies the folder `from` into `to`, recursively.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create folder");
    for entry in std::fs::read_dir(from).expect("read folder") {
        let path = entry.expect("folder entry").path();
        let target = to.join(path.file_name().expect("file name"));
        if path.is_dir() {
            copy_tree(&path, &target);
        } else {
            std::fs::copy(&path, &target).expect("copy file");
        }
    }
}

/// The componentize-py of the repository's .venv (scripts/setup-venv.sh), which the
/// generated build.sh uses through $COMPONENTIZE_PY instead of installing its own.
fn componentize_py() -> PathBuf {
    let tool = repo_root().join(".venv/bin/componentize-py");
    assert!(
        tool.exists(),
        "{} is missing: run scripts/setup-venv.sh",
        tool.display()
    );
    tool
}

/// How long one componentize-py build may take before the test fails: about 5 s alone,
/// but minutes when the test binaries share two cores with other builds; only a hang
/// should hit it.
const BUILD_LIMIT: Duration = Duration::from_secs(600);

/// Runs the generated `wasm/build.sh` of `tests`; exit status and output.
fn build(tests: &Path) -> (std::process::ExitStatus, String) {
    let mut child = Command::new(tests.join("wasm/build.sh"))
        .env("COMPONENTIZE_PY", componentize_py())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run build.sh");
    let mut stderr = child.stderr.take().expect("piped stderr");
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut text);
        text
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait on build.sh") {
            break status;
        }
        if started.elapsed() > BUILD_LIMIT {
            let _ = child.kill();
            panic!("build.sh did not finish within {BUILD_LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    (status, reader.join().unwrap_or_default())
}

/// The `file:line` of every place `migrate` listed as not carried over.
fn listed(out: &RunOutput) -> Vec<String> {
    out.stdout
        .lines()
        .skip_while(|l| !l.starts_with("could not be carried over"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .map(|l| {
            let mut parts = l.trim().splitn(3, ':');
            format!(
                "{}:{}",
                parts.next().unwrap_or_default(),
                parts.next().unwrap_or_default()
            )
        })
        .collect()
}

#[test]
fn py_suite_migrates_builds_and_passes_against_real_workers() {
    let root = tempfile::tempdir().expect("temp dir");
    let project = root.path().join("project");
    copy_tree(&repo_root().join("tests/fixtures/py-suite"), &project);
    let port = free_ports(2);
    let config_path = project.join("tests/config.yaml");
    let config = std::fs::read_to_string(&config_path).expect("config.yaml");
    std::fs::write(&config_path, config.replace("5700", &port.to_string())).expect("config.yaml");
    let steps_py = std::fs::read(project.join("tests/steps.py")).expect("steps.py");

    let out = run_in(&project, &["migrate", "tests"]);
    assert_eq!(out.code(), 0, "{out}");
    assert_eq!(
        listed(&out),
        [
            "tests/stages/files.py:4",
            "tests/stages/files.py:8",
            "tests/stages/files.py:17"
        ],
        "{out}"
    );
    assert!(
        out.stdout
            .contains("import of `subprocess`: steps cannot start processes"),
        "{out}"
    );
    assert!(
        out.stdout
            .contains("post-load: tests.post_load.post_load_callback"),
        "{out}"
    );
    let wasm = project.join("tests/wasm");
    assert_eq!(
        std::fs::read(wasm.join("src/tests/steps.py")).expect("copied steps.py"),
        steps_py
    );
    assert!(wasm.join("src/tests/stages/audit.py").exists());
    assert!(
        !wasm.join("src/tests/e2e.py").exists(),
        "e2e.py runs the Python runner: not copied"
    );

    let (status, log) = build(&project.join("tests"));
    assert!(status.success(), "build.sh failed: {log}");
    let out = run_in(&project, &["run", "tests/wasm/plan.yaml"]);
    assert_eq!(out.code(), 0, "{out}");
    assert!(
        out.stdout
            .contains("PASSED: 17 passed, 1 skipped, 0 failed"),
        "{out}"
    );
    assert!(out.stdout.contains("[worker1] POST /task/audit"), "{out}");
    assert!(
        out.stdout
            .contains("worker_submit skipped: worker_submit: execute returned None"),
        "{out}"
    );
    let state: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(project.join("tests/data/test_state.json")).expect("state"),
    )
    .expect("state JSON");
    assert_eq!(
        state["rounds"]["1"]["todo"],
        serde_json::json!({"id": "todo-1", "owner": "alice"})
    );
    assert_eq!(
        state["global"]["submitted_rounds"],
        serde_json::json!([1, 2])
    );
    assert_eq!(
        state["global"]["last_summary"],
        serde_json::json!({"round": 3, "audits": 3})
    );

    // What cannot run in the sandbox fails with why and what to do, and the traceback
    // shows the user's frames, not the compatibility layer's.
    let mut config = std::fs::read_to_string(&config_path).expect("config.yaml");
    config.push_str("break_with_open: true\n");
    std::fs::write(&config_path, config).expect("config.yaml");
    let out = run_in(&project, &["run", "tests/wasm/plan.yaml", "--reset"]);
    assert_eq!(out.code(), 1, "{out}");
    assert!(
        out.stdout
            .contains("open('debug.flag') cannot run in the sandbox: steps have no filesystem"),
        "{out}"
    );
    assert!(
        out.stdout
            .contains("tests/stages/files.py\", line 8, in debug_enabled"),
        "{out}"
    );
    assert!(
        out.stdout.contains("tests/stages/fetch.py\", line"),
        "{out}"
    );
    assert!(!out.stdout.contains("prometheus_test/"), "{out}");

    // An existing wasm/ is not overwritten without --force.
    let again = run_in(&project, &["migrate", "tests"]);
    assert_eq!(again.code(), 2, "{again}");
    assert!(again.stderr.contains("already exists"), "{again}");
    assert!(again.stderr.contains("--force"), "{again}");
    let forced = run_in(&project, &["migrate", "tests", "--force"]);
    assert_eq!(forced.code(), 0, "{forced}");
    assert!(
        wasm.join("steps.wasm").exists(),
        "--force keeps the built package"
    );
}

/// The lines of tests/fixtures/py-state-suite/tests/stages/unsupported.py that need the
/// list of a state scope's keys (read off the file: each one lists a scope, a round, or
/// writes a key of runner.state the runner owns). Its line 38 reads another round through a
/// computed key and line 39 calls a method a scope does not have: neither is visible to a
/// static check, both fail at run time.
const UNSUPPORTED_LINES: [usize; 12] = [17, 21, 24, 27, 28, 29, 30, 32, 33, 34, 35, 50];

#[test]
fn py_state_suite_keeps_dict_idioms_and_lists_what_it_cannot_carry() {
    let root = tempfile::tempdir().expect("temp dir");
    let project = root.path().join("project");
    copy_tree(&repo_root().join("tests/fixtures/py-state-suite"), &project);
    let port = free_ports(1);
    let config_path = project.join("tests/config.yaml");
    let config = std::fs::read_to_string(&config_path).expect("config.yaml");
    std::fs::write(&config_path, config.replace("5800", &port.to_string())).expect("config.yaml");

    // migrate lists every use it cannot carry, with file:line, and says what it checked
    // instead of claiming that everything was carried over.
    let out = run_in(&project, &["migrate", "tests"]);
    assert_eq!(out.code(), 0, "{out}");
    let expected: Vec<String> = UNSUPPORTED_LINES
        .iter()
        .map(|line| format!("tests/stages/unsupported.py:{line}"))
        .collect();
    assert_eq!(listed(&out), expected, "{out}");
    for what in [
        "tests/stages/unsupported.py:17: its truth value (`if scope:`, `or`) of runner.state['rounds'][round] (`round_state`): the runner reads a state scope's keys only by name, so this raises SandboxError at run time",
        "tests/stages/unsupported.py:21: deleting a round of runner.state['rounds']",
        "tests/stages/unsupported.py:24: assigning a key of runner.state other than global",
        "tests/stages/unsupported.py:28: `.keys()` of runner.state['rounds'][round] (`round_state`)",
        "tests/stages/unsupported.py:30: `len()` of runner.state['global']",
        "tests/stages/unsupported.py:32: `json.dumps()` of runner.state['rounds'][round] (`round_state`)",
        "tests/stages/unsupported.py:35: `list()` of runner.state['rounds']: a step sees only the current round",
        "tests/stages/unsupported.py:50: iteration (`for ... in`) of runner.state['rounds'][round] (`round_state`)",
    ] {
        assert!(out.stdout.contains(what), "{what}\n{out}");
    }
    assert!(
        out.stdout
            .contains("checked without running the code: imports, file, process and environment calls, and uses of runner.state"),
        "{out}"
    );
    assert!(!out.stdout.to_lowercase().contains("everything"), "{out}");
    let report =
        std::fs::read_to_string(project.join("tests/wasm/MIGRATION.txt")).expect("MIGRATION.txt");
    assert!(
        report.contains("tests/stages/unsupported.py:50: iteration"),
        "{report}"
    );
    assert!(
        report.contains("checked without running the code"),
        "{report}"
    );

    // The idioms work: each step checks what the previous ones stored (every step runs in
    // a fresh instance) and fails naming any mismatch.
    let (status, log) = build(&project.join("tests"));
    assert!(status.success(), "build.sh failed: {log}");
    let out = run_in(&project, &["run", "tests/wasm/plan.yaml"]);
    assert_eq!(out.code(), 0, "{out}");
    assert!(
        out.stdout.contains("PASSED: 8 passed, 0 skipped, 0 failed"),
        "{out}"
    );
    let state: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(project.join("tests/data/test_state.json")).expect("state"),
    )
    .expect("state JSON");
    for round in ["1", "2"] {
        assert_eq!(
            state["rounds"][round],
            serde_json::json!({
                "pr_urls": {"worker1": format!("https://prs.test/{round}/worker1")},
                "submissions": [{"round": round.parse::<u32>().expect("round")}],
                "counts": {"fetch": {"ok": 1}, "read": true},
                // del and pop store null: the runner's state has no delete.
                "later": null,
                "scratch": null,
                "u": 1,
                "v": 2,
                "assigned": "merged",
            }),
            "round {round}: {state:#}"
        );
    }
    assert_eq!(
        state["global"]["history"],
        serde_json::json!({"1": {"urls": 1}, "2": {"urls": 1}})
    );
    assert_eq!(state["global"]["last_round"], 2);
    assert_eq!(state["global"]["totals"], serde_json::json!({"steps": 4}));

    // What cannot be served raised SandboxError naming the alternative; no message names
    // a class of the compatibility layer.
    let unsupported = state["global"]["unsupported"]
        .as_object()
        .expect("global.unsupported");
    let scope_hint = "use the keys you know (runner.state['rounds']['2']['key'], .get('key', default), 'key' in ...), or keep what you need to list under one key";
    let global_hint = "use the keys you know (runner.state['global']['key']";
    let rounds_hint = "a step sees only the current round, runner.state['rounds'][str(runner.current_round)]; keep what later rounds need with runner.set(key, value, scope='global')";
    for (name, start, hint) in [
        (
            "iteration",
            "iteration would list runner.state['rounds']['2']",
            scope_hint,
        ),
        (
            "keys",
            "keys() would list runner.state['rounds']['2']",
            scope_hint,
        ),
        (
            "items",
            "items() would list runner.state['global']",
            global_hint,
        ),
        (
            "len",
            "len() would list runner.state['global']",
            global_hint,
        ),
        (
            "truth",
            "a truth value (if ...:) would list runner.state['rounds']['2']",
            scope_hint,
        ),
        (
            "json.dumps",
            "json.dumps() would list runner.state['rounds']['2']",
            scope_hint,
        ),
        (
            "unpacking",
            "keys() would list runner.state['global']",
            global_hint,
        ),
        (
            "comparison",
            "== comparison would list runner.state['rounds']['2']",
            scope_hint,
        ),
        (
            "rounds",
            "iteration would list runner.state['rounds']",
            rounds_hint,
        ),
        (
            "delete round",
            "del runner.state['rounds']['2']: deleting a round",
            "delete the keys you stored by name",
        ),
        (
            "top-level key",
            "runner.state['history']: runner.state holds rounds, global",
            "store it with runner.set('history', value, scope='global')",
        ),
        (
            "other round",
            "runner.state['rounds']['3']: a step can read only the current round (2)",
            "keep what later rounds need with runner.set(key, value, scope='global')",
        ),
    ] {
        let got = &unsupported[name];
        assert_eq!(got[0], "SandboxError", "{name}: {got}");
        let message = got[1].as_str().expect("message");
        assert!(message.starts_with(start), "{name}: {message}");
        assert!(message.contains(hint), "{name}: {message}");
    }
    let attribute = &unsupported["attribute"];
    assert_eq!(attribute[0], "AttributeError", "{attribute}");
    assert!(
        attribute[1]
            .as_str()
            .is_some_and(|m| m.starts_with("runner.state['rounds']['2'] has no attribute 'iteritems': it is read and written by key")),
        "{attribute}"
    );
    assert_eq!(unsupported.len(), 13, "{unsupported:?}");
    let all = serde_json::to_string(unsupported).expect("JSON");
    for internal in [
        "_Scope",
        "_Rounds",
        "_State",
        "_View",
        "StateStore",
        "object at 0x",
    ] {
        assert!(!all.contains(internal), "{internal} in {all}");
    }

    // Uncaught, the listing fails the step with SandboxError, the alternative and the
    // user's own line.
    let mut config = std::fs::read_to_string(&config_path).expect("config.yaml");
    config.push_str("fail_on_listing: true\n");
    std::fs::write(&config_path, config).expect("config.yaml");
    let out = run_in(&project, &["run", "tests/wasm/plan.yaml", "--reset"]);
    assert_eq!(out.code(), 1, "{out}");
    assert!(
        out.stdout
            .contains("SandboxError: iteration would list runner.state['rounds']['1']: the runner reads a scope's keys only by name"),
        "{out}"
    );
    assert!(
        out.stdout
            .contains("tests/stages/unsupported.py\", line 50, in execute"),
        "{out}"
    );
    assert!(!out.stdout.contains("prometheus_test/"), "{out}");
    assert!(!out.stdout.contains("_Scope"), "{out}");
}

/// A peer suite (config and data) with the steps of tests/fixtures/peer-steps, migrated.
fn migrate_peer(name: &str) -> (tempfile::TempDir, RunOutput) {
    let root = tempfile::tempdir().expect("temp dir");
    let tests = root.path().join("tests");
    copy_tree(
        &repo_root()
            .join("tests/fixtures/peer-suites")
            .join(name)
            .join("tests"),
        &tests,
    );
    copy_tree(
        &repo_root().join("tests/fixtures/peer-steps").join(name),
        &tests,
    );
    std::fs::remove_file(tests.join("README.md")).ok();
    let out = run_in(root.path(), &["migrate", "tests"]);
    (root, out)
}

#[test]
fn docs_summarizer_migrates_with_only_its_sandbox_lines_listed() {
    let (root, out) = migrate_peer("Prometheus-Swarm__docs-summarizer");
    assert_eq!(out.code(), 0, "{out}");
    assert_eq!(
        listed(&out),
        [
            "tests/stages/worker_check.py:3",
            "tests/stages/worker_task.py:10"
        ],
        "{out}"
    );
    assert!(out.stdout.contains("import of `github`"), "{out}");
    assert!(out.stdout.contains("`os.environ`"), "{out}");
    let entry =
        std::fs::read_to_string(root.path().join("tests/wasm/src/prometheus_wasm_entry.py"))
            .expect("entry module");
    assert!(entry.contains("from tests.steps import steps"), "{entry}");
    assert!(entry.contains("\"github\":"), "{entry}");
    let (status, log) = build(&root.path().join("tests"));
    assert!(status.success(), "build.sh failed: {log}");
}

#[test]
fn builder_247_migrates_with_only_its_sandbox_lines_listed() {
    let (root, out) = migrate_peer("koii-network__builder-247");
    assert_eq!(out.code(), 0, "{out}");
    assert_eq!(
        listed(&out),
        [
            "tests/stages/audit_summary.py:7",
            "tests/stages/generate_summary.py:4"
        ],
        "{out}"
    );
    assert!(
        out.stdout
            .contains("steps: tests.steps (built by build_steps())"),
        "{out}"
    );
    let plan = std::fs::read_to_string(root.path().join("tests/wasm/plan.yaml")).expect("plan");
    assert!(plan.contains("config: ../config.yaml"), "{plan}");
}

#[test]
fn migrate_refuses_a_folder_without_steps() {
    let root = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir_all(root.path().join("tests")).expect("tests");
    let out = run_in(root.path(), &["migrate", "tests"]);
    assert_eq!(out.code(), 2, "{out}");
    assert!(out.stderr.contains("has no steps.py"), "{out}");
    assert!(out.stderr.contains("hint:"), "{out}");
    assert!(!root.path().join("tests/wasm").exists());
}
