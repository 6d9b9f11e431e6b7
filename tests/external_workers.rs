//! External workers through the binary: servers the test starts itself (the same
//! `hello-worker` and `koii-worker` binaries Compose would run), declared in workers.json
//! with `"external": true` and a `url`. The runner waits for their readiness probe, calls
//! their reset hook before a fresh run, mixes them with local workers, and refuses bad
//! entries with file:line:column — before anything is seeded or deleted.

use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use system_tests::{
    RunOutput, TestDir, component, free_ports, hello_worker_bin, is_alive, repo_root, wait_output,
};

/// A server started by the test, killed when dropped: the runner must never stop it.
struct Server {
    child: Child,
    port: u16,
}

impl Server {
    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn pid(&self) -> i32 {
        self.child.id() as i32
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until something listens on `port` (a hung start fails the test, not CI).
fn wait_listening(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "server on {port} never listened");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn start(mut command: Command, port: u16) -> Server {
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start a server");
    let server = Server { child, port };
    wait_listening(port);
    server
}

/// `hello-worker` as worker `name` on `port`, run by the test as Compose would.
fn hello_worker(name: &str, port: u16) -> Server {
    let mut command = Command::new(hello_worker_bin());
    command.env("PORT", port.to_string()).env("WORKER_ID", name);
    start(command, port)
}

/// A server whose every GET answers 500 "database not migrated": its port is open, it is
/// not serving.
fn broken_server(port: u16) -> Server {
    let script = r#"
import http.server, sys

class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"database not migrated"
        self.send_response(500)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"#;
    let mut command = Command::new("python3");
    command.args(["-c", script, &port.to_string()]);
    start(command, port)
}

/// The compose example's test folder with the hello steps, its URLs pointed at `urls`.
fn compose(urls: [&str; 2]) -> (TestDir, [(&'static str, String); 2]) {
    let t = TestDir::example("compose", &component("hello_steps"));
    let env = [
        ("WORKER1_URL", urls[0].to_string()),
        ("WORKER2_URL", urls[1].to_string()),
    ];
    (t, env)
}

fn run_with(t: &TestDir, args: &[&str], env: &[(&str, String)]) -> RunOutput {
    let mut cmd = t.command(args);
    for (name, value) in env {
        cmd.env(name, value);
    }
    wait_output(cmd.spawn().expect("spawn the runner"))
}

/// Sets `key` of worker `name` in workers.json (`Value::Null` removes it).
fn set_worker_key(t: &TestDir, name: &str, key: &str, value: Value) {
    let mut workers = t.workers_json();
    let entry = workers[name].as_object_mut().expect("worker entry");
    if value.is_null() {
        entry.remove(key);
    } else {
        entry.insert(key.to_string(), value);
    }
    t.write_workers_json(&workers);
}

/// Turns worker `name` of the hello example into an external worker at `url`.
fn make_external(t: &TestDir, name: &str, url: &str) {
    set_worker_key(t, name, "command", Value::Null);
    set_worker_key(t, name, "external", json!(true));
    set_worker_key(t, name, "url", json!(url));
}

/// Seeds a `todos` collection in the embedded store and leaves a worker database behind,
/// so a test can tell that nothing was seeded or deleted.
fn with_seed_and_marker(t: &TestDir) -> std::path::PathBuf {
    t.write("data/todos.json", r#"[{"title": "a"}, {"title": "b"}]"#);
    t.set_config(
        "mongodb",
        serde_yaml::from_str(
            "{database: ext, collections: {todos: {data_file: todos.json, required_count: 2}}}",
        )
        .expect("yaml"),
    );
    let marker = t.tests().join("data/database_worker1.db");
    std::fs::write(&marker, "kept").expect("marker");
    marker
}

fn assert_untouched(t: &TestDir, marker: &std::path::Path, out: &RunOutput) {
    assert_eq!(
        std::fs::read_to_string(marker).ok().as_deref(),
        Some("kept"),
        "the worker database was deleted\n{out}"
    );
    assert!(
        !t.tests().join("data/embedded-mongo").exists(),
        "the database was seeded\n{out}"
    );
    assert!(!out.stdout.contains("seeded `todos`"), "{out}");
    assert!(!t.tests().join("data/test_state.json").exists(), "{out}");
}

/// `line:column` of the first occurrence of `needle` in workers.json.
fn position(t: &TestDir, needle: &str) -> String {
    let text = std::fs::read_to_string(t.tests().join("workers.json")).expect("workers.json");
    let offset = text.find(needle).expect("needle in workers.json");
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |n| n + 1) + 1;
    format!("{line}:{column}")
}

#[test]
fn the_compose_example_runs_against_workers_it_did_not_start() {
    let port = free_ports(2);
    let w1 = hello_worker("worker1", port);
    let w2 = hello_worker("worker2", port + 1);
    let (t, env) = compose([&w1.url(), &w2.url()]);
    for round in 1..=2 {
        let out = run_with(&t, &["run", "tests/steps.wasm", "--reset"], &env);
        assert_eq!(out.code(), 0, "run {round}: {out}");
        assert!(
            out.stdout.contains("PASSED: 9 passed, 1 skipped, 0 failed"),
            "{out}"
        );
        assert!(
            out.stdout
                .contains(&format!("worker1 {} (external)", w1.url())),
            "{out}"
        );
        for (name, server) in [("worker1", &w1), ("worker2", &w2)] {
            assert!(
                out.stdout.contains(&format!(
                    "reset external worker {name}: POST {}/reset answered 200 OK",
                    server.url()
                )),
                "{out}"
            );
        }
        assert!(out.stdout.contains("starting 0 worker(s)"), "{out}");
        assert!(
            !out.stdout.contains("[worker1]"),
            "no output of a local worker\n{out}"
        );
        // The reset emptied the worker: every run's greetings start at 1 again.
        assert_eq!(
            t.state()["global"]["greeting_ids"],
            json!(["worker1-1", "worker1-2"]),
            "run {round}: {out}"
        );
        assert!(
            is_alive(w1.pid()) && is_alive(w2.pid()),
            "the runner stopped an external worker"
        );
    }
}

#[test]
fn check_shows_external_workers_with_their_probe_and_reset() {
    let (t, env) = compose(["http://127.0.0.1:5790", "http://127.0.0.1:5791"]);
    let out = run_with(&t, &["check", "tests"], &env);
    assert_eq!(out.code(), 0, "{out}");
    for line in [
        "worker1: port 5790, http://127.0.0.1:5790 (external: not started by the runner)",
        "ready: GET /health expecting 200 (timeout 120s)",
        "fresh run: resets it with POST /reset",
    ] {
        assert!(out.stdout.contains(line), "no `{line}` in\n{out}");
    }
    assert!(out.stdout.contains("http://127.0.0.1:5791"), "{out}");
    assert!(!out.stdout.contains("command:"), "{out}");
}

#[test]
fn local_and_external_workers_mix_in_one_test() {
    let t = TestDir::hello();
    let port = free_ports(1);
    let w2 = hello_worker("worker2", port);
    make_external(&t, "worker2", &w2.url());
    let out = t.run_steps(&["--reset"]);
    assert_eq!(out.code(), 0, "{out}");
    assert!(
        out.stdout.contains("PASSED: 9 passed, 1 skipped, 0 failed"),
        "{out}"
    );
    assert!(out.stdout.contains("starting 1 worker(s)"), "{out}");
    assert!(
        out.stdout.contains("[worker1] POST /greetings 201"),
        "{out}"
    );
    assert!(
        out.stdout
            .contains(&format!("worker2 {} (external)", w2.url())),
        "{out}"
    );
    // No reset hook: the runner says so instead of claiming a reset.
    assert!(
        out.all()
            .contains("external worker worker2 was NOT reset: its state is yours to reset"),
        "{out}"
    );
    assert!(is_alive(w2.pid()), "the runner stopped an external worker");
}

#[test]
fn keys_sign_for_an_external_worker_beside_local_ones() {
    // The koii-task example with worker1 (whose staking key signs every submission) run by
    // the test: leader and worker2 verify worker1's signatures, so a wrong key fails.
    let t = TestDir::example("koii-task", &component("koii_task_steps"));
    let root = t.tests().parent().expect("parent").to_path_buf();
    std::fs::create_dir_all(root.join("keys")).expect("keys");
    let mut env = String::new();
    for (i, (var, file)) in [
        ("LEADER_STAKING_KEYPAIR", "leader-staking"),
        ("LEADER_MAIN_KEYPAIR", "leader-main"),
        ("WORKER1_STAKING_KEYPAIR", "worker1-staking"),
        ("WORKER1_MAIN_KEYPAIR", "worker1-main"),
        ("WORKER2_STAKING_KEYPAIR", "worker2-staking"),
        ("WORKER2_MAIN_KEYPAIR", "worker2-main"),
    ]
    .iter()
    .enumerate()
    {
        let seed = [i as u8 + 1; 32];
        let key = ed25519_dalek::SigningKey::from_bytes(&seed);
        let mut bytes = seed.to_vec();
        bytes.extend_from_slice(key.verifying_key().as_bytes());
        std::fs::write(
            root.join(format!("keys/{file}.json")),
            serde_json::to_string(&bytes).expect("json"),
        )
        .expect("keypair");
        env.push_str(&format!("{var}=keys/{file}.json\n"));
    }
    std::fs::write(t.tests().join(".env"), env).expect(".env");
    let port = free_ports(1);
    let mut command = Command::new(repo_root().join("target/debug/koii-worker"));
    command
        .env("PORT", port.to_string())
        .env("WORKER_ID", "worker1");
    let w1 = start(command, port);
    make_external(&t, "worker1", &w1.url());
    let mut cmd = t.command(&["run", "tests/steps.wasm", "--reset"]);
    cmd.env_remove("MONGO_URI")
        .env("KOII_WORKER", repo_root().join("target/debug/koii-worker"));
    let out = wait_output(cmd.spawn().expect("spawn the runner"));
    assert_eq!(out.code(), 0, "{out}");
    assert!(
        out.stdout
            .contains("round 3: worker1's submission audited valid"),
        "{out}"
    );
    assert!(out.stdout.contains("starting 2 worker(s)"), "{out}");
}

#[test]
fn an_external_worker_that_never_answers_fails_after_its_timeout_touching_nothing() {
    let t = TestDir::hello();
    let marker = with_seed_and_marker(&t);
    let port = free_ports(1);
    make_external(&t, "worker2", &format!("http://127.0.0.1:{port}"));
    set_worker_key(
        &t,
        "worker2",
        "ready",
        json!({"timeout": 1, "interval": 0.1}),
    );
    let started = Instant::now();
    let out = t.run_steps(&["--reset"]);
    assert_eq!(out.code(), 1, "{out}");
    assert!(started.elapsed() < Duration::from_secs(20), "{out}");
    let all = out.all();
    assert!(
        all.contains(&format!(
            "worker `worker2`: not ready within 1s: GET http://127.0.0.1:{port}/health expecting 200; last answer: "
        )),
        "{all}"
    );
    assert!(all.to_lowercase().contains("connection refused"), "{all}");
    assert!(
        all.contains("docker compose up -d"),
        "the hint says what to do\n{all}"
    );
    assert_untouched(&t, &marker, &out);
}

#[test]
fn a_probe_answering_500_names_the_status_and_the_body() {
    let t = TestDir::hello();
    let marker = with_seed_and_marker(&t);
    let port = free_ports(1);
    let _broken = broken_server(port);
    make_external(&t, "worker2", &format!("http://127.0.0.1:{port}"));
    set_worker_key(
        &t,
        "worker2",
        "ready",
        json!({"http": "/ready", "timeout": 1}),
    );
    let out = t.run_steps(&["--reset"]);
    assert_eq!(out.code(), 1, "{out}");
    assert!(
        out.all().contains(&format!(
            "GET http://127.0.0.1:{port}/ready expecting 200; last answer: HTTP 500 Internal Server Error: database not migrated"
        )),
        "{out}"
    );
    assert_untouched(&t, &marker, &out);
}

#[test]
fn a_failing_reset_hook_refuses_the_run_before_anything_is_wiped() {
    let t = TestDir::hello();
    let marker = with_seed_and_marker(&t);
    let port = free_ports(1);
    let w2 = hello_worker("worker2", port);
    make_external(&t, "worker2", &w2.url());
    set_worker_key(
        &t,
        "worker2",
        "reset",
        json!({"method": "DELETE", "path": "/nope"}),
    );
    let out = t.run_steps(&["--reset"]);
    assert_eq!(out.code(), 1, "{out}");
    assert!(
        out.all().contains(&format!(
            "worker `worker2`: reset hook DELETE {}/nope failed: HTTP 404 Not Found",
            w2.url()
        )),
        "{out}"
    );
    assert!(!out.stdout.contains("reset external worker"), "{out}");
    assert_untouched(&t, &marker, &out);
}

#[test]
fn a_local_http_probe_catches_a_port_open_but_not_serving() {
    let t = TestDir::hello();
    set_worker_key(
        &t,
        "worker1",
        "ready",
        json!({"http": "/not-served", "timeout": 1}),
    );
    let out = t.run_steps(&["--reset"]);
    assert_eq!(out.code(), 1, "{out}");
    let port = t.base_port();
    assert!(
        out.all().contains(&format!(
            "worker `worker1`: not ready within 1s: GET http://localhost:{port}/not-served expecting 200; last answer: HTTP 404 Not Found: {{\"message\":\"no route GET /not-served\"}}"
        )),
        "{out}"
    );
    // With the path it serves, the same probe passes.
    set_worker_key(
        &t,
        "worker1",
        "ready",
        json!({"http": "/health", "status": 200}),
    );
    let out = t.run_steps(&["--reset"]);
    assert_eq!(out.code(), 0, "{out}");
}

/// Runs `check` and `run` on a bad workers.json: both refuse it (exit 2) with the same
/// message, which starts with `tests/workers.json:LINE:COLUMN: worker `NAME`: `.
fn assert_refused(t: &TestDir, at: &str, worker: &str, expected: &[&str]) {
    for args in [
        &["check", "tests"][..],
        &["run", "tests/steps.wasm", "--reset"][..],
    ] {
        let out = t.run(args);
        assert_eq!(out.code(), 2, "{args:?}: {out}");
        let all = out.all();
        assert!(
            all.contains(&format!("tests/workers.json:{at}: worker `{worker}`: ")),
            "{args:?}: no location {at} in\n{all}"
        );
        for text in expected {
            assert!(all.contains(text), "{args:?}: no `{text}` in\n{all}");
        }
        assert!(!all.contains("starting"), "{all}");
    }
}

#[test]
fn a_url_with_another_scheme_is_refused_where_it_is_written() {
    let t = TestDir::hello();
    make_external(&t, "worker2", "ftp://127.0.0.1:2121");
    let at = position(&t, "\"ftp://");
    assert_refused(
        &t,
        &at,
        "worker2",
        &[
            "invalid `url`",
            "the scheme `ftp` is not supported",
            "http:// or https://",
        ],
    );
}

#[test]
fn an_external_worker_with_launch_keys_is_refused_naming_them() {
    let t = TestDir::hello();
    make_external(&t, "worker2", "http://127.0.0.1:5999");
    set_worker_key(&t, "worker2", "command", json!(["./srv"]));
    set_worker_key(&t, "worker2", "port", json!(5999));
    let text = std::fs::read_to_string(t.tests().join("workers.json")).expect("text");
    // The error points at the first launch key's value in the entry.
    let worker2 = text.find("\"worker2\"").expect("worker2");
    let command = worker2 + text[worker2..].find("\"command\": ").expect("command") + 11;
    let before = &text[..command];
    let at = format!(
        "{}:{}",
        before.matches('\n').count() + 1,
        command - before.rfind('\n').map_or(0, |n| n + 1) + 1
    );
    assert_refused(
        &t,
        &at,
        "worker2",
        &[
            "an external worker is not started by the runner, but its entry sets `command`, `port`",
            "remove command, port",
        ],
    );
}

#[test]
fn an_external_url_on_a_local_workers_port_is_refused() {
    let t = TestDir::hello();
    let port = t.base_port();
    make_external(&t, "worker2", &format!("http://localhost:{port}"));
    let at = position(&t, &format!("\"http://localhost:{port}"));
    assert_refused(
        &t,
        &at,
        "worker2",
        &[&format!(
            "`url` http://localhost:{port} is on this host, on port {port} of local worker `worker1`"
        )],
    );
}

#[test]
fn other_bad_external_entries_are_refused_with_their_location() {
    let cases: [(&str, Value, &str, &str); 5] = [
        (
            "ready",
            json!({"http": "/h", "timout": 2}),
            "\"timout\"",
            "did you mean `timeout`?",
        ),
        (
            "ready",
            json!({"tcp": true, "http": "/h"}),
            "{\n      \"tcp\"",
            "not both",
        ),
        (
            "reset",
            json!({"method": "CONNECT", "path": "/r"}),
            "\"CONNECT\"",
            "invalid `reset.method`",
        ),
        (
            "url",
            json!("${NOT_SET_ANYWHERE}"),
            "\"${NOT_SET",
            "uses unset variable `NOT_SET_ANYWHERE`",
        ),
        (
            "url",
            json!("http://user:pw@127.0.0.1:5999"),
            "\"http://user",
            "holds credentials",
        ),
    ];
    for (key, value, needle, expected) in cases {
        let t = TestDir::hello();
        make_external(&t, "worker2", "http://127.0.0.1:5999");
        set_worker_key(&t, "worker2", key, value);
        let mut at = position(&t, needle);
        if needle == "\"timout\"" {
            // The value of the misspelt key.
            let (line, column) = at.split_once(':').expect("l:c");
            let column: usize = column.parse().expect("column");
            at = format!("{line}:{}", column + "\"timout\": ".len());
        }
        assert_refused(&t, &at, "worker2", &[expected]);
    }
    // A local worker has no reset hook: the runner deletes its database itself.
    let t = TestDir::hello();
    set_worker_key(&t, "worker1", "reset", json!("/reset"));
    let at = position(&t, "\"/reset\"");
    assert_refused(
        &t,
        &at,
        "worker1",
        &["only an external worker takes a reset hook"],
    );
    // An external worker needs a url.
    let t = TestDir::hello();
    set_worker_key(&t, "worker2", "command", Value::Null);
    set_worker_key(&t, "worker2", "external", json!(true));
    let at = position(&t, "true");
    assert_refused(&t, &at, "worker2", &["invalid `url`: missing"]);
}
