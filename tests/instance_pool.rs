//! Step instances come from wasmtime's pooling allocator (`plugin/allocator.rs`): a
//! memory slot one step dirtied is handed to the next step reset, so no step reads what
//! the one before it left; slots go back to the pool, so a run makes more instances than
//! the pool holds at once; a host that refuses the pool's address-space reservation
//! (`ulimit -v`) still runs every step, on the on-demand allocator, and says so;
//! `PROMETHEUS_WASM_ALLOCATOR=on-demand` selects that allocator without the attempt.

use std::process::{Command, Stdio};

use system_tests::{RunOutput, TestDir, component, wait_output};

/// Instances the pool holds at once (`STEPS_IN_FLIGHT` × `MAX_INSTANCES`).
const POOL_INSTANCES: usize = 2 * 256;

/// Steps of the hostile package (every one is a fresh instance, skipped or not).
const HOSTILE_STEPS: usize = 17;

/// The hostile package in the hello example, one round, `hostile: <mode>`.
fn hostile(mode: &str) -> TestDir {
    let dir = TestDir::example("hello", &component("hostile"));
    dir.set_config("max_rounds", 1.into());
    dir.set_config("hostile", mode.into());
    let limits = "step_timeout: 30\nmemory_mb: 128\n";
    dir.set_config("limits", serde_yaml::from_str(limits).expect("yaml"));
    dir
}

/// The passed line of `step`, or a panic showing the run.
fn passed_line<'a>(out: &'a RunOutput, step: &str) -> &'a str {
    out.stdout
        .lines()
        .find(|l| l.contains(&format!("✓ {step}")))
        .unwrap_or_else(|| panic!("{step} did not pass\n{out}"))
}

#[test]
fn a_step_never_reads_the_memory_the_step_before_it_wrote() {
    for allocator in ["pooling", "on-demand"] {
        let dir = hostile("leftovers");
        let out = wait_output(
            dir.command(&["run", "tests/steps.wasm", "--reset"])
                .env("PROMETHEUS_WASM_ALLOCATOR", allocator)
                .spawn()
                .expect("spawn the runner"),
        );
        // `leave-a-secret` fails unless its own scan finds every copy it wrote, so the
        // scanner that finds none in the next step is known to work.
        assert_eq!(out.code(), 0, "{allocator}\n{out}");
        passed_line(&out, "leave-a-secret");
        passed_line(&out, "look-for-secrets");
        assert!(!out.all().contains("found "), "{allocator}\n{out}");
    }
}

#[test]
fn a_run_makes_more_instances_than_the_pool_holds_at_once() {
    let dir = hostile("none of them");
    let rounds = POOL_INSTANCES / HOSTILE_STEPS + 3;
    dir.set_config("max_rounds", serde_yaml::Value::from(rounds as u64));
    let out = dir.run_steps(&["--reset", "--quiet"]);
    assert_eq!(out.code(), 0, "{out}");
    assert_eq!(
        dir.state()["current_round"],
        serde_json::json!(rounds),
        "{out}"
    );
    assert!(rounds * HOSTILE_STEPS > POOL_INSTANCES);
}

/// The runner command `inner`, run by `sh` under `ulimit -v <kib>`.
fn under_address_space_limit(inner: Command, kib: u64) -> RunOutput {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(format!("ulimit -v {kib} && exec \"$@\""))
        .arg("sh")
        .arg(inner.get_program())
        .args(inner.get_args())
        .current_dir(inner.get_current_dir().expect("the runner's directory"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (key, value) in inner.get_envs() {
        match value {
            Some(v) => cmd.env(key, v),
            None => cmd.env_remove(key),
        };
    }
    wait_output(cmd.spawn().expect("spawn sh"))
}

/// 16 GiB: room for a few on-demand memories (4 GiB of address space each), none for the
/// pool (about 2 TiB).
const SMALL_ADDRESS_SPACE_KIB: u64 = 16 << 20;

#[test]
fn a_host_that_refuses_the_pool_runs_every_step_on_demand_and_says_so() {
    let t = TestDir::hello();
    let out = under_address_space_limit(
        t.command(&["run", "tests/steps.wasm", "--reset"]),
        SMALL_ADDRESS_SPACE_KIB,
    );
    assert_eq!(out.code(), 0, "{out}");
    assert!(
        out.all().contains("cannot reserve the instance pool")
            && out.all().contains("PROMETHEUS_WASM_ALLOCATOR=on-demand"),
        "{out}"
    );
    assert_eq!(t.state()["current_round"], serde_json::json!(2), "{out}");
}

#[test]
fn the_on_demand_allocator_is_chosen_without_the_attempt() {
    let t = TestDir::hello();
    let mut inner = t.command(&["run", "tests/steps.wasm", "--reset"]);
    inner.env("PROMETHEUS_WASM_ALLOCATOR", "on-demand");
    let out = under_address_space_limit(inner, SMALL_ADDRESS_SPACE_KIB);
    assert_eq!(out.code(), 0, "{out}");
    assert!(!out.all().contains("instance pool"), "{out}");
}
