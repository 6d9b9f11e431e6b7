//! The sandbox against hostile step packages (`tests/components/hostile`): every hostile
//! step ends as a clear step failure within its budget, the runner exits 1, no worker
//! survives, and `test_state.json` keeps the last completed step. Budgets are short here
//! so that the suite stays fast.

use std::net::TcpListener;

use serde_json::json;
use system_tests::{RunOutput, TestDir, component, is_alive};

/// The hostile package's steps, in manifest order.
const STEPS: [&str; 15] = [
    "warm-up",
    "loop-in-prepare",
    "loop-in-execute",
    "sleep-in-execute",
    "allocate-forever",
    "deep-recursion",
    "request-unknown-port",
    "redirect-to-forbidden",
    "open-file",
    "read-env",
    "open-socket",
    "flood-stdout",
    "panic",
    "exit",
    "slow-store-query",
];

/// A hello test folder running the hostile package, one round, short budgets, with a
/// loopback listener that no step may reach (its port is `hostile_port`).
struct Hostile {
    dir: TestDir,
    bait: TcpListener,
}

impl Hostile {
    fn new(step: &str) -> Self {
        let dir = TestDir::example("hello", &component("hostile"));
        let bait = TcpListener::bind("127.0.0.1:0").expect("bind the bait listener");
        bait.set_nonblocking(true).expect("nonblocking");
        let port = bait.local_addr().expect("address").port();
        dir.set_config("max_rounds", 1.into());
        dir.set_config("hostile", step.into());
        dir.set_config("hostile_port", port.into());
        let limits = "step_timeout: 1\nmemory_mb: 32\noutput_max_kb: 16\n";
        dir.set_config("limits", serde_yaml::from_str(limits).expect("yaml"));
        Self { dir, bait }
    }

    /// Runs the package and checks what every hostile run must show: exit 1 with
    /// `message` in the failure line of `step`, no worker left, the state at the step
    /// before, and no connection made to the bait listener.
    fn run_fails_with(&self, step: &str, message: &str) -> RunOutput {
        let out = self.dir.run_steps(&["--reset"]);
        assert_eq!(out.code(), 1, "{out}");
        let failure = out
            .stdout
            .lines()
            .find(|l| l.contains(&format!("✗ {step} failed")))
            .unwrap_or_else(|| panic!("no failure line for {step}\n{out}"));
        assert!(failure.contains(message), "{failure}\n{out}");
        let pids = out.worker_pids();
        assert_eq!(pids.len(), 2, "{out}");
        for pid in pids {
            assert!(!is_alive(pid), "worker pid {pid} outlived the run\n{out}");
        }
        let index = STEPS
            .iter()
            .position(|s| *s == step)
            .expect("a hostile step");
        let state = self.dir.state();
        assert_eq!(state["current_round"], json!(1), "{state}");
        assert_eq!(
            state["last_completed_step"],
            json!(STEPS[index - 1]),
            "{state}"
        );
        assert!(
            self.bait.accept().is_err(),
            "a step connected to the bait listener\n{out}"
        );
        out
    }
}

#[test]
fn infinite_loop_in_prepare_hits_the_step_timeout() {
    let h = Hostile::new("loop-in-prepare");
    h.run_fails_with(
        "loop-in-prepare",
        "prepare trapped: exceeded the step time limit of 1s (raise limits.step_timeout",
    );
}

#[test]
fn infinite_loop_in_execute_hits_the_step_timeout() {
    let h = Hostile::new("loop-in-execute");
    h.run_fails_with(
        "loop-in-execute",
        "execute trapped: exceeded the step time limit of 1s",
    );
}

#[test]
fn waiting_in_a_host_call_counts_against_the_step_timeout() {
    let h = Hostile::new("sleep-in-execute");
    h.run_fails_with(
        "sleep-in-execute",
        "execute trapped: exceeded the step time limit of 1s",
    );
}

#[test]
fn fuel_stops_a_loop_deterministically() {
    let h = Hostile::new("loop-in-execute");
    let limits = "step_timeout: 60\nfuel: 5000000\n";
    h.dir
        .set_config("limits", serde_yaml::from_str(limits).expect("yaml"));
    h.run_fails_with(
        "loop-in-execute",
        "exceeded the fuel limit of 5000000 units (raise limits.fuel in config.yaml or pass --fuel)",
    );
}

#[test]
fn the_step_timeout_flag_overrides_config() {
    let h = Hostile::new("loop-in-execute");
    h.dir.set_config(
        "limits",
        serde_yaml::from_str("step_timeout: 600").expect("yaml"),
    );
    let out = h.dir.run_steps(&["--reset", "--step-timeout", "0.5"]);
    assert_eq!(out.code(), 1, "{out}");
    assert!(out.stdout.contains("step time limit of 500ms"), "{out}");
}

#[test]
fn unbounded_allocation_hits_the_memory_limit() {
    let h = Hostile::new("allocate-forever");
    h.run_fails_with(
        "allocate-forever",
        "exceeded the memory limit of 32 MiB (raise limits.memory_mb in config.yaml or pass --memory-mb)",
    );
}

#[test]
fn deep_recursion_overflows_the_stack_as_a_trap() {
    let h = Hostile::new("deep-recursion");
    h.run_fails_with("deep-recursion", "overflowed its call stack");
}

#[test]
fn a_loopback_port_that_is_no_worker_is_denied_before_connecting() {
    let h = Hostile::new("request-unknown-port");
    let port = h.bait.local_addr().expect("address").port();
    h.run_fails_with(
        "request-unknown-port",
        &format!(
            "denied: http://127.0.0.1:{port}/: http://127.0.0.1:{port} is not an allowed destination for this test; add `http://127.0.0.1:{port}` to allowed_hosts"
        ),
    );
}

#[test]
fn a_redirect_to_a_forbidden_origin_is_refused() {
    let h = Hostile::new("redirect-to-forbidden");
    let port = h.bait.local_addr().expect("address").port();
    let out = h.run_fails_with(
        "redirect-to-forbidden",
        &format!("denied: redirect refused: http://127.0.0.1:{port}/"),
    );
    // The worker answered the first request (it is allowed); only the hop was refused.
    assert!(out.stdout.contains("[worker1] GET /redirect?to="), "{out}");
}

#[test]
fn files_cannot_be_opened_listed_or_created() {
    let h = Hostile::new("open-file");
    let secret = h.dir.tests().join("secret.txt");
    std::fs::write(&secret, "the-secret-contents").expect("write secret");
    h.dir
        .set_config("hostile_path", secret.display().to_string().into());
    let out = h.run_fails_with(
        "open-file",
        &format!("filesystem denied: read {}:", secret.display()),
    );
    assert!(out.stdout.contains("list /:"), "{out}");
    assert!(out.stdout.contains("create hostile.txt:"), "{out}");
    assert!(!out.all().contains("the-secret-contents"), "{out}");
    assert!(!h.dir.tests().join("hostile.txt").exists());
}

#[test]
fn environment_variables_and_arguments_are_invisible() {
    let h = Hostile::new("read-env");
    let mut cmd = h.dir.command(&["run", "tests/steps.wasm", "--reset"]);
    cmd.env("HOSTILE_SECRET", "visible-to-the-runner-only");
    let out = system_tests::wait_output(cmd.spawn().expect("spawn"));
    assert_eq!(out.code(), 1, "{out}");
    assert!(
        out.stdout
            .contains("environment denied: no variable and no argument is visible"),
        "{out}"
    );
    assert!(!out.all().contains("visible-to-the-runner-only"), "{out}");
    // The shared checks, on a second run.
    h.run_fails_with("read-env", "environment denied");
}

#[test]
fn sockets_and_name_lookup_are_denied() {
    let h = Hostile::new("open-socket");
    let port = h.bait.local_addr().expect("address").port();
    let out = h.run_fails_with(
        "open-socket",
        &format!("sockets denied: connect 127.0.0.1:{port}:"),
    );
    assert!(out.stdout.contains("resolve localhost:"), "{out}");
}

#[test]
fn flooding_stdout_hits_the_output_limit() {
    let h = Hostile::new("flood-stdout");
    let out = h.run_fails_with(
        "flood-stdout",
        "exceeded the stdout/stderr limit of 16 KiB (raise limits.output_max_kb in config.yaml or pass --output-max-kb)",
    );
    // What fits the cap reaches the step log, no more.
    let shown = out.stdout.matches("[stdout] xxxx").count();
    assert!((1..=16).contains(&shown), "{shown} lines\n{out}");
}

#[test]
fn a_panic_is_a_step_failure_with_its_message_in_the_log() {
    let h = Hostile::new("panic");
    let out = h.run_fails_with("panic", "execute trapped: the step panicked");
    assert!(
        out.stdout.contains("hostile step panics on purpose"),
        "{out}"
    );
}

#[test]
fn a_component_importing_wasi_http_is_refused_before_workers_start() {
    let t = TestDir::hello();
    t.use_steps(&component("wasi_http_import"));
    let out = t.run_steps(&[]);
    assert_eq!(out.code(), 2, "{out}");
    assert!(
        out.stderr
            .contains("it imports what this runner does not provide: wasi:http/client@0.2.6"),
        "{out}"
    );
    assert!(out.stderr.contains("build without the others"), "{out}");
    assert!(out.worker_pids().is_empty(), "{out}");
}

#[test]
fn a_misspelt_budget_is_a_configuration_error() {
    let t = TestDir::hello();
    t.set_config(
        "limits",
        serde_yaml::from_str("memory_mib: 5").expect("yaml"),
    );
    let out = t.run_steps(&[]);
    assert_eq!(out.code(), 2, "{out}");
    assert!(out.stderr.contains("unknown field `memory_mib`"), "{out}");
    assert!(out.worker_pids().is_empty(), "{out}");
}
