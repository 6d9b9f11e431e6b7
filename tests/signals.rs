//! SIGINT, SIGTERM and SIGKILL to the runner leave no worker process alive, the reports
//! say the run was stopped, and the next run resumes.

use std::io::{BufRead, BufReader};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use system_tests::{TestDir, exit, is_alive};

/// Long enough that the run is surely inside `check-health` when the signal arrives.
const PAUSE_MS: u64 = 60_000;
/// Upper bound for waiting on an event in these tests (not a timing assertion).
const PATIENCE: Duration = Duration::from_secs(60);

/// Starts a run that pauses in its first step, waits until it does, and returns the
/// runner's child process, the worker pids seen so far and the rest of stdout's lines.
fn start_paused(t: &TestDir) -> (std::process::Child, Vec<i32>, mpsc::Receiver<String>) {
    t.set_config("pause_ms", PAUSE_MS.into());
    let mut child = t
        .command(&["run", "tests/steps.wasm", "--json", "reports/run.json"])
        .spawn()
        .expect("spawn runner");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut pids = Vec::new();
    let started = Instant::now();
    loop {
        let line = rx
            .recv_timeout(PATIENCE.saturating_sub(started.elapsed()))
            .expect("the run reaches the paused step");
        if let Some((_, rest)) = line.split_once("(pid ") {
            pids.push(
                rest.split(|c: char| !c.is_ascii_digit())
                    .next()
                    .unwrap()
                    .parse()
                    .unwrap(),
            );
        }
        if line.contains("pausing") {
            break;
        }
    }
    assert_eq!(pids.len(), 2, "both workers printed their pid");
    (child, pids, rx)
}

fn wait_exit(child: &mut std::process::Child) -> std::process::ExitStatus {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status;
        }
        assert!(
            started.elapsed() < PATIENCE,
            "the runner did not exit after the signal"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn stop_with(signal: Signal, expected_code: u8) {
    let t = TestDir::hello();
    let (mut child, pids, rx) = start_paused(&t);
    kill(Pid::from_raw(child.id() as i32), signal).expect("signal the runner");
    let status = wait_exit(&mut child);
    // Read to the end of the runner's stdout (the reader thread then drops its sender),
    // so no line written just before the exit is missed.
    let mut rest = Vec::new();
    while let Ok(line) = rx.recv_timeout(PATIENCE) {
        rest.push(line);
    }
    assert_eq!(status.code(), Some(i32::from(expected_code)), "{rest:#?}");
    for pid in &pids {
        assert!(!is_alive(*pid), "worker {pid} outlived the runner");
    }
    assert!(
        rest.iter().any(|l| l.contains(signal.as_str())),
        "{rest:#?}"
    );
    // A cancelled CI job still gets its reports, which say why the steps did not run.
    let report = t.tests().join("../reports/run.json");
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).expect("the JSON report"))
            .expect("JSON");
    assert_eq!(doc["outcome"], "interrupted", "{doc}");
    assert_eq!(doc["interrupted"], signal.as_str(), "{doc}");
    assert_eq!(
        doc["cases"][0]["reason"],
        format!(
            "not reached: the run was stopped by {} before any step ended",
            signal.as_str()
        ),
        "{doc}"
    );
    // The interrupted step did not complete; the next run resumes and finishes.
    assert_eq!(t.state()["last_completed_step"], serde_json::Value::Null);
    t.remove_config("pause_ms");
    let out = t.run_steps(&[]);
    assert_eq!(out.code(), exit::OK, "{out}");
    assert_eq!(out.started_steps().len(), 10, "{out}");
}

#[test]
fn sigint_stops_the_workers_and_exits_130() {
    stop_with(Signal::SIGINT, exit::INTERRUPTED);
}

#[test]
fn sigterm_stops_the_workers_and_exits_143() {
    stop_with(Signal::SIGTERM, exit::TERMINATED);
}

#[test]
fn sigkill_of_the_runner_still_kills_the_workers() {
    let t = TestDir::hello();
    let (mut child, pids, _rx) = start_paused(&t);
    child.kill().expect("SIGKILL the runner");
    let _ = child.wait();
    // The kernel delivers the parent-death signal right away; allow for scheduling.
    let started = Instant::now();
    while pids.iter().any(|p| is_alive(*p)) {
        assert!(
            started.elapsed() < PATIENCE,
            "workers {pids:?} survived a SIGKILLed runner"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
