//! `run --isolated` (and `Session::isolated`): runs of the same folder at the same time,
//! each with a temporary data_dir of its own (removed when it passes, kept when it fails)
//! and free ports for its workers, pass side by side and leave the folder's own data_dir
//! untouched.

use std::path::PathBuf;

use system_tests::{RunOutput, TestDir, wait_output};

/// The `data_dir=` override an isolated run prints in its `config:` line.
fn isolated_data_dir(out: &RunOutput) -> PathBuf {
    let line = out
        .stdout
        .lines()
        .find(|l| l.starts_with("config:") && l.contains("--set data_dir="))
        .unwrap_or_else(|| panic!("no isolated data_dir in\n{out}"));
    let at = line.find("--set data_dir=").expect("found above") + "--set data_dir=".len();
    PathBuf::from(line[at..].split(',').next().expect("a value").trim())
}

/// The `base_port=` override an isolated run prints.
fn isolated_base_port(out: &RunOutput) -> u16 {
    let line = out
        .stdout
        .lines()
        .find(|l| l.contains("--set base_port="))
        .unwrap_or_else(|| panic!("no isolated base_port in\n{out}"));
    let at = line.find("--set base_port=").expect("found above") + "--set base_port=".len();
    line[at..]
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {line}"))
}

#[test]
fn isolated_runs_of_one_folder_pass_side_by_side_and_leave_nothing_behind() {
    let t = TestDir::hello();
    let runs: Vec<_> = (0..3)
        .map(|_| {
            t.command(&["run", "tests/steps.wasm", "--reset", "--isolated"])
                .spawn()
                .expect("spawn the runner")
        })
        .collect();
    let outs: Vec<RunOutput> = runs.into_iter().map(wait_output).collect();
    let mut dirs = Vec::new();
    let mut ports = Vec::new();
    for out in &outs {
        assert_eq!(out.code(), 0, "{out}");
        assert!(out.stdout.contains("passed"), "{out}");
        let dir = isolated_data_dir(out);
        assert!(!dir.exists(), "{} outlived its run\n{out}", dir.display());
        dirs.push(dir);
        ports.push(isolated_base_port(out));
    }
    dirs.sort();
    dirs.dedup();
    assert_eq!(dirs.len(), 3, "each run has its own data_dir: {dirs:?}");
    // Two hello workers each: the blocks must not overlap.
    ports.sort_unstable();
    assert!(ports.windows(2).all(|w| w[1] >= w[0] + 2), "{ports:?}");
    assert!(
        !t.tests().join("data/test_state.json").exists(),
        "an isolated run wrote the folder's own state"
    );
}

#[test]
fn an_isolated_run_leaves_the_folders_own_ports_alone() {
    let t = TestDir::hello();
    // The folder's own ports are taken: a plain run refuses, an isolated one does not.
    let base = t.base_port();
    let _held = std::net::TcpListener::bind(("127.0.0.1", base)).expect("hold worker1's port");
    let plain = t.run(&["run", "tests/steps.wasm", "--reset"]);
    assert_ne!(plain.code(), 0, "{plain}");
    assert!(plain.all().contains(&base.to_string()), "{plain}");
    let isolated = wait_output(
        t.command(&["run", "tests/steps.wasm", "--reset", "--isolated"])
            .spawn()
            .expect("spawn the runner"),
    );
    assert_eq!(isolated.code(), 0, "{isolated}");
}

#[test]
fn a_failing_isolated_run_keeps_its_data_dir_and_says_where() {
    let t = TestDir::hello();
    t.set_config("fail_step", "audit-greeting".into());
    let out = t.run(&["run", "tests/steps.wasm", "--reset", "--isolated"]);
    assert_eq!(out.code(), 1, "{out}");
    let dir = isolated_data_dir(&out);
    let kept = format!("its data_dir is kept at {}", dir.display());
    assert!(out.stderr.contains(&kept), "{out}");
    // The evidence is there: the saved state at the failed step, the results journal.
    let state = std::fs::read_to_string(dir.join("test_state.json")).expect("the state");
    assert!(state.contains("\"current_round\""), "{state}");
    assert!(dir.join("test_state.results.jsonl").is_file(), "{out}");
    std::fs::remove_dir_all(&dir).expect("clean up the kept data_dir");
}
