//! Faults on purpose (`faults:` in config.yaml) on the hello example's real worker
//! processes: kill, stop, pause, resume, start and restart observed through pids, the
//! worker's saved data and its answers; a fault is not a death that fails the run; every
//! applied fault shows in the terminal and the reports; bad schedules are refused before
//! anything starts.

use std::path::Path;

use system_tests::{RunOutput, TestDir, exit, is_alive};

/// The hello test with `faults` (YAML) as its schedule.
fn hello_with_faults(faults: &str) -> TestDir {
    let dir = TestDir::hello();
    let faults: serde_yaml::Value = serde_yaml::from_str(faults).expect("faults yaml");
    dir.set_config("faults", faults);
    dir
}

/// `(pid, saved greetings)` of every `listening on` line of `worker`, in order.
fn starts_of(out: &RunOutput, worker: &str) -> Vec<(i32, u32)> {
    let prefix = format!("[{worker}] hello-worker {worker} listening on ");
    out.stdout
        .lines()
        .filter_map(|l| l.strip_prefix(&prefix))
        .filter_map(|rest| rest.split_once("(pid ").map(|(_, r)| r))
        .map(|rest| {
            let (pid, rest) = rest.split_once(", ").expect("pid, count");
            let saved = rest.split_whitespace().next().expect("count");
            (
                pid.parse().expect("pid"),
                saved.parse().expect("saved greetings"),
            )
        })
        .collect()
}

/// The fault lines of the terminal output.
fn fault_lines(out: &RunOutput) -> Vec<&str> {
    out.stdout
        .lines()
        .filter(|l| l.trim_start().starts_with("⚡ fault"))
        .collect()
}

/// The pid in `… (pid N)` or `… (pid A → B)` at the end of a fault line: the last number.
fn pids_in(line: &str) -> Vec<i32> {
    line.split(|c: char| !c.is_ascii_digit())
        .filter_map(|n| n.parse().ok())
        .collect()
}

/// Asserts that the run's two fault lines killed `worker2` (when `killed_at`, e.g.
/// `after check-health`) and then started it again (`started_at`) as a new process, that
/// the killed process is gone and that the kill was not reported as a death. Returns the
/// two pids.
fn assert_worker2_replaced(out: &RunOutput, killed_at: &str, started_at: &str) -> (i32, i32) {
    let faults = fault_lines(out);
    assert_eq!(faults.len(), 2, "{out}");
    assert!(
        faults[0].contains(&format!("({killed_at}): killed worker2 (pid")),
        "{out}"
    );
    assert!(
        faults[1].contains(&format!("({started_at}): started worker2 (pid")),
        "{out}"
    );
    let killed = *pids_in(faults[0]).last().expect("killed pid");
    let started = *pids_in(faults[1]).last().expect("started pid");
    let starts = starts_of(out, "worker2");
    assert_eq!(starts.len(), 2, "worker2 started twice: {out}");
    assert_eq!(starts[0].0, killed, "the first process was killed: {out}");
    assert_eq!(starts[1].0, started, "the second is the one started: {out}");
    assert_ne!(killed, started, "a new process: {out}");
    assert!(!is_alive(killed), "the killed pid {killed} is gone");
    assert!(
        !out.all().contains("exited during the run"),
        "a kill on purpose is not reported as a death: {out}"
    );
    (killed, started)
}

#[test]
fn killed_worker_is_gone_and_started_again_with_a_new_pid_without_failing_the_run() {
    // worker2 is killed after round 2's health check and started again before its audit:
    // the run passes although a worker died, because the test killed it.
    let dir = hello_with_faults(
        "- at: {round: 2, after: check-health}\n  kill: worker2\n\
         - at: {round: 2, before: audit-greeting}\n  start: worker2\n",
    );
    let out = dir.run_steps(&[]);
    assert_eq!(out.code(), 0, "{out}");
    let (_, started) = assert_worker2_replaced(&out, "after check-health", "before audit-greeting");
    assert!(!is_alive(started), "the run stopped the new process too");
}

#[test]
fn restart_keeps_the_workers_data() {
    // worker1 restarts right after it saved round 1's greeting; worker2's audit then reads
    // the greeting back from the new process, which found it in its data dir.
    let dir = hello_with_faults("- at: {round: 1, after: submit-greeting}\n  restart: worker1\n");
    let out = dir.run_steps(&[]);
    assert_eq!(out.code(), 0, "{out}");
    let starts = starts_of(&out, "worker1");
    assert_eq!(starts.len(), 2, "worker1 started twice: {out}");
    assert_eq!(starts[0].1, 0, "a fresh run starts with no greeting: {out}");
    assert_eq!(
        starts[1].1, 1,
        "the restarted worker kept round 1's greeting: {out}"
    );
    assert_ne!(starts[0].0, starts[1].0, "{out}");
    assert!(!is_alive(starts[0].0), "the old process is gone");
    let faults = fault_lines(&out);
    assert_eq!(faults.len(), 1, "{out}");
    assert!(
        faults[0].contains(&format!(
            "restarted worker1 (pid {} → {})",
            starts[0].0, starts[1].0
        )),
        "{out}"
    );
}

#[test]
fn paused_worker_answers_nothing_until_resumed() {
    // Paused during audit-greeting, worker1 holds the request: the step times out.
    let dir = hello_with_faults("- at: {round: 1, before: audit-greeting}\n  pause: worker1\n");
    dir.set_config(
        "limits",
        serde_yaml::from_str("{http_timeout: 1}").expect("yaml"),
    );
    let out = dir.run_steps(&[]);
    assert_eq!(out.code(), 1, "{out}");
    assert!(out.stdout.contains("paused worker1 (pid"), "{out}");
    assert!(
        out.stdout.contains("audit-greeting failed"),
        "the paused worker did not answer: {out}"
    );
    assert!(
        !out.all().contains("died"),
        "a paused worker is not dead: {out}"
    );

    // Paused after the greeting is saved, resumed before the audit: it answers again.
    let dir = hello_with_faults(
        "- at: {round: 1, after: submit-greeting}\n  pause: worker1\n\
         - at: {round: 1, before: audit-greeting}\n  resume: worker1\n",
    );
    dir.set_config(
        "limits",
        serde_yaml::from_str("{http_timeout: 5}").expect("yaml"),
    );
    let out = dir.run_steps(&[]);
    assert_eq!(out.code(), 0, "{out}");
    let faults = fault_lines(&out);
    assert!(faults[0].contains("paused worker1"), "{out}");
    assert!(faults[1].contains("resumed worker1"), "{out}");
}

#[test]
fn stopped_worker_fails_the_step_that_needs_it_but_is_no_death() {
    // Stopped (SIGTERM) before round 1's audit and never started again: the audit cannot
    // reach it and fails with its own error, not as a worker death.
    let dir = hello_with_faults("- at: {round: 1, before: audit-greeting}\n  stop: worker1\n");
    let out = dir.run_steps(&[]);
    assert_eq!(out.code(), 1, "{out}");
    let faults = fault_lines(&out);
    assert_eq!(faults.len(), 1, "{out}");
    let stopped = *pids_in(faults[0]).last().expect("pid");
    assert!(faults[0].contains("stopped worker1"), "{out}");
    assert!(!is_alive(stopped), "the stopped pid {stopped} is gone");
    assert!(out.stdout.contains("audit-greeting failed"), "{out}");
    assert!(
        !out.all().contains("died during this step"),
        "a stop on purpose is not a death: {out}"
    );
}

#[test]
fn faults_show_in_every_report() {
    let dir = hello_with_faults("- at: {round: 1}\n  restart: worker2\n");
    let reports = dir.tests().join("reports");
    let json = reports.join("run.json");
    let junit = reports.join("junit.xml");
    let html = reports.join("run.html");
    std::fs::create_dir_all(&reports).expect("reports dir");
    let out = dir.run_steps(&[
        "--json",
        json.to_str().expect("utf-8"),
        "--junit",
        junit.to_str().expect("utf-8"),
        "--html",
        html.to_str().expect("utf-8"),
        "--record",
        "all",
    ]);
    assert_eq!(out.code(), 0, "{out}");
    assert!(
        out.stdout
            .contains("⚡ fault (round start): restarted worker2 (pid"),
        "{out}"
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("json report")).expect("json");
    let text = report.to_string();
    assert!(text.contains("\"when\":\"round start\""), "{text}");
    assert!(text.contains("restarted worker2 (pid"), "{text}");
    let junit = std::fs::read_to_string(&junit).expect("junit");
    assert!(
        junit.contains("[fault] (round start) restarted worker2 (pid"),
        "{junit}"
    );
    let html = std::fs::read_to_string(&html).expect("html");
    assert!(html.contains("class=\"fault\""), "timeline marker");
    assert!(
        html.contains("round start: restarted worker2"),
        "marker title"
    );
    let recording =
        std::fs::read_to_string(dir.tests().join("data/recording.jsonl")).expect("recording");
    assert!(
        recording.contains("round start: restarted worker2 (pid"),
        "the first step's recording names the fault"
    );
}

fn refused(dir: &TestDir) -> RunOutput {
    let out = dir.run_steps(&[]);
    assert_eq!(out.code(), 2, "{out}");
    assert!(
        !out.stdout.contains("listening on"),
        "refused before any worker starts: {out}"
    );
    assert!(
        !Path::new(&dir.tests().join("data/test_state.json")).exists(),
        "nothing written"
    );
    out
}

#[test]
fn bad_schedules_are_refused_before_anything_starts() {
    let out = refused(&hello_with_faults("- at: {round: 1}\n  kill: worker3\n"));
    assert!(
        out.stderr.contains(
            "invalid `faults[0].kill`: no worker `worker3` in workers.json; did you mean `worker1`?"
        ),
        "{out}"
    );
    let out = refused(&hello_with_faults(
        "- at: {round: 1, after: sumary}\n  kill: worker1\n",
    ));
    assert!(
        out.stderr
            .contains("no step `sumary` in round 1 of the package; did you mean `summary`?"),
        "{out}"
    );
    let out = refused(&hello_with_faults("- at: {round: 1}\n  start: worker1\n"));
    assert!(
        out.stderr.contains(
            "worker `worker1` is running at round 1 at the round's start: cannot start it"
        ),
        "{out}"
    );
    let out = refused(&hello_with_faults("- at: {round: 3}\n  kill: worker1\n"));
    assert!(
        out.stderr
            .contains("round 3 is never reached: the test has 2 round(s)"),
        "{out}"
    );
    let out = refused(&hello_with_faults(
        "- at: {round: 1}\n  network: {worker: worker1, latency_ms: 10, jitter_ms: 20}\n",
    ));
    assert!(out.stderr.contains("faults[0].network.jitter_ms"), "{out}");

    // An external worker's process belongs to somebody else.
    let dir = hello_with_faults("- at: {round: 1}\n  kill: worker2\n");
    let mut workers = dir.workers_json();
    workers["worker2"] = serde_json::json!({"external": true, "url": "http://127.0.0.1:9"});
    dir.write_workers_json(&workers);
    let out = refused(&dir);
    assert!(
        out.stderr
            .contains("worker `worker2` is external: the runner does not own its process, so it cannot kill it"),
        "{out}"
    );
}

/// A worker that answers `/health` after fetching worker1's `/health` through the address
/// the runner gave it (`PROMETHEUS_WORKER_WORKER1_URL`), and prints how long that took.
const RELAY_WORKER: &str = r#"
import json, os, sys, time, urllib.request
from http.server import BaseHTTPRequestHandler, HTTPServer

class Relay(BaseHTTPRequestHandler):
    def do_GET(self):
        upstream = os.environ.get("PROMETHEUS_WORKER_WORKER1_URL", "")
        started = time.monotonic()
        with urllib.request.urlopen(upstream + "/health", timeout=10) as answer:
            answer.read()
        elapsed = int((time.monotonic() - started) * 1000)
        print(f"relay: worker1 via {upstream} answered in {elapsed} ms", flush=True)
        body = json.dumps({"worker": "relay"}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

HTTPServer(("127.0.0.1", int(os.environ["PORT"])), Relay).serve_forever()
"#;

/// Milliseconds of each HTTP call the JSON report lists for `step` in `round` whose summary
/// contains `needle`.
fn call_durations(report: &serde_json::Value, round: u64, step: &str, needle: &str) -> Vec<f64> {
    let cases = report["cases"].as_array().expect("cases");
    cases
        .iter()
        .filter(|c| c["round"] == round && c["step"] == step)
        .flat_map(|c| c["attempts"].as_array().expect("attempts").iter())
        .flat_map(|a| a["calls"].as_array().expect("calls").iter())
        .filter(|call| call["summary"].as_str().is_some_and(|s| s.contains(needle)))
        .map(|call| call["duration_ms"].as_f64().expect("duration"))
        .collect()
}

#[test]
fn latency_delays_steps_and_worker_to_worker_traffic_through_the_proxy() {
    let dir = hello_with_faults(
        "- at: {round: 1, before: check-health}\n  network: {worker: worker1, latency_ms: 300}\n  for: step\n",
    );
    dir.set_config("base_port", system_tests::free_ports(3).into());
    dir.write("relay.py", RELAY_WORKER);
    let mut workers = dir.workers_json();
    workers["relay"] = serde_json::json!({"command": ["python3", "relay.py"]});
    dir.write_workers_json(&workers);
    let json = dir.tests().join("run.json");
    let out = dir.run_steps(&["--json", json.to_str().expect("utf-8"), "--seed", "7"]);
    assert_eq!(out.code(), 0, "{out}");
    assert!(
        out.stdout.contains("seed 7 (--seed 7 repeats them)"),
        "{out}"
    );
    let proxy_port: u16 = out
        .stdout
        .split("proxies: worker1 localhost:")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("the banner names worker1's proxy: {out}"));
    assert!(
        out.stdout.contains(
            "(before check-health): network worker1: latency 300 ms, until the step ends"
        ),
        "{out}"
    );
    assert!(
        out.stdout
            .contains("(ended check-health): network worker1: restored"),
        "{out}"
    );

    // The step's request to worker1 went through the proxy and waited the latency.
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("json report")).expect("json");
    let through_proxy = format!("localhost:{proxy_port}/health");
    let delayed = call_durations(&report, 1, "check-health", &through_proxy);
    assert_eq!(
        delayed.len(),
        1,
        "one call to worker1 through its proxy: {report}"
    );
    assert!(delayed[0] >= 300.0, "delayed by the latency: {delayed:?}");

    // The relay worker reached worker1 through the proxy too: its own measure, in round 1
    // (during the fault) at least the latency.
    let relayed: Vec<u64> = out
        .stdout
        .lines()
        .filter_map(|l| l.split_once("[relay] relay: worker1 via "))
        .map(|(_, rest)| {
            assert!(
                rest.starts_with(&format!("http://localhost:{proxy_port} ")),
                "the relay got the proxy's address: {rest}"
            );
            rest.split("answered in ")
                .nth(1)
                .and_then(|r| r.split_whitespace().next())
                .and_then(|n| n.parse().ok())
                .expect("elapsed ms")
        })
        .collect();
    assert_eq!(
        relayed.len(),
        2,
        "one relay per round's health check: {out}"
    );
    assert!(
        relayed[0] >= 300,
        "worker-to-worker traffic delayed: {relayed:?}"
    );
}

#[test]
fn resets_and_error_statuses_fail_the_step_that_meets_them() {
    let dir = hello_with_faults(
        "- at: {round: 1, before: submit-greeting}\n  network: {worker: worker1, reset_rate: 1.0}\n",
    );
    let out = dir.run_steps(&[]);
    assert_eq!(out.code(), 1, "{out}");
    assert!(
        out.stdout
            .contains("network worker1: reset 100% of connections, until the round ends"),
        "{out}"
    );
    assert!(out.stdout.contains("submit-greeting failed"), "{out}");
    assert!(
        !out.stdout.contains("[worker1] POST /greetings"),
        "the reset request never reached the worker: {out}"
    );

    let dir = hello_with_faults(
        "- at: {round: 1, before: submit-greeting}\n  network: {worker: worker1, http_error: {status: 503, rate: 1.0}}\n",
    );
    let out = dir.run_steps(&[]);
    assert_eq!(out.code(), 1, "{out}");
    assert!(out.stdout.contains("submit-greeting failed"), "{out}");
    assert!(out.all().contains("503"), "the injected status: {out}");
    assert!(
        !out.stdout.contains("[worker1] POST /greetings"),
        "answered by the proxy, not the worker: {out}"
    );

    // A hung link: accepted, never answered; the step's request times out.
    let dir = hello_with_faults(
        "- at: {round: 1, before: submit-greeting}\n  network: {worker: worker1, hang: true}\n",
    );
    dir.set_config(
        "limits",
        serde_yaml::from_str("{http_timeout: 1}").expect("yaml"),
    );
    let out = dir.run_steps(&[]);
    assert_eq!(out.code(), 1, "{out}");
    assert!(out.stdout.contains("hang every connection"), "{out}");
    assert!(out.stdout.contains("submit-greeting failed"), "{out}");
    assert!(
        out.all().contains("timeout"),
        "the request timed out: {out}"
    );
    assert!(
        !out.stdout.contains("[worker1] POST /greetings"),
        "the hung request never reached the worker: {out}"
    );
}

#[test]
fn a_step_failed_by_a_fault_replays_to_the_same_failure_offline() {
    let dir = hello_with_faults(
        "- at: {round: 1, before: submit-greeting}\n  network: {worker: worker1, http_error: {status: 503, rate: 1.0}}\n",
    );
    let out = dir.run_steps(&["--seed", "11"]);
    assert_eq!(out.code(), 1, "{out}");
    let recording = dir.tests().join("data/recording.jsonl");
    let text = std::fs::read_to_string(&recording).expect("the failed step is recorded");
    assert!(text.contains("\"fault_seed\":11"), "{text}");
    // The workers are gone: the replay is answered from the recording alone.
    let replay = dir.run(&[
        "replay",
        recording.to_str().expect("utf-8"),
        "--step",
        "submit-greeting",
        "--round",
        "1",
    ]);
    assert_eq!(replay.code(), 1, "{replay}");
    assert!(
        replay
            .stdout
            .contains("recorded under the test's faults (network seed 11):"),
        "{replay}"
    );
    assert!(
        replay.stdout.contains(
            "before: network worker1: HTTP 503 for 100% of requests, until the round ends"
        ),
        "{replay}"
    );
    assert!(
        replay.stdout.contains("the same failure as recorded"),
        "{replay}"
    );
    assert!(replay.stdout.contains("503"), "{replay}");
}

/// The hello test running the `step-faults` component (one step that kills worker2 and
/// starts it again), for one round; `grant` sets `faults_from_steps: true`.
fn step_faults_test(grant: bool) -> TestDir {
    granting(
        TestDir::example("hello", &system_tests::component("step_faults")),
        grant,
    )
}

/// `dir` set to one round, with `faults_from_steps: true` when `grant`.
fn granting(dir: TestDir, grant: bool) -> TestDir {
    dir.set_config("max_rounds", serde_yaml::Value::Number(1.into()));
    if grant {
        dir.set_config("faults_from_steps", serde_yaml::Value::Bool(true));
    }
    dir
}

#[test]
fn a_granted_step_kills_and_starts_a_worker_with_a_new_pid() {
    let dir = step_faults_test(true);
    let out = dir.run_steps(&[]);
    assert_eq!(out.code(), 0, "{out}");
    assert_worker2_replaced(&out, "from step kill-and-start", "from step kill-and-start");
}

#[test]
fn a_step_without_the_grant_fails_naming_the_config_key() {
    let dir = step_faults_test(false);
    let out = dir.run_steps(&[]);
    assert_eq!(out.code(), 1, "{out}");
    assert!(out.stdout.contains("kill-and-start failed"), "{out}");
    assert!(
        out.all()
            .contains("set `faults_from_steps: true` in config.yaml"),
        "the error names the key that grants faults: {out}"
    );
    assert!(fault_lines(&out).is_empty(), "nothing applied: {out}");
    assert_eq!(
        starts_of(&out, "worker2").len(),
        1,
        "worker2 was not touched: {out}"
    );
}

#[test]
fn inspect_lists_the_faults_capability_only_for_a_package_that_calls_it() {
    let dir = step_faults_test(false);
    let imports = |name: &str| {
        let package = system_tests::component(name);
        let out = dir.run(&["inspect", "--json", package.to_str().expect("utf-8 path")]);
        assert_eq!(out.code(), 0, "{out}");
        let doc: serde_json::Value = serde_json::from_str(&out.stdout).expect("JSON report");
        doc["imports"].as_array().expect("imports").clone()
    };
    let faults = imports("step_faults")
        .into_iter()
        .find(|i| i["name"] == "prometheus:step/faults@0.1.0")
        .expect("the faults import");
    assert_eq!(faults["provided"], true, "{faults}");
    assert!(
        faults["grants"]
            .as_str()
            .is_some_and(|g| g.contains("faults_from_steps: true")),
        "{faults}"
    );
    assert!(
        !imports("hello_steps")
            .iter()
            .any(|i| i["name"] == "prometheus:step/faults@0.1.0"),
        "a package that never calls faults does not import it"
    );
}

/// `replay` of round 1's `kill-and-start` from the recording of `dir`'s run.
fn replay_kill_and_start(dir: &TestDir) -> RunOutput {
    let recording = dir.tests().join("data/recording.jsonl");
    dir.run(&[
        "replay",
        recording.to_str().expect("utf-8"),
        "--step",
        "kill-and-start",
        "--round",
        "1",
    ])
}

#[test]
fn a_step_that_applied_faults_replays_offline_and_so_does_a_missing_grant() {
    // Granted and recorded: the replay answers kill and start from the recording, with
    // no worker left to touch, and the step passes as it did.
    let dir = step_faults_test(true);
    let out = dir.run_steps(&["--record", "all"]);
    assert_eq!(out.code(), 0, "{out}");
    let replay = replay_kill_and_start(&dir);
    assert_eq!(replay.code(), 0, "{replay}");
    assert!(replay.stdout.contains("✓ kill-and-start"), "{replay}");
    assert!(fault_lines(&replay).is_empty(), "nothing applied: {replay}");

    // Not granted: the failed step is recorded, and its replay fails the same way.
    let dir = step_faults_test(false);
    let out = dir.run_steps(&[]);
    assert_eq!(out.code(), 1, "{out}");
    let replay = replay_kill_and_start(&dir);
    assert_eq!(replay.code(), 1, "{replay}");
    assert!(
        replay.stdout.contains("the same failure as recorded"),
        "{replay}"
    );
    assert!(replay.stdout.contains("faults_from_steps"), "{replay}");
}

/// Bytes of padding in the bulky worker's `/health` answer.
const BULKY_PAD_BYTES: usize = 32 * 1024;

/// A worker whose `/health` answer carries [`BULKY_PAD_BYTES`] of padding (argv[1]) beside
/// its name, so that its size is known.
const BULKY_WORKER: &str = r#"
import json, os, sys
from http.server import BaseHTTPRequestHandler, HTTPServer

BODY = json.dumps({"worker": "bulky", "pad": "x" * int(sys.argv[1])}).encode()

class Bulky(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, *args):
        pass

HTTPServer(("127.0.0.1", int(os.environ["PORT"])), Bulky).serve_forever()
"#;

#[test]
fn bandwidth_holds_a_known_size_answer_at_least_size_over_bandwidth() {
    // 32 KiB at 16 KiB/s: the answer cannot arrive in less than 2 s through the proxy.
    let kbps = 16;
    let dir = hello_with_faults(&format!(
        "- at: {{round: 1, before: check-health}}\n  network: {{worker: bulky, bandwidth_kbps: {kbps}}}\n  for: step\n"
    ));
    dir.set_config("base_port", system_tests::free_ports(3).into());
    dir.write("bulky.py", BULKY_WORKER);
    let mut workers = dir.workers_json();
    workers["bulky"] = serde_json::json!({
        "command": ["python3", "bulky.py", BULKY_PAD_BYTES.to_string()]
    });
    dir.write_workers_json(&workers);
    let json = dir.tests().join("run.json");
    let out = dir.run_steps(&["--json", json.to_str().expect("utf-8")]);
    assert_eq!(out.code(), 0, "{out}");
    assert!(
        out.stdout.contains(&format!(
            "(before check-health): network bulky: bandwidth {kbps} KiB/s, until the step ends"
        )),
        "{out}"
    );
    let proxy_port: u16 = out
        .stdout
        .split("proxies: bulky localhost:")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("the banner names bulky's proxy: {out}"));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("json report")).expect("json");
    let through_proxy = format!("localhost:{proxy_port}/health");
    let limited = call_durations(&report, 1, "check-health", &through_proxy);
    assert_eq!(
        limited.len(),
        1,
        "one call to bulky through its proxy: {report}"
    );
    // A lower bound only: the body alone is BULKY_PAD_BYTES, and the proxy passes at most
    // `kbps` KiB each second.
    let floor_ms = BULKY_PAD_BYTES as f64 * 1000.0 / (kbps as f64 * 1024.0);
    assert!(
        limited[0] >= floor_ms,
        "{} bytes at {kbps} KiB/s took {} ms, less than {floor_ms} ms",
        BULKY_PAD_BYTES,
        limited[0]
    );
}

/// With the rounds counted in `rounds_collection`, a fault past the last round cannot be
/// refused before the data is seeded: the run goes on and says it will not be applied.
#[test]
fn a_fault_past_the_rounds_counted_in_the_database_is_named_not_silently_skipped() {
    let dir = TestDir::example("todos", &system_tests::component("todos_steps"));
    let faults: serde_yaml::Value = serde_yaml::from_str(
        "- at: {round: 1}\n  restart: worker1\n- at: {round: 99}\n  kill: worker2\n",
    )
    .expect("faults yaml");
    dir.set_config("faults", faults);
    let out = dir.run_steps(&[]);
    assert_eq!(out.code(), exit::OK, "{out}");
    assert!(
        out.all().contains(
            "config.yaml: faults[1] is in round 99, which this run never reaches (the test has 4 \
             round(s), counted in rounds_collection): it will not be applied"
        ),
        "{out}"
    );
    assert!(!out.all().contains("faults[0] is in round"), "{out}");
    assert_eq!(fault_lines(&out).len(), 1, "{out}");
}

/// A granted step answers worker2 with HTTP 503 through its proxy (`network`), sees it,
/// ends the fault (`clear`) and sees worker2 answer again: the step fails otherwise.
#[test]
fn a_granted_step_sets_a_network_fault_and_clears_it() {
    let dir = step_faults_test(true);
    dir.set_config("network_probe", serde_yaml::Value::Bool(true));
    let out = dir.run_steps(&["--step", "error-then-clear"]);
    assert_eq!(out.code(), exit::OK, "{out}");
    let lines = fault_lines(&out);
    assert_eq!(lines.len(), 2, "{out}");
    assert!(
        lines[0].contains("from step error-then-clear") && lines[0].contains("503"),
        "{out}"
    );
    assert!(
        lines[1].contains("from step error-then-clear") && lines[1].contains("worker2"),
        "{out}"
    );
}

/// The Python and JavaScript faults packages (`tests/polyglot-steps/faults-{python,js}`,
/// built against `steps-with-faults` with `prometheus_faults` / `prometheus-faults.js`):
/// the same steps as the Rust `step_faults`, each language's compiled code cached once per
/// test binary.
const POLYGLOT_FAULTS: [&str; 2] = ["faults_python", "faults_js"];

fn polyglot_faults_test(package: &str, grant: bool) -> TestDir {
    granting(
        TestDir::example("hello", &system_tests::polyglot_component(package))
            .with_cache_dir(system_tests::fresh_shared_cache(package)),
        grant,
    )
}

#[test]
fn python_and_js_steps_kill_and_start_a_worker_with_a_new_pid() {
    for package in POLYGLOT_FAULTS {
        let dir = polyglot_faults_test(package, true);
        // The step first asks to kill a worker that does not exist and fails unless that
        // raised the helper's FaultError.
        let out = dir.run_steps(&["--step", "kill-and-start"]);
        assert_eq!(out.code(), exit::OK, "{package}: {out}");
        assert_worker2_replaced(&out, "from step kill-and-start", "from step kill-and-start");
    }
}

#[test]
fn python_and_js_steps_without_the_grant_fail_naming_the_config_key() {
    for package in POLYGLOT_FAULTS {
        let dir = polyglot_faults_test(package, false);
        let out = dir.run_steps(&[]);
        assert_eq!(out.code(), 1, "{package}: {out}");
        assert!(
            out.stdout.contains("kill-and-start failed"),
            "{package}: {out}"
        );
        assert!(
            out.all()
                .contains("set `faults_from_steps: true` in config.yaml"),
            "{package}: {out}"
        );
        assert_eq!(starts_of(&out, "worker2").len(), 1, "{package}: {out}");
    }
}

#[test]
fn python_and_js_steps_set_a_network_fault_and_clear_it() {
    for package in POLYGLOT_FAULTS {
        let dir = polyglot_faults_test(package, true);
        dir.set_config("network_probe", serde_yaml::Value::Bool(true));
        let out = dir.run_steps(&["--step", "error-then-clear"]);
        assert_eq!(out.code(), exit::OK, "{package}: {out}");
        let lines = fault_lines(&out);
        assert_eq!(lines.len(), 2, "{package}: {out}");
        assert!(
            lines[0].contains("from step error-then-clear") && lines[0].contains("503"),
            "{package}: {out}"
        );
    }
}
