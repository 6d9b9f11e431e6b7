//! Support for the external-worker tests: servers the tests start themselves (as Compose
//! would), workers.json edits that make a hello worker external, and the checks that a
//! refused run touched nothing.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::{RunOutput, TestDir, component, hello_worker_bin, wait_output};

/// A server started by the test, killed when dropped: the runner must never stop it.
pub struct Server {
    child: Child,
    /// The port it listens on, on 127.0.0.1.
    pub port: u16,
}

impl Server {
    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Its process id.
    pub fn pid(&self) -> i32 {
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
pub fn wait_listening(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "server on {port} never listened");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Starts `command` and waits until it listens on `port`.
pub fn start(mut command: Command, port: u16) -> Server {
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
pub fn hello_worker(name: &str, port: u16) -> Server {
    let mut command = Command::new(hello_worker_bin());
    command.env("PORT", port.to_string()).env("WORKER_ID", name);
    start(command, port)
}

/// A server whose every GET answers 500 "database not migrated": its port is open, it is
/// not serving.
pub fn broken_server(port: u16) -> Server {
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
pub fn compose(urls: [&str; 2]) -> (TestDir, [(&'static str, String); 2]) {
    let t = TestDir::example("compose", &component("hello_steps"));
    let env = [
        ("WORKER1_URL", urls[0].to_string()),
        ("WORKER2_URL", urls[1].to_string()),
    ];
    (t, env)
}

/// Runs the runner with `args` and extra environment variables.
pub fn run_with(t: &TestDir, args: &[&str], env: &[(&str, String)]) -> RunOutput {
    let mut cmd = t.command(args);
    for (name, value) in env {
        cmd.env(name, value);
    }
    wait_output(cmd.spawn().expect("spawn the runner"))
}

/// Sets `key` of worker `name` in workers.json (`Value::Null` removes it).
pub fn set_worker_key(t: &TestDir, name: &str, key: &str, value: Value) {
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
pub fn make_external(t: &TestDir, name: &str, url: &str) {
    set_worker_key(t, name, "command", Value::Null);
    set_worker_key(t, name, "external", json!(true));
    set_worker_key(t, name, "url", json!(url));
}

/// Seeds a `todos` collection in the embedded store and leaves a worker database behind,
/// so a test can tell that nothing was seeded or deleted.
pub fn with_seed_and_marker(t: &TestDir) -> PathBuf {
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

/// Asserts that a refused run left the marker database, seeded nothing, saved no state.
pub fn assert_untouched(t: &TestDir, marker: &Path, out: &RunOutput) {
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
pub fn position(t: &TestDir, needle: &str) -> String {
    let text = std::fs::read_to_string(t.tests().join("workers.json")).expect("workers.json");
    let offset = text.find(needle).expect("needle in workers.json");
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |n| n + 1) + 1;
    format!("{line}:{column}")
}
