//! examples/cargo-test: a Rust project outside the workspace runs the hello example through
//! the library (`prometheus_wasm::Session`) under `cargo test`, built in the workspace's
//! target directory so that wasmtime is not compiled a second time.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};

use system_tests::{TestDir, copy_dir, hello_worker_bin, repo_root, target_dir};

/// The `[profile.dev…]` lines of a Cargo.toml, without comments and blank lines.
fn dev_profile(manifest: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(manifest).expect("read Cargo.toml");
    let mut in_dev = false;
    let mut lines = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_dev = line.starts_with("[profile.dev");
        }
        if in_dev && !line.is_empty() && !line.starts_with('#') {
            lines.push(line.to_string());
        }
    }
    lines
}

/// The example copied into a temporary folder as a user's project would be: its path
/// dependency made absolute, and the workspace's Cargo.lock beside it, so that every
/// dependency resolves to the version the workspace built (and `--offline` suffices).
fn example_project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    copy_dir(&repo_root().join("examples/cargo-test"), dir.path());
    let manifest = dir.path().join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).expect("read the example's Cargo.toml");
    let host = repo_root().join("host");
    let text = text.replace(
        "path = \"../../host\"",
        &format!("path = {:?}", host.display().to_string()),
    );
    std::fs::write(&manifest, text).expect("write the example's Cargo.toml");
    std::fs::copy(
        repo_root().join("Cargo.lock"),
        dir.path().join("Cargo.lock"),
    )
    .expect("copy Cargo.lock");
    dir
}

/// `cargo test` of the project at `project`, running the test folder `folder`.
fn cargo_test(project: &Path, folder: &Path, cache: &Path) -> Output {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    Command::new(cargo)
        .args(["test", "--offline", "--manifest-path"])
        .arg(project.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(target_dir())
        .env("E2E_FOLDER", folder)
        .env("HELLO_WORKER", hello_worker_bin())
        .env("PROMETHEUS_WASM_CACHE_DIR", cache)
        .env("NO_COLOR", "1")
        .output()
        .expect("run cargo test")
}

fn text(output: &Output) -> String {
    format!(
        "status {}\n--- stdout\n{}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Every package of `cargo tree` run in `dir` with `args`, once per feature set it is built
/// with: `NAME vX.Y.Z [feature,…]` (a package built for the host — proc-macros, build
/// scripts — and for the target with other features appears twice).
fn feature_sets(dir: &Path, args: &[&str]) -> BTreeSet<String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(dir)
        .args([
            "tree",
            "--offline",
            "--prefix",
            "none",
            "--format",
            "{p} [{f}]",
        ])
        .args(args)
        .output()
        .expect("run cargo tree");
    assert!(out.status.success(), "{}", text(&out));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.replace(" (*)", "").replace(" (proc-macro)", ""))
        // The path packages themselves (the library, the example) are built anyway.
        .filter(|l| !l.contains(" (/"))
        .collect()
}

/// Every dependency the example shares with the workspace is built with a feature set a
/// workspace build gives it (`cargo build --workspace`, which scripts/test.sh runs first): a
/// single difference changes the dependency's build hash and everything above it — wasmtime
/// included — is compiled again for the example.
#[test]
fn the_example_resolves_the_workspace_features() {
    let project = example_project();
    let example = feature_sets(project.path(), &["-e", "normal,build,dev"]);
    let workspace = feature_sets(&repo_root(), &["--workspace", "-e", "normal,build"]);
    let missing: Vec<_> = example.difference(&workspace).collect();
    assert!(
        missing.is_empty(),
        "examples/cargo-test builds these with feature sets no workspace build has; give its \
         dev-dependencies (or, for proc-macro and build-script dependencies, its \
         build-dependencies) the workspace's features: {missing:#?}"
    );
}

#[test]
fn the_example_keeps_the_workspace_dev_profile() {
    let workspace = dev_profile(&repo_root().join("Cargo.toml"));
    let example = dev_profile(&repo_root().join("examples/cargo-test/Cargo.toml"));
    assert!(!workspace.is_empty(), "the workspace has a [profile.dev]");
    assert_eq!(
        example, workspace,
        "examples/cargo-test/Cargo.toml must repeat the workspace's [profile.dev…] sections, \
         or its build compiles wasmtime again"
    );
}

/// The run passes under `cargo test`; then, with a step made to fail, the test fails, its
/// assertion message names the step and its error, and the harness shows the run's
/// terminal report (captured through `print!`).
#[test]
fn the_library_example_passes_and_fails_under_cargo_test() {
    let project = example_project();
    let t = TestDir::hello();

    let passed = cargo_test(project.path(), &t.tests(), &t.cache_dir());
    let out = text(&passed);
    assert!(passed.status.success(), "{out}");
    // The workspace's wasmtime was reused: a second build of it would double CI's time.
    // It is rebuilt when a shared dependency's features differ from the workspace's: compare
    // `cargo tree -e features` of the example with the workspace's and add the difference
    // to the example's dev-dependencies.
    assert!(
        !out.contains("Compiling wasmtime ") && !out.contains("Compiling cranelift-codegen "),
        "{out}"
    );
    assert!(
        out.contains("test hello_passes_both_rounds ... ok"),
        "{out}"
    );
    // The isolated test ran beside it, on its own ports and data_dir.
    assert!(
        out.contains("test one_round_isolated_beside_the_other_test ... ok"),
        "{out}"
    );
    assert!(out.contains("test result: ok. 2 passed"), "{out}");
    // The report went through the harness: captured, not printed, for a passing test.
    assert!(!out.contains("━━ round 1/2 ━━"), "{out}");
    assert_eq!(t.state()["current_round"], serde_json::json!(2), "{out}");

    t.set_config("fail_step", "audit-greeting".into());
    let failed = cargo_test(project.path(), &t.tests(), &t.cache_dir());
    let out = text(&failed);
    assert!(!failed.status.success(), "{out}");
    assert!(
        out.contains("test hello_passes_both_rounds ... FAILED"),
        "{out}"
    );
    assert!(
        out.contains(
            "failed: step audit-greeting (worker worker2, round 1): execute returned an error: \
             injected failure in audit-greeting"
        ),
        "{out}"
    );
    // The captured terminal report of the failing test is shown.
    assert!(
        out.contains("---- hello_passes_both_rounds stdout ----"),
        "{out}"
    );
    assert!(out.contains("━━ round 1/2 ━━"), "{out}");
    // The workers were guarded by the library's watchdog, and it was reachable.
    assert!(!out.contains("cannot reach the worker watchdog"), "{out}");
}
