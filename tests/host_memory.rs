//! The host's own memory and stack against steps that hand it too much
//! (`tests/components/hostile-memory`): every attempt ends as a step failure naming the
//! budget or limit, the runner exits 1 without crashing, its peak RSS stays far below what
//! the attack would take, no worker survives, and `test_state.json` stays readable.

use std::time::{Duration, Instant};

use serde_json::json;
use system_tests::{RunOutput, TestDir, component, is_alive, wait_measured};

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
    run_measured_within(dir, args, MAX_RUN_TIME)
}

/// [`run_measured`], the run allowed `limit` before it counts as hung.
fn run_measured_within(dir: &TestDir, args: &[&str], limit: Duration) -> (RunOutput, u64) {
    wait_measured(dir.command(args).spawn().expect("spawn the runner"), limit)
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

/// The host-call floods of `tests/components/hostile-hostcalls`, measured at the limit and
/// at 10 and 100 times it: peak RSS stays within [`hostcall_bound_kib`] however many
/// calls the step makes.
mod hostcalls {
    use super::*;

    /// `limits.memory_mb` of these runs: room for the guest's 24 MiB arguments.
    const MEMORY_MB: u64 = 96;
    /// `limits.state_max_mb`, `store_max_mb`, `http_max_body_mb` and `recording_max_mb`:
    /// small, so that 100 times the budget runs in seconds in a debug build.
    const BUDGET_MB: u64 = 1;
    /// How long one run here may take: the 100x runs push gigabytes through a debug
    /// build. Detects a hang, not a speed.
    const MAX_FLOOD_TIME: Duration = Duration::from_secs(240);
    /// What the host may take beyond the guest's memory, one lifted argument (a copy
    /// bounded by the guest's memory) and the host-side budgets, whatever the step does.
    const CONSTANT_MB: u64 = 64;

    /// The runner's own peak with nothing hostile: measured once per test binary.
    fn idle_kib() -> u64 {
        static IDLE: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
        *IDLE.get_or_init(|| {
            let dir = folder("none", 1);
            let (out, rss) = run_measured(&dir, &["run", "tests/steps.wasm", "--reset"]);
            assert_eq!(out.code(), 0, "{out}");
            rss
        })
    }

    /// The bound every run here must stay within: the idle runner, the guest's memory
    /// and one copy of an argument lifted from it, the state, store and recording
    /// budgets, and [`CONSTANT_MB`].
    pub(super) fn hostcall_bound_kib() -> u64 {
        idle_kib() + ((2 * MEMORY_MB + 3 * BUDGET_MB + CONSTANT_MB) << 10)
    }

    fn folder(step: &str, scale: u64) -> TestDir {
        let dir = TestDir::example("hello", &component("hostile_hostcalls"));
        dir.set_config("max_rounds", 1.into());
        dir.set_config("hostile", step.into());
        dir.set_config("scale", scale.into());
        dir.set_config("big", "c".repeat(64 << 10).into());
        let limits = format!(
            "step_timeout: 120\nmemory_mb: {MEMORY_MB}\noutput_max_kb: 64\n\
             state_max_mb: {BUDGET_MB}\nstore_max_mb: {BUDGET_MB}\n\
             http_max_body_mb: {BUDGET_MB}\nrecording_max_mb: {BUDGET_MB}\n"
        );
        dir.set_config("limits", serde_yaml::from_str(&limits).expect("yaml"));
        dir
    }

    /// Runs `step` at 1, 10 and 100 times its volume: each run ends with `code`, its
    /// failure line (for exit 1) holds every one of `messages`, and its peak RSS stays
    /// within the bound. Prints the figures for the threat model's Bounds table.
    fn bounded(step: &str, code: u8, messages: &[&str]) {
        let bound = hostcall_bound_kib();
        for scale in [1, 10, 100] {
            let dir = folder(step, scale);
            let started = Instant::now();
            let (out, rss) = run_measured_within(
                &dir,
                &["run", "tests/steps.wasm", "--reset"],
                MAX_FLOOD_TIME,
            );
            eprintln!(
                "{step} x{scale}: peak {} MiB (idle {} MiB, bound {} MiB) in {:?}",
                rss >> 10,
                idle_kib() >> 10,
                bound >> 10,
                started.elapsed()
            );
            assert_eq!(out.code(), code, "{step} x{scale}\n{out}");
            if code == 1 {
                let failure = out
                    .stdout
                    .lines()
                    .find(|l| l.contains(&format!("✗ {step} failed")))
                    .unwrap_or_else(|| panic!("no failure line for {step}\n{out}"));
                for message in messages {
                    assert!(failure.contains(message), "{message}\n{failure}\n{out}");
                }
            }
            assert!(
                rss < bound,
                "{step} x{scale}: peak RSS {} MiB, over the bound of {} MiB\n{out}",
                rss >> 10,
                bound >> 10
            );
            for pid in out.worker_pids() {
                assert!(!is_alive(pid), "worker pid {pid} outlived the run\n{out}");
            }
        }
    }

    #[test]
    fn a_flood_of_huge_state_values_is_refused_within_the_bound() {
        bounded(
            "state-flood",
            1,
            &["refused", "more than one value may be (1024 KiB)"],
        );
    }

    #[test]
    fn an_oversized_request_body_is_too_large_at_once_within_the_bound() {
        bounded(
            "big-request",
            1,
            &[
                "TooLarge",
                "request body of 2097152 bytes exceeds the limit of 1 MiB",
            ],
        );
    }

    #[test]
    fn refused_huge_documents_stay_within_the_bound() {
        bounded(
            "big-document",
            1,
            &["refused", "past the embedded store limit of 1 MiB"],
        );
    }

    #[test]
    fn unwind_and_group_blowups_stay_within_the_bound() {
        bounded(
            "stage-blowup",
            1,
            &["would produce more than 100 MiB, the embedded store's per-stage limit"],
        );
    }

    #[test]
    fn a_flood_of_huge_log_lines_stays_within_the_bound() {
        bounded("log-flood", 1, &["exceeded the log output limit of 64 KiB"]);
    }

    #[test]
    fn signing_huge_payloads_is_refused_unread_within_the_bound() {
        bounded(
            "sign-flood",
            1,
            &["InvalidPayload", "at most 1048576 are read"],
        );
    }

    #[test]
    fn repeated_config_reads_stay_within_the_bound() {
        bounded("config-reads", 0, &[]);
    }

    #[test]
    fn repeated_state_reads_stay_within_the_bound() {
        bounded("state-reads", 0, &[]);
    }
}
