//! A SecantusDB server (MongoDB wire protocol) for the system tests of the remote
//! backend: started on a free loopback port from the project's `.venv` (made by
//! `scripts/setup-venv.sh`), stopped by its PID with SIGTERM on drop.
//!
//! The same starter as `host/tests/mongo/server.rs` (an integration test of the host crate,
//! which cannot depend on this crate).

use std::net::{TcpListener, TcpStream};
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
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
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

impl Drop for Secantus {
    fn drop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let _ = self.child.wait();
    }
}
