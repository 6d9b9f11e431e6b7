//! `prometheus-wasm new`: the scaffolded folder builds and its first run passes.

use std::process::Command;

use system_tests::{free_ports, repo_root, run_in, runner_bin};

/// The user's cargo and rustup homes, named explicitly: the scaffold tests run with `HOME`
/// pointed at a fresh folder (nothing of the user's home may be needed), and rustup and
/// cargo find their homes through `HOME` otherwise.
fn toolchain_homes() -> [(String, std::path::PathBuf); 2] {
    let home = std::path::PathBuf::from(std::env::var_os("HOME").expect("HOME"));
    let var = |name: &str, default: &str| {
        std::env::var_os(name).map_or_else(|| home.join(default), std::path::PathBuf::from)
    };
    [
        ("CARGO_HOME".into(), var("CARGO_HOME", ".cargo")),
        ("RUSTUP_HOME".into(), var("RUSTUP_HOME", ".rustup")),
    ]
}

#[test]
fn a_rust_scaffold_builds_outside_the_checkout_and_its_first_run_passes() {
    let root = tempfile::tempdir().expect("tempdir");
    let home = tempfile::tempdir().expect("fresh HOME");
    let out = run_in(root.path(), &["new", "e2e"]);
    assert_eq!(out.code(), 0, "{out}");
    let e2e = root.path().join("e2e");
    for file in [
        ".gitignore",
        "README.md",
        "config.yaml",
        "workers.json",
        "plan.yaml",
        "build.sh",
        "sdk/prometheus-step/Cargo.toml",
        "sdk/prometheus-step/wit/step.wit",
        "sdk/prometheus-step/src/lib.rs",
    ] {
        assert!(e2e.join(file).is_file(), "{file} missing");
    }
    assert!(
        out.stdout.contains("e2e/build.sh"),
        "the next command is the build script:\n{out}"
    );
    let manifest = std::fs::read_to_string(e2e.join("steps/Cargo.toml")).expect("Cargo.toml");
    assert!(
        manifest.contains("name = \"e2e-steps\"")
            && manifest.contains("prometheus-step = { path = \"../sdk/prometheus-step\" }"),
        "the package is named for the folder and builds on the SDK copy beside it:\n{manifest}"
    );

    // The workspace's lock keeps the scaffold on the versions already built here, and a
    // target dir inside the workspace's reuses its compiled dependencies between runs; the
    // build script must find the component there (CARGO_TARGET_DIR honoured).
    std::fs::copy(repo_root().join("Cargo.lock"), e2e.join("steps/Cargo.lock")).expect("lock");
    let target = repo_root().join("target/scaffold-test");
    let output = Command::new(e2e.join("build.sh"))
        .current_dir(root.path())
        .env("HOME", home.path())
        .envs(toolchain_homes())
        .env("CARGO_TARGET_DIR", &target)
        .env("PROMETHEUS_WASM", runner_bin())
        .output()
        .expect("run build.sh");
    assert!(
        output.status.success(),
        "the scaffold's build script fails:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        e2e.join("steps.wasm").is_file(),
        "build.sh puts the package where plan.yaml looks"
    );

    let config = e2e.join("config.yaml");
    let text = std::fs::read_to_string(&config).expect("config");
    let text = text.replace("base_port: 5700", &format!("base_port: {}", free_ports(1)));
    std::fs::write(&config, text).expect("write config");

    let out = run_in(root.path(), &["run", "e2e/plan.yaml"]);
    assert_eq!(out.code(), 0, "{out}");
    assert!(
        out.stdout.contains("e2e-steps@0.1.0"),
        "the run names the package (build.sh wrote its metadata):\n{out}"
    );
    assert!(out.stdout.contains("✓ worker-answers"), "{out}");
    assert!(out.stdout.contains("PASSED: 1 passed"), "{out}");
    assert!(e2e.join("plan.lock").is_file(), "first run writes the lock");
}

#[test]
fn a_rust_scaffold_with_sdk_path_builds_on_the_checkout_and_takes_a_name() {
    let root = tempfile::tempdir().expect("tempdir");
    let sdk = repo_root().join("guest-sdk").display().to_string();
    let out = run_in(
        root.path(),
        &["new", "e2e", "--sdk-path", &sdk, "--name", "Payments API"],
    );
    assert_eq!(out.code(), 0, "{out}");
    let e2e = root.path().join("e2e");
    let manifest = std::fs::read_to_string(e2e.join("steps/Cargo.toml")).expect("Cargo.toml");
    assert!(
        manifest.contains(&format!("prometheus-step = {{ path = \"{sdk}\" }}")),
        "--sdk-path points the dependency at the checkout:\n{manifest}"
    );
    assert!(
        manifest.contains("name = \"payments-api-steps\""),
        "{manifest}"
    );
    assert!(
        !e2e.join("sdk").exists(),
        "no SDK copy when the checkout's is used"
    );
}

#[test]
fn a_name_with_quotes_and_colons_stays_one_yaml_value() {
    let root = tempfile::tempdir().expect("tempdir");
    let name = "my \"e2e\": tests # not a comment";
    let out = run_in(
        root.path(),
        &["new", "proj", "--lang", "python", "--name", name],
    );
    assert_eq!(out.code(), 0, "{out}");
    let config = std::fs::read_to_string(root.path().join("proj/config.yaml")).expect("config");
    let parsed: serde_yaml::Value = serde_yaml::from_str(&config).expect("config.yaml is YAML");
    assert_eq!(parsed["task_id"].as_str(), Some(name), "{config}");
    // check reads config.yaml first; what stops it then is the package not built yet.
    let out = run_in(root.path(), &["check", "proj"]);
    assert!(
        out.stderr.contains("cannot read step package `steps`")
            && !out.stderr.contains("config.yaml"),
        "the scaffold's config.yaml loads: {out}"
    );
}

#[test]
fn new_refuses_a_folder_that_is_not_empty() {
    let root = tempfile::tempdir().expect("tempdir");
    std::fs::write(root.path().join("keep.txt"), "mine").expect("write");
    let out = run_in(root.path(), &["new", "."]);
    assert_eq!(out.code(), 2, "{out}");
    assert!(
        out.stderr.contains("already exists and is not empty"),
        "{out}"
    );
}

/// How a guest scaffold's build.sh finds the repository's pinned tool (installed by
/// scripts/build-polyglot.sh, so the suite never downloads it twice): through the build
/// script's override variable, or on PATH as a user's installed tool would be.
#[derive(Clone, Copy)]
enum Tool<'a> {
    /// `VAR=<tool>`.
    Env(&'a str),
    /// The tool's folder first on PATH.
    OnPath,
}

/// Scaffolds `lang` into a temp folder outside the checkout, builds it there with a fresh
/// `HOME` and the repository's pinned `tool` (found as `how` says), and runs it once.
fn guest_scaffold_builds_and_runs(lang: &str, how: Tool, tool: &str) {
    guest_scaffold_with_steps(lang, how, tool, None, "worker-answers");
}

/// Like [`guest_scaffold_builds_and_runs`], with `steps` (file name, source) replacing the
/// scaffold's step module; the run must pass `step`.
fn guest_scaffold_with_steps(
    lang: &str,
    how: Tool,
    tool: &str,
    steps: Option<(&str, &str)>,
    step: &str,
) {
    let root = tempfile::tempdir().expect("tempdir");
    let home = tempfile::tempdir().expect("fresh HOME");
    let out = run_in(root.path(), &["new", "e2e", "--lang", lang]);
    assert_eq!(out.code(), 0, "{out}");
    let e2e = root.path().join("e2e");
    for file in [
        "README.md",
        ".gitignore",
        "config.yaml",
        "workers.json",
        "plan.yaml",
        "build.sh",
        "wit/step.wit",
    ] {
        assert!(e2e.join(file).is_file(), "{file} missing");
    }
    if let Some((file, source)) = steps {
        std::fs::write(e2e.join("steps").join(file), source).expect("write the steps");
    }
    let tool = repo_root().join(tool);
    assert!(
        tool.exists(),
        "{} is missing: scripts/test.sh installs it",
        tool.display()
    );
    let mut build = Command::new(e2e.join("build.sh"));
    build
        .current_dir(root.path())
        .env("HOME", home.path())
        .env_remove("COMPONENTIZE_PY")
        .env_remove("COMPONENTIZE_QJS")
        .env("PROMETHEUS_WASM", runner_bin());
    match how {
        Tool::Env(var) => {
            build.env(var, &tool);
        }
        Tool::OnPath => {
            let dir = tool.parent().expect("the tool's folder").to_path_buf();
            let path = std::env::var_os("PATH").unwrap_or_default();
            let path =
                std::env::join_paths(std::iter::once(dir).chain(std::env::split_paths(&path)))
                    .expect("PATH");
            build.env("PATH", path);
        }
    }
    let output = build.output().expect("run build.sh");
    assert!(
        output.status.success(),
        "the {lang} scaffold does not build:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        e2e.join("steps.wasm").is_file(),
        "build.sh puts the package where plan.yaml looks"
    );
    assert!(
        !e2e.join(".venv").exists() && !e2e.join("node_modules").exists(),
        "build.sh installed a tool it had been given"
    );

    let config = e2e.join("config.yaml");
    let text = std::fs::read_to_string(&config).expect("config");
    let text = text.replace("base_port: 5700", &format!("base_port: {}", free_ports(1)));
    std::fs::write(&config, text).expect("write config");

    let out = run_in(root.path(), &["run", "e2e/plan.yaml"]);
    assert_eq!(out.code(), 0, "{out}");
    assert!(out.stdout.contains(&format!("✓ {step}")), "{out}");
    assert!(out.stdout.contains("PASSED: 1 passed"), "{out}");
    assert!(
        out.stdout.contains("e2e-steps@0.1.0"),
        "build.sh stamped name@version:\n{out}"
    );
}

#[test]
fn a_python_scaffold_builds_and_its_first_run_passes() {
    guest_scaffold_builds_and_runs("python", Tool::OnPath, ".venv/bin/componentize-py");
}

#[test]
fn a_js_scaffold_builds_and_its_first_run_passes() {
    guest_scaffold_builds_and_runs(
        "js",
        Tool::OnPath,
        "guest-js/node_modules/.bin/componentize-qjs",
    );
}

/// A Python step that uses the test database through the helper's `collection`.
const PYTHON_MONGO_STEPS: &str = r#"
from prometheus_step import TestStep, export_steps, collection, fail


def notes_execute(runner, worker, data):
    notes = collection("notes")
    first = notes.insert_one({"round": runner.current_round, "text": "hello"})
    notes.insert_many([{"round": 0, "text": "a"}, {"round": 0, "text": "b"}])
    if notes.count_documents({"round": runner.current_round}) != 1:
        fail("the inserted note is not counted")
    matched, modified, _ = notes.update_one({"_id": first}, {"$set": {"done": True}})
    if (matched, modified) != (1, 1):
        fail(f"update_one matched {matched}, modified {modified}")
    done = notes.find_one({"done": True})
    if done is None or done["text"] != "hello":
        fail(f"find_one returned {done}")
    texts = [d["text"] for d in notes.find({"round": 0}, sort={"text": -1})]
    if texts != ["b", "a"]:
        fail(f"find with sort returned {texts}")
    runner.info(f"notes: {notes.count_documents()}")
    return {"notes": notes.count_documents()}


WitWorld = export_steps([TestStep("notes", "notes in the test database", None, notes_execute, "worker1")])
"#;

/// The same in JavaScript.
const JS_MONGO_STEPS: &str = r#"
import { TestStep, exportSteps, collection, fail } from './prometheus-step.js';

function notesExecute(runner) {
  const notes = collection('notes');
  const first = notes.insertOne({ round: runner.currentRound, text: 'hello' });
  notes.insertMany([{ round: 0, text: 'a' }, { round: 0, text: 'b' }]);
  if (notes.countDocuments({ round: runner.currentRound }) !== 1) fail('the inserted note is not counted');
  const result = notes.updateOne({ _id: first }, { $set: { done: true } });
  if (Number(result.matched) !== 1 || Number(result.modified) !== 1) fail(`updateOne: ${JSON.stringify(result, (k, v) => (typeof v === 'bigint' ? Number(v) : v))}`);
  const done = notes.findOne({ done: true });
  if (!done || done.text !== 'hello') fail(`findOne returned ${JSON.stringify(done)}`);
  const texts = notes.find({ round: 0 }, { sort: { text: -1 } }).map((d) => d.text);
  if (texts.join(',') !== 'b,a') fail(`find with sort returned ${texts}`);
  return { notes: notes.countDocuments() };
}

export const { manifest, prepare, execute, postLoad } = exportSteps([
  new TestStep('notes', 'notes in the test database', null, notesExecute, 'worker1'),
]);
"#;

#[test]
fn a_python_step_uses_the_test_database_through_the_helper() {
    guest_scaffold_with_steps(
        "python",
        Tool::Env("COMPONENTIZE_PY"),
        ".venv/bin/componentize-py",
        Some(("steps.py", PYTHON_MONGO_STEPS)),
        "notes",
    );
}

#[test]
fn a_js_step_uses_the_test_database_through_the_helper() {
    guest_scaffold_with_steps(
        "js",
        Tool::Env("COMPONENTIZE_QJS"),
        "guest-js/node_modules/.bin/componentize-qjs",
        Some(("steps.js", JS_MONGO_STEPS)),
        "notes",
    );
}

/// A Python step that imports the faults helper: build.sh must build it against
/// `steps-with-faults` (against `steps` the helper has no interface to call). The step
/// calls nothing (the scaffold does not grant faults); it checks the interface is there.
const PYTHON_FAULTS_STEPS: &str = r#"
import prometheus_faults
from prometheus_step import TestStep, export_steps, fail


def ready_execute(runner, worker, data):
    if prometheus_faults._faults is None:
        fail("built against `steps`: build.sh did not pick steps-with-faults")
    return {"faults": True}


WitWorld = export_steps([TestStep("faults-ready", "faults helper built in", None, ready_execute, "worker1")])
"#;

/// The same in JavaScript: built against `steps`, the import of `prometheus-faults.js`
/// does not build at all.
const JS_FAULTS_STEPS: &str = r#"
import { kill } from './prometheus-faults.js';
import { TestStep, exportSteps, fail } from './prometheus-step.js';

function readyExecute() {
  if (typeof kill !== 'function') fail('the faults helper is missing');
  return { faults: true };
}

export const { manifest, prepare, execute, postLoad } = exportSteps([
  new TestStep('faults-ready', 'faults helper built in', null, readyExecute, 'worker1'),
]);
"#;

#[test]
fn a_python_scaffold_importing_the_faults_helper_builds_with_faults() {
    guest_scaffold_with_steps(
        "python",
        Tool::Env("COMPONENTIZE_PY"),
        ".venv/bin/componentize-py",
        Some(("steps.py", PYTHON_FAULTS_STEPS)),
        "faults-ready",
    );
}

#[test]
fn a_js_scaffold_importing_the_faults_helper_builds_with_faults() {
    guest_scaffold_with_steps(
        "js",
        Tool::Env("COMPONENTIZE_QJS"),
        "guest-js/node_modules/.bin/componentize-qjs",
        Some(("steps.js", JS_FAULTS_STEPS)),
        "faults-ready",
    );
}
