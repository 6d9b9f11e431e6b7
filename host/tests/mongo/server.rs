//! A SecantusDB server (MongoDB wire protocol) for the remote-backend tests: started on a
//! free loopback port from the project's `.venv`, stopped by its PID with SIGTERM on drop.

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long the server may take to accept connections (it needs ~3 s here).
const STARTUP_LIMIT: Duration = Duration::from_secs(60);

/// A running server.
pub struct Secantus {
    child: Child,
    /// `mongodb://127.0.0.1:P/?directConnection=true`
    pub uri: String,
}

impl Secantus {
    /// Starts `secantusd-py` from `.venv` (made by scripts/setup-venv.sh).
    pub fn start() -> Secantus {
        let bin = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/secantusd-py");
        assert!(
            bin.exists(),
            "{} not found: run scripts/setup-venv.sh (it installs secantusdb)",
            bin.display()
        );
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(&bin)
            .args([
                "--host",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--storage-path",
                ":memory:",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("secantusd-py starts");
        let server = Secantus {
            child,
            uri: format!("mongodb://127.0.0.1:{port}/?directConnection=true"),
        };
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < STARTUP_LIMIT,
                "secantusd-py did not accept connections"
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
