//! `prometheus-wasm migrate` on prometheus-test suites: the py-suite fixture (a project
//! shaped like the real ones: stage modules, `create_signature`, `functools.partial`
//! params, `requests`, `runner.state`, Mongo-seeded rounds, a post-load callback, a
//! standard-library worker server) is migrated, built with the generated build.sh and run
//! with the real binary against real worker processes to a pass; the docs-summarizer and
//! builder-247 peer suites (config and data, plus steps written for this repository in
//! tests/fixtures/peer-steps) migrate with exactly their sandbox-incompatible lines listed.

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
