//! `prometheus-wasm new`: the scaffolded folder builds and its first run passes.

use std::process::Command;

use system_tests::{free_ports, repo_root, run_in};

#[test]
fn a_rust_scaffold_builds_and_its_first_run_passes() {
    let root = tempfile::tempdir().expect("tempdir");
    let out = run_in(root.path(), &["new", "e2e"]);
    assert_eq!(out.code(), 0, "{out}");
    let e2e = root.path().join("e2e");
    for file in [
        ".gitignore",
        "README.md",
        "config.yaml",
        "workers.json",
        "plan.yaml",
    ] {
        assert!(e2e.join(file).is_file(), "{file} missing");
    }
    let manifest = std::fs::read_to_string(e2e.join("steps/Cargo.toml")).expect("Cargo.toml");
    assert!(manifest.contains("guest-sdk"), "{manifest}");

    // The workspace's lock keeps the scaffold on the versions already built here, and a
    // target dir inside the workspace's reuses its compiled dependencies between runs.
    std::fs::copy(repo_root().join("Cargo.lock"), e2e.join("steps/Cargo.lock")).expect("lock");
    let target = repo_root().join("target/scaffold-test");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--quiet", "--target", "wasm32-wasip2", "--release"])
        .arg("--manifest-path")
        .arg(e2e.join("steps/Cargo.toml"))
        .env("CARGO_TARGET_DIR", &target)
        .status()
        .expect("run cargo");
    assert!(
        status.success(),
        "the scaffold's step package does not build"
    );
    let built = e2e.join("steps/target/wasm32-wasip2/release");
    std::fs::create_dir_all(&built).expect("mkdir");
    std::fs::copy(
        target.join("wasm32-wasip2/release/test_steps.wasm"),
        built.join("test_steps.wasm"),
    )
    .expect("copy the component where the plan expects it");

    let config = e2e.join("config.yaml");
    let text = std::fs::read_to_string(&config).expect("config");
    let text = text.replace("base_port: 5700", &format!("base_port: {}", free_ports(1)));
    std::fs::write(&config, text).expect("write config");

    let out = run_in(root.path(), &["run", "e2e/plan.yaml"]);
    assert_eq!(out.code(), 0, "{out}");
    assert!(out.stdout.contains("✓ worker-answers"), "{out}");
    assert!(out.stdout.contains("PASSED: 1 passed"), "{out}");
    assert!(e2e.join("plan.lock").is_file(), "first run writes the lock");
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

/// Scaffolds `lang` into a temp folder, builds it with the repository's pinned tool
/// (`env` names the build script's override variable), and runs it once.
fn guest_scaffold_builds_and_runs(lang: &str, env: &str, tool: &str) {
    let root = tempfile::tempdir().expect("tempdir");
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
    let tool = repo_root().join(tool);
    assert!(
        tool.exists(),
        "{} is missing: scripts/test.sh installs it",
        tool.display()
    );
    let status = Command::new(e2e.join("build.sh"))
        .env(env, &tool)
        .status()
        .expect("run build.sh");
    assert!(status.success(), "the {lang} scaffold does not build");

    let config = e2e.join("config.yaml");
    let text = std::fs::read_to_string(&config).expect("config");
    let text = text.replace("base_port: 5700", &format!("base_port: {}", free_ports(1)));
    std::fs::write(&config, text).expect("write config");

    let out = run_in(root.path(), &["run", "e2e/plan.yaml"]);
    assert_eq!(out.code(), 0, "{out}");
    assert!(out.stdout.contains("✓ worker-answers"), "{out}");
    assert!(out.stdout.contains("PASSED: 1 passed"), "{out}");
}

#[test]
fn a_python_scaffold_builds_and_its_first_run_passes() {
    guest_scaffold_builds_and_runs("python", "COMPONENTIZE_PY", ".venv/bin/componentize-py");
}

#[test]
fn a_js_scaffold_builds_and_its_first_run_passes() {
    guest_scaffold_builds_and_runs(
        "js",
        "COMPONENTIZE_QJS",
        "guest-js/node_modules/.bin/componentize-qjs",
    );
}
