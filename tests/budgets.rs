//! Budgets cover every guest call, in every command that loads a package: a manifest that
//! spins, sleeps in a host call, allocates or lists too much is refused within its budget
//! by `inspect`, `list`, `lock` and `run`, with a message naming the budget; SIGINT and
//! SIGTERM stop a command within about a second while guest code spins or the embedded
//! store works; trap messages put the cause first. Packages are
//! `tests/components/hostile-manifest` (one build; each test writes a copy with its
//! misbehaviour selected) and `tests/components/hostile`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use system_tests::{RunOutput, TestDir, component, is_alive};

/// The marker the hostile-manifest component keeps its mode in (then 16 bytes of mode).
const MARKER: &[u8] = b"MANIFEST-MODE:";
/// Generous bound on a command that must stop at a 1 s budget: detects a hang, not speed.
const QUICK: Duration = Duration::from_secs(20);
/// Bound on a command's exit after a signal (the goal is about a second).
const SIGNAL_BOUND: Duration = Duration::from_secs(10);

/// A copy of the hostile-manifest component in `dir` whose manifest does `mode`.
fn hostile_manifest(dir: &Path, mode: &str) -> PathBuf {
    let mut bytes = std::fs::read(component("hostile_manifest")).expect("read the component");
    let at = bytes
        .windows(MARKER.len())
        .position(|w| w == MARKER)
        .expect("the component holds its mode marker")
        + MARKER.len();
    assert!(mode.len() <= 16, "a mode is at most 16 bytes");
    let mut field = [0u8; 16];
    field[..mode.len()].copy_from_slice(mode.as_bytes());
    bytes[at..at + 16].copy_from_slice(&field);
    let path = dir.join(format!("manifest-{mode}.wasm"));
    std::fs::write(&path, bytes).expect("write the variant");
    path
}

/// A hello test folder whose step package is the hostile manifest in `mode`.
fn folder(mode: &str) -> TestDir {
    let scratch = tempfile::tempdir().expect("temp dir");
    let package = hostile_manifest(scratch.path(), mode);
    TestDir::example("hello", &package)
}

/// Runs `args` in `t` and checks it ends within [`QUICK`] with exit 2 and `message` on
/// stderr, without a panic of the host.
fn refused(t: &TestDir, args: &[&str], message: &str) -> RunOutput {
    let started = Instant::now();
    let out = t.run(args);
    let took = started.elapsed();
    assert_eq!(out.code(), 2, "{out}");
    assert!(took < QUICK, "took {took:?}\n{out}");
    assert!(out.stderr.contains(message), "{out}");
    // A host panic prints `thread … panicked at`; a guest panic is a trap message.
    assert!(!out.all().contains("panicked at"), "{out}");
    out
}

#[test]
fn the_variants_differ_only_in_their_manifest() {
    let t = folder("normal");
    let out = t.run(&["list", "tests/steps.wasm"]);
    assert_eq!(out.code(), 0, "{out}");
    assert!(out.stdout.contains("1. ok @ worker1"), "{out}");
}

#[test]
fn a_spinning_manifest_hits_the_step_timeout_under_inspect_and_list() {
    let t = folder("spin");
    let message = "manifest trapped: exceeded the step time limit of 1s (raise \
                   limits.step_timeout in config.yaml or pass --step-timeout)";
    refused(
        &t,
        &["inspect", "--step-timeout", "1", "tests/steps.wasm"],
        message,
    );
    refused(
        &t,
        &["list", "--step-timeout", "1", "tests/steps.wasm"],
        message,
    );
}

#[test]
fn a_manifest_sleeping_in_a_host_call_hits_the_step_timeout_under_inspect() {
    let t = folder("sleep");
    refused(
        &t,
        &["inspect", "--step-timeout", "1.5", "tests/steps.wasm"],
        "manifest trapped: exceeded the step time limit of 1500ms",
    );
}

#[test]
fn run_reads_the_manifest_under_the_configured_step_timeout() {
    for mode in ["spin", "sleep"] {
        let t = folder(mode);
        t.set_config(
            "limits",
            serde_yaml::from_str("step_timeout: 1").expect("yaml"),
        );
        let out = refused(
            &t,
            &["run", "tests/steps.wasm"],
            "manifest trapped: exceeded the step time limit of 1s",
        );
        // Refused while loading: no worker was started.
        assert!(out.worker_pids().is_empty(), "{mode}\n{out}");
    }
}

#[test]
fn the_flag_overrides_the_configured_step_timeout_for_the_manifest() {
    let t = folder("spin");
    t.set_config(
        "limits",
        serde_yaml::from_str("step_timeout: 600").expect("yaml"),
    );
    refused(
        &t,
        &["run", "--step-timeout", "0.5", "tests/steps.wasm"],
        "exceeded the step time limit of 500ms",
    );
}

#[test]
fn a_manifest_that_allocates_hits_the_memory_limit() {
    let t = folder("alloc");
    refused(
        &t,
        &["inspect", "--memory-mb", "16", "tests/steps.wasm"],
        "manifest trapped: exceeded the memory limit of 16 MiB (raise limits.memory_mb",
    );
    t.set_config(
        "limits",
        serde_yaml::from_str("memory_mb: 24").expect("yaml"),
    );
    refused(
        &t,
        &["run", "tests/steps.wasm"],
        "exceeded the memory limit of 24 MiB",
    );
}

#[test]
fn fuel_stops_a_spinning_manifest_deterministically() {
    let t = folder("spin");
    refused(
        &t,
        &["inspect", "--fuel", "5000000", "tests/steps.wasm"],
        "manifest trapped: exceeded the fuel limit of 5000000 units (raise limits.fuel",
    );
}

#[test]
fn lock_loads_the_plan_s_packages_under_the_budget_flags() {
    let t = folder("spin");
    t.write(
        "plan.yaml",
        "packages:\n  bad:\n    path: steps.wasm\nsteps:\n  - use: bad/ok\n",
    );
    refused(
        &t,
        &["lock", "--step-timeout", "1", "tests/plan.yaml"],
        "exceeded the step time limit of 1s",
    );
}

#[test]
fn a_huge_manifest_is_refused_quickly_naming_the_limit() {
    let t = folder("huge");
    let out = refused(
        &t,
        &["inspect", "tests/steps.wasm"],
        "bad manifest: it lists 150000 steps, more than the most a package may list (10000)",
    );
    assert!(out.stderr.contains("combine them in a plan"), "{out}");
    refused(&t, &["run", "tests/steps.wasm"], "it lists 150000 steps");
}

#[test]
fn a_duplicate_at_the_end_of_the_largest_manifest_is_found_quickly() {
    let t = folder("dupes");
    refused(
        &t,
        &["list", "tests/steps.wasm"],
        "bad manifest: step `d0` is listed twice",
    );
}

#[test]
fn a_65536_character_step_name_is_refused_without_a_panic() {
    let t = folder("longname");
    for args in [
        &["run", "tests/steps.wasm"][..],
        &["inspect", "tests/steps.wasm"][..],
    ] {
        refused(
            &t,
            args,
            "the name of step 1 (`nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn…`) is 65536 bytes long, \
             more than the most allowed (256 bytes)",
        );
    }
}

#[test]
fn trap_messages_put_the_cause_first_and_the_backtrace_behind_verbose() {
    let t = folder("exit");
    let out = refused(
        &t,
        &["inspect", "tests/steps.wasm"],
        "manifest trapped: the step exited with status 0 (a step returns its outcome instead of exiting)",
    );
    assert!(!out.stderr.contains("backtrace"), "{out}");
    let t = folder("panic");
    refused(
        &t,
        &["inspect", "tests/steps.wasm"],
        "manifest trapped: the step panicked (wasm `unreachable`)",
    );

    // A step that exits: the failure line starts with the cause; -v adds the backtrace
    // after it.
    let t = TestDir::example("hello", &component("hostile"));
    t.set_config("max_rounds", 1.into());
    t.set_config("hostile", "exit".into());
    let out = t.run_steps(&[]);
    assert_eq!(out.code(), 1, "{out}");
    let failure = out
        .stdout
        .lines()
        .find(|l| l.contains("✗ exit failed"))
        .unwrap_or_else(|| panic!("no failure line\n{out}"));
    assert!(
        failure.ends_with("execute trapped: the step exited with status 0 (a step returns its outcome instead of exiting)"),
        "{failure}\n{out}"
    );
    assert!(!out.stdout.contains("wasm backtrace"), "{out}");
    let out = t.run_steps(&["--reset", "-v"]);
    assert_eq!(out.code(), 1, "{out}");
    let lines: Vec<&str> = out.stdout.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.contains("✗ exit failed"))
        .unwrap_or_else(|| panic!("no failure line\n{out}"));
    assert!(
        lines[at + 1].contains("wasm backtrace"),
        "the backtrace follows the cause\n{out}"
    );
}

/// Spawns the runner with `args` in `t` and returns it with a channel of its stdout lines.
fn spawn(t: &TestDir, args: &[&str]) -> (std::process::Child, mpsc::Receiver<String>) {
    let mut child = t.command(args).spawn().expect("spawn the runner");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (child, rx)
}

/// Waits for a line containing `needle`, collecting worker pids on the way.
fn wait_for(rx: &mpsc::Receiver<String>, needle: &str, pids: &mut Vec<i32>) {
    let started = Instant::now();
    loop {
        let line = rx
            .recv_timeout(Duration::from_secs(60).saturating_sub(started.elapsed()))
            .unwrap_or_else(|_| panic!("no line with `{needle}`"));
        if let Some((_, rest)) = line.split_once("(pid ")
            && let Some(pid) = rest
                .split(|c: char| !c.is_ascii_digit())
                .next()
                .and_then(|n| n.parse().ok())
        {
            pids.push(pid);
        }
        if line.contains(needle) {
            return;
        }
    }
}

/// Sends `signal` to the runner and checks it exits with `code` within [`SIGNAL_BOUND`],
/// saying which signal it got, with no worker left.
fn stops_with(
    mut child: std::process::Child,
    rx: mpsc::Receiver<String>,
    signal: Signal,
    code: i32,
    pids: &[i32],
) {
    // Let the guest get well into its loop (or the store into its scan).
    std::thread::sleep(Duration::from_millis(500));
    let sent = Instant::now();
    kill(Pid::from_raw(child.id() as i32), signal).expect("signal the runner");
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        assert!(sent.elapsed() < Duration::from_secs(60), "the runner hangs");
        std::thread::sleep(Duration::from_millis(20));
    };
    let took = sent.elapsed();
    let mut stderr = String::new();
    if let Some(mut s) = child.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut s, &mut stderr);
    }
    // The reader thread ends at the end of stdout, which the exit closed.
    let mut stdout = Vec::new();
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(10)) {
        stdout.push(line);
    }
    let out = RunOutput {
        status,
        stdout: stdout.join("\n"),
        stderr,
    };
    assert_eq!(out.status.code(), Some(code), "{out}");
    assert!(took < SIGNAL_BOUND, "exit took {took:?}\n{out}");
    assert!(out.all().contains(signal.as_str()), "{out}");
    for pid in pids {
        assert!(!is_alive(*pid), "worker {pid} outlived the runner\n{out}");
    }
}

/// A hostile run on the hello workers with a long step timeout, spawned.
fn hostile_run(step: &str) -> (TestDir, std::process::Child, mpsc::Receiver<String>) {
    let t = TestDir::example("hello", &component("hostile"));
    t.set_config("max_rounds", 1.into());
    t.set_config("hostile", step.into());
    let (child, rx) = spawn(&t, &["run", "tests/steps.wasm", "--reset"]);
    (t, child, rx)
}

#[test]
fn sigint_stops_a_spinning_step_at_once_and_exits_130() {
    let (_t, child, rx) = hostile_run("loop-in-execute");
    let mut pids = Vec::new();
    wait_for(&rx, "] loop-in-execute", &mut pids);
    assert_eq!(pids.len(), 2, "both workers printed their pid");
    stops_with(child, rx, Signal::SIGINT, 130, &pids);
}

#[test]
fn sigterm_stops_a_spinning_step_at_once_and_exits_143() {
    let (_t, child, rx) = hostile_run("loop-in-prepare");
    let mut pids = Vec::new();
    wait_for(&rx, "] loop-in-prepare", &mut pids);
    stops_with(child, rx, Signal::SIGTERM, 143, &pids);
}

#[test]
fn signals_stop_a_long_embedded_store_call() {
    for (signal, code) in [(Signal::SIGINT, 130), (Signal::SIGTERM, 143)] {
        let (_t, child, rx) = hostile_run("slow-store-query");
        let mut pids = Vec::new();
        wait_for(&rx, "] slow-store-query", &mut pids);
        // The insert of 20 000 documents comes first; the count then scans for minutes.
        std::thread::sleep(Duration::from_secs(2));
        stops_with(child, rx, signal, code, &pids);
    }
}

#[test]
fn the_step_timeout_stops_a_long_embedded_store_call() {
    let t = TestDir::example("hello", &component("hostile"));
    t.set_config("max_rounds", 1.into());
    t.set_config("hostile", "slow-store-query".into());
    t.set_config(
        "limits",
        serde_yaml::from_str("step_timeout: 3").expect("yaml"),
    );
    let started = Instant::now();
    let out = t.run_steps(&["--reset"]);
    assert_eq!(out.code(), 1, "{out}");
    assert!(started.elapsed() < Duration::from_secs(30), "{out}");
    assert!(
        out.stdout
            .contains("execute trapped: exceeded the step time limit of 3s"),
        "{out}"
    );
}

#[test]
fn signals_stop_inspect_and_run_while_a_manifest_spins() {
    for (args, signal, code) in [
        (&["inspect", "tests/steps.wasm"][..], Signal::SIGINT, 130),
        (&["list", "tests/steps.wasm"][..], Signal::SIGTERM, 143),
        (&["run", "tests/steps.wasm"][..], Signal::SIGINT, 130),
        (&["run", "tests/steps.wasm"][..], Signal::SIGTERM, 143),
    ] {
        let t = folder("spin");
        let (child, rx) = spawn(&t, args);
        // Loading (compiling, then the manifest) is under way by then.
        std::thread::sleep(Duration::from_secs(1));
        stops_with(child, rx, signal, code, &[]);
    }
}

#[test]
fn sigint_stops_a_step_waiting_in_a_host_call() {
    let (_t, child, rx) = hostile_run("sleep-in-execute");
    let mut pids = Vec::new();
    wait_for(&rx, "] sleep-in-execute", &mut pids);
    stops_with(child, rx, Signal::SIGINT, 130, &pids);
}

/// Every command that loads packages, on the hello folder `t` (its package is
/// `tests/steps.wasm`; `lock` gets a plan of it).
fn loading_commands(t: &TestDir) -> Vec<Vec<&'static str>> {
    t.write(
        "plan.yaml",
        "packages:\n  bad:\n    path: steps.wasm\nsteps:\n  - use: bad/ok\n",
    );
    vec![
        vec!["inspect", "tests/steps.wasm"],
        vec!["list", "tests/steps.wasm"],
        vec!["lock", "tests/plan.yaml"],
        vec!["check", "tests"],
        vec!["run", "tests/steps.wasm"],
    ]
}

#[test]
fn a_manifest_sleeping_in_a_host_call_hits_the_step_timeout_in_every_command() {
    let t = folder("sleep");
    for command in loading_commands(&t) {
        let mut args = command.clone();
        args.insert(1, "--step-timeout");
        args.insert(2, "1");
        let out = refused(&t, &args, "exceeded the step time limit of 1s");
        assert!(out.worker_pids().is_empty(), "{command:?}\n{out}");
    }
}

#[test]
fn signals_stop_every_command_while_a_manifest_sleeps_in_a_host_call() {
    let t = folder("sleep");
    // Compiled once into the folder's cache: the signal then lands while the manifest
    // sleeps, not while the package compiles.
    refused(
        &t,
        &["list", "--step-timeout", "0.5", "tests/steps.wasm"],
        "exceeded the step time limit",
    );
    for command in loading_commands(&t) {
        for (signal, code) in [(Signal::SIGINT, 130), (Signal::SIGTERM, 143)] {
            let (child, rx) = spawn(&t, &command);
            // stops_with lets the command get into the manifest's sleep first.
            stops_with(child, rx, signal, code, &[]);
        }
    }
}

#[test]
fn metadata_refuses_a_fifo_and_stops_on_signals_while_cargo_metadata_hangs() {
    let t = folder("normal");
    let fifo = t.tests().join("fifo.wasm");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).expect("mkfifo");
    let out = refused(
        &t,
        &["metadata", "tests/fifo.wasm"],
        "is a FIFO, not a regular file",
    );
    assert!(out.stdout.is_empty(), "{out}");

    // A `cargo` that never answers: the signal ends the command, and cargo with it.
    let slow = t.tests().join("slow-cargo");
    std::fs::write(&slow, "#!/bin/sh\nexec sleep 600\n").expect("write the script");
    std::fs::set_permissions(&slow, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    t.write("Cargo.toml", "[package]\nname = \"x\"\n");
    for (signal, code) in [(Signal::SIGINT, 130), (Signal::SIGTERM, 143)] {
        let mut command = t.command(&[
            "metadata",
            "--cargo",
            "tests/Cargo.toml",
            "tests/steps.wasm",
        ]);
        command.env("CARGO", &slow);
        let mut child = command.spawn().expect("spawn the runner");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        stops_with(child, rx, signal, code, &[]);
    }
}
