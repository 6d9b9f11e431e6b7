//! A SecantusDB server (MongoDB wire protocol) for the system tests of the remote
//! backend: started on a free loopback port from the project's `.venv` (made by
//! `scripts/setup-venv.sh`), stopped by its PID with SIGTERM on drop.
//!
//! The same starter as `host/tests/mongo/server.rs` (an integration test of the host crate,
//! which cannot depend on this crate).

use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::repo_root;

/// How long the server may take to accept connections (it needs ~3 s here, more when
/// several tests start one at once on a loaded machine).
const STARTUP_LIMIT: Duration = Duration::from_secs(60);

/// A running server.
pub struct Secantus {
    child: Child,
    /// `mongodb://127.0.0.1:P/?directConnection=true`
    pub uri: String,
}

impl Secantus {
    /// Starts `secantusd-py --storage-path :memory:` on a free port and waits until it
    /// accepts connections.
    pub fn start() -> Secantus {
        let bin = repo_root().join(".venv/bin/secantusd-py");
        assert!(
            bin.exists(),
            "{} not found: run scripts/setup-venv.sh (it installs secantusdb)",
            bin.display()
        );
        // Below the ephemeral range: a port 0 picked, released and bound again later by the
        // server could meanwhile serve another test's outgoing connection.
        let port = crate::free_ports(1);
        let child = Command::new(&bin)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--storage-path", ":memory:"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("secantusd-py starts");
        // Built before waiting, so that a server that never listens is still stopped.
        let mut server = Secantus {
            child,
            uri: format!("mongodb://127.0.0.1:{port}/?directConnection=true"),
        };
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("secantusd-py exited before accepting connections: {status}");
            }
            assert!(
                started.elapsed() < STARTUP_LIMIT,
                "secantusd-py did not accept connections within {STARTUP_LIMIT:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }
}

impl Secantus {
    /// Runs a pymongo snippet from the project's `.venv` against this server, with `db`
    /// bound to database `database`; returns what it printed. Panics if it fails.
    pub fn pymongo(&self, database: &str, code: &str) -> String {
        let python = repo_root().join(".venv/bin/python");
        let script = format!(
            "import pymongo, sys\nclient = pymongo.MongoClient(sys.argv[1], serverSelectionTimeoutMS=20000)\ndb = client[sys.argv[2]]\n{code}\n"
        );
        let out = Command::new(python)
            .args(["-c", &script, &self.uri, database])
            .stdin(Stdio::null())
            .output()
            .expect("run the .venv python");
        assert!(
            out.status.success(),
            "pymongo snippet failed: {}\n{code}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Inserts `{"marker": marker}` into `database.collection`.
    pub fn insert_marker(&self, database: &str, collection: &str, marker: &str) {
        self.pymongo(
            database,
            &format!("db[{collection:?}].insert_one({{'marker': {marker:?}}})"),
        );
    }

    /// How many documents of `database.collection` carry `{"marker": marker}`.
    pub fn count_marker(&self, database: &str, collection: &str, marker: &str) -> u64 {
        let out = self.pymongo(
            database,
            &format!("print(db[{collection:?}].count_documents({{'marker': {marker:?}}}))"),
        );
        out.trim().parse().expect("a count")
    }
}

impl Drop for Secantus {
    fn drop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let _ = self.child.wait();
    }
}
