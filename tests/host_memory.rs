//! The host's own memory and stack against steps that hand it too much
//! (`tests/components/hostile-memory`): every attempt ends as a step failure naming the
//! budget or limit, the runner exits 1 without crashing, its peak RSS stays far below what
//! the attack would take, no worker survives, and `test_state.json` stays readable.

use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use serde_json::json;
use system_tests::{RunOutput, TestDir, component, is_alive};

/// The package's steps, in manifest order.
const STEPS: [&str; 10] = [
    "warm-up",
    "big-state",
    "store-flood",
    "unwind-bomb",
    "deep-set-path",
    "deep-state-key",
    "deep-state-value",
    "deep-document",
    "log-flood",
    "state-at-the-limit",
];

/// Peak RSS a run of the runner may reach. Without the budgets these attacks took 1.5 to
/// 3 GiB (and the deep ones crashed the runner); with them the runner stays near its
/// idle size plus the budgets set below.
const MAX_RSS_KIB: u64 = 400 << 10;

/// How long one of these runs may take: detects a hang, not a speed.
const MAX_RUN_TIME: Duration = Duration::from_secs(60);

/// A hello test folder running the hostile-memory package with small host-side budgets.
fn folder(step: &str) -> TestDir {
    let dir = TestDir::example("hello", &component("hostile_memory"));
    dir.set_config("max_rounds", 1.into());
    dir.set_config("hostile", step.into());
    let limits = "step_timeout: 30\nmemory_mb: 64\noutput_max_kb: 64\nstate_max_mb: 16\n\
                  store_max_mb: 16\n";
    dir.set_config("limits", serde_yaml::from_str(limits).expect("yaml"));
    dir
}

/// Runs the runner to completion and returns its output and its peak RSS in KiB (its
/// own `wait4` usage, so parallel tests do not mix their figures).
fn run_measured(dir: &TestDir, args: &[&str]) -> (RunOutput, u64) {
    let mut child = dir.command(args).spawn().expect("spawn the runner");
    let pid = i32::try_from(child.id()).expect("pid fits");
    let stdout = child.stdout.take().expect("stdout piped");
    let stderr = child.stderr.take().expect("stderr piped");
    let read = |mut pipe: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = pipe.read_to_string(&mut s);
            s
        })
    };
    let (out, err) = (read(Box::new(stdout)), read(Box::new(stderr)));
    let started = Instant::now();
    let (status, rusage) = loop {
        let mut status = 0;
        // SAFETY: an all-zero `rusage` is a valid value for wait4 to fill.
        let mut rusage: nix::libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: `pid` is our child, not yet reaped; both pointers are to live locals.
        let reaped = unsafe { nix::libc::wait4(pid, &mut status, nix::libc::WNOHANG, &mut rusage) };
        if reaped == pid {
            break (ExitStatus::from_raw(status), rusage);
        }
        assert!(
            reaped == 0,
            "wait4 failed: {}",
            std::io::Error::last_os_error()
        );
        if started.elapsed() > MAX_RUN_TIME {
            let _ = child.kill();
            panic!("the runner did not finish within {MAX_RUN_TIME:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    drop(child);
    let output = RunOutput {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    };
    (output, u64::try_from(rusage.ru_maxrss).unwrap_or(u64::MAX))
}

/// Runs the package with `step` hostile and checks what every such run must show: exit 1
/// with every one of `messages` in the failure line of `step`, a peak RSS under
/// [`MAX_RSS_KIB`], no worker left, and a readable state at the step before.
fn fails_with(step: &str, messages: &[&str]) -> (TestDir, RunOutput) {
    let dir = folder(step);
    let (out, rss_kib) = run_measured(&dir, &["run", "tests/steps.wasm", "--reset"]);
    assert_eq!(out.code(), 1, "{out}");
    let failure = out
        .stdout
        .lines()
        .find(|l| l.contains(&format!("✗ {step} failed")))
        .unwrap_or_else(|| panic!("no failure line for {step}\n{out}"));
    for message in messages {
        assert!(failure.contains(message), "{message}\n{failure}\n{out}");
    }
    assert!(
        rss_kib < MAX_RSS_KIB,
        "peak RSS {} MiB, over {} MiB\n{out}",
        rss_kib >> 10,
        MAX_RSS_KIB >> 10
    );
    for pid in out.worker_pids() {
        assert!(!is_alive(pid), "worker pid {pid} outlived the run\n{out}");
    }
    let index = STEPS.iter().position(|s| *s == step).expect("a step");
    let state = dir.state();
    assert_eq!(
        state["last_completed_step"],
        json!(STEPS[index - 1]),
        "{state}"
    );
    (dir, out)
}

#[test]
fn large_state_values_hit_the_state_budget() {
    fails_with(
        "big-state",
        &[
            "exceeded the run state limit of 16 MiB (raise limits.state_max_mb in config.yaml or pass --state-max-mb)",
        ],
    );
}

#[test]
fn the_state_budget_flag_overrides_config() {
    let dir = folder("big-state");
    let (out, _) = run_measured(
        &dir,
        &["run", "tests/steps.wasm", "--reset", "--state-max-mb", "9"],
    );
    assert_eq!(out.code(), 1, "{out}");
    assert!(out.stdout.contains("run state limit of 9 MiB"), "{out}");
}

#[test]
fn an_insert_flood_hits_the_store_budget() {
    fails_with(
        "store-flood",
        &[
            "past the embedded store limit of 16 MiB",
            "raise limits.store_max_mb in config.yaml or pass --store-max-mb",
        ],
    );
}

#[test]
fn an_unwind_bomb_hits_the_per_stage_limit() {
    fails_with(
        "unwind-bomb",
        &["unwind: $unwind would produce more than 100 MiB, the embedded store's per-stage limit"],
    );
}

#[test]
fn a_deep_set_path_is_refused_without_overflowing_the_stack() {
    fails_with(
        "deep-set-path",
        &[
            "the field path",
            "has 3000 parts, more than MongoDB's nesting limit of 100",
        ],
    );
}

#[test]
fn a_deep_state_key_is_refused_without_overflowing_the_stack() {
    let (_, out) = fails_with(
        "deep-state-key",
        &[
            "its 300000 part(s) and the value's 0 level(s) of nesting are 300000 together, more than 100",
        ],
    );
    // The key is shown shortened, not as 600 000 characters.
    assert!(
        out.stdout.len() < 64 << 10,
        "{} bytes of output",
        out.stdout.len()
    );
}

#[test]
fn deep_state_values_are_refused() {
    fails_with(
        "deep-state-value",
        &[
            "recursion limit exceeded",
            "its 2 part(s) and the value's 99 level(s)",
        ],
    );
}

#[test]
fn deep_documents_are_refused() {
    fails_with(
        "deep-document",
        &[
            "recursion limit exceeded",
            "nested 101 levels deep, more than MongoDB's 100",
        ],
    );
}

#[test]
fn a_log_flood_hits_the_output_budget() {
    let (_, out) = fails_with(
        "log-flood",
        &[
            "exceeded the log output limit of 64 KiB (raise limits.output_max_kb in config.yaml or pass --output-max-kb)",
        ],
    );
    // At most the budget (plus the runner's own lines) reached the terminal.
    assert!(
        out.stdout.len() < 96 << 10,
        "{} bytes of output",
        out.stdout.len()
    );
}

#[test]
fn state_at_the_nesting_limit_is_written_and_read_back_by_the_next_run() {
    let dir = folder("state-at-the-limit");
    let (out, _) = run_measured(&dir, &["run", "tests/steps.wasm", "--reset"]);
    assert_eq!(out.code(), 0, "{out}");
    let key: Vec<&str> = vec!["k"; 60];
    let mut value = &dir.state()["global"];
    for part in &key {
        value = &value[*part];
    }
    assert_eq!(
        value.to_string(),
        (0..40).fold("1".to_string(), |v, _| format!("{{\"a\":{v}}}"))
    );
    // The next run reads the file (a file it could not read would stop it with exit 2).
    let (again, _) = run_measured(&dir, &["run", "tests/steps.wasm"]);
    assert_eq!(again.code(), 0, "{again}");
    assert!(!again.all().contains("cannot read"), "{again}");
}
