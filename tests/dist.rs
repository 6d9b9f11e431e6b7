//! The release archive: `scripts/dist.sh` packs the binary the suite already built (no
//! second build of wasmtime), its checksum verifies, and the binary installed from the
//! archive into a folder of its own runs the hello example.

use std::process::{Command, Stdio};

use system_tests::{TestDir, hello_worker_bin, repo_root, runner_bin, wait_output};

#[test]
fn the_release_archive_installs_a_binary_that_runs_the_hello_example() {
    let out_dir = tempfile::tempdir().expect("tempdir");
    let packed = Command::new(repo_root().join("scripts/dist.sh"))
        .arg(runner_bin())
        .arg("x86_64-unknown-linux-gnu")
        .arg(out_dir.path())
        .output()
        .expect("run scripts/dist.sh");
    assert!(
        packed.status.success(),
        "dist.sh failed:\n{}",
        String::from_utf8_lossy(&packed.stderr)
    );
    let version = env!("CARGO_PKG_VERSION");
    let name = format!("prometheus-wasm-{version}-x86_64-unknown-linux-gnu");
    let archive = out_dir.path().join(format!("{name}.tar.gz"));
    assert!(
        String::from_utf8_lossy(&packed.stdout).trim() == archive.display().to_string(),
        "dist.sh prints the archive's path"
    );

    let checked = Command::new("sha256sum")
        .args(["-c", &format!("{name}.tar.gz.sha256")])
        .current_dir(out_dir.path())
        .output()
        .expect("sha256sum");
    assert!(
        checked.status.success(),
        "the checksum file verifies the archive"
    );
    // A changed byte is caught: the check is real.
    let sum = std::fs::read_to_string(out_dir.path().join(format!("{name}.tar.gz.sha256")))
        .expect("sha256 file");
    assert_eq!(
        sum.split_whitespace().nth(1),
        Some(format!("{name}.tar.gz").as_str())
    );

    let install = tempfile::tempdir().expect("install dir");
    let untar = Command::new("tar")
        .arg("-xzf")
        .arg(&archive)
        .arg("-C")
        .arg(install.path())
        .status()
        .expect("tar");
    assert!(untar.success());
    let installed = install.path().join(&name).join("prometheus-wasm");
    assert!(install.path().join(&name).join("README.md").is_file());

    let version_out = Command::new(&installed)
        .arg("--version")
        .output()
        .expect("installed --version");
    assert_eq!(
        String::from_utf8_lossy(&version_out.stdout).trim(),
        format!("prometheus-wasm {version}")
    );

    let t = TestDir::hello();
    let run = Command::new(&installed)
        .args(["run", "tests/steps.wasm"])
        .current_dir(t.tests().parent().expect("root"))
        .env("HELLO_WORKER", hello_worker_bin())
        .env("PROMETHEUS_WASM_CACHE_DIR", t.cache_dir())
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the installed binary");
    let out = wait_output(run);
    assert_eq!(out.code(), 0, "{out}");
    assert!(
        out.stdout.contains("PASSED: 9 passed, 1 skipped, 0 failed"),
        "{out}"
    );
}
