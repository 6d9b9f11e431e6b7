//! [`WorkerError`]: why the workers could not be started, naming the worker, with the
//! worker's last output lines and a hint on what to do.

use std::error::Error;
use std::fmt;
use std::io;
use std::path::PathBuf;
use std::time::Duration;

use crate::error::{ExitClass, UserFacing};

/// A worker could not be started. The message names the worker; [`UserFacing::hint`]
/// says what to do. Print it with `{:#}` or a cause-chain printer: the OS error of a failed
/// spawn is the [`source`](Error::source), not part of the message.
#[derive(Debug)]
pub struct WorkerError {
    worker: String,
    // Boxed: the kinds carry paths and output lines, and every `Result` of the workers'
    // functions would otherwise be that large.
    kind: Box<WorkerErrorKind>,
}

/// What went wrong, with the context that locates it.
#[derive(Debug, thiserror::Error)]
pub enum WorkerErrorKind {
    /// Something already listens on the worker's port (checked before anything is spawned).
    #[error("port {port} is already in use")]
    PortInUse {
        /// The busy port.
        port: u16,
    },
    /// Two workers were given the same port.
    #[error("port {port} is also the port of worker `{other}`")]
    DuplicatePort {
        /// The shared port.
        port: u16,
        /// The earlier worker (in launch order) with that port.
        other: String,
    },
    /// Port 0 means "any port" to the OS, so there is nothing to wait for.
    #[error("port 0 is not a port a worker can be reached on")]
    InvalidPort,
    /// The working directory is missing, not a directory, or cannot be entered (checked
    /// before anything is spawned).
    #[error("cannot use {} as the working directory", cwd.display())]
    BadCwd {
        /// The working directory from the launch spec.
        cwd: PathBuf,
        /// Why it cannot be used.
        #[source]
        source: io::Error,
    },
    /// The program is not where the spawn would look for it (checked before anything is
    /// spawned).
    #[error("program `{program}` not found{}", searched.as_ref().map(|p| format!(" on its PATH ({p})")).unwrap_or_default())]
    ProgramNotFound {
        /// The program as given in the launch spec.
        program: String,
        /// The search path used, when the program is a bare name.
        searched: Option<String>,
    },
    /// The program was found but may not be executed (checked before anything is spawned).
    #[error("program {} is not executable", path.display())]
    ProgramNotExecutable {
        /// Where the program was found.
        path: PathBuf,
    },
    /// The watchdog process, which kills the workers if the runner dies, did not start.
    #[error("cannot start the watchdog {} that guards the workers", program.display())]
    Watchdog {
        /// The watchdog's program (the runner's own executable).
        program: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// The program could not be spawned (not found, not executable, bad directory).
    #[error("cannot start `{program}` in {}", cwd.display())]
    Spawn {
        /// The program as given in the launch spec.
        program: String,
        /// The working directory it was to run in.
        cwd: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// The process exited before its port accepted connections.
    #[error(
        "exited before port {port} accepted connections ({status}){}",
        exit_tail(stderr, stdout)
    )]
    ExitedAtStart {
        /// The port it should have listened on.
        port: u16,
        /// How it exited, e.g. `exit status: 3`.
        status: String,
        /// Its last stderr lines, oldest first.
        stderr: Vec<String>,
        /// Its last stdout lines, oldest first.
        stdout: Vec<String>,
    },
    /// The port did not accept connections within the startup timeout.
    #[error("port {port} did not accept connections within {}{}", human(*timeout), not_ready_tail(stderr, stdout))]
    NotReady {
        /// The port polled.
        port: u16,
        /// The startup timeout that ran out.
        timeout: Duration,
        /// Its last stderr lines, oldest first.
        stderr: Vec<String>,
        /// Its last stdout lines, oldest first.
        stdout: Vec<String>,
    },
    /// The worker's readiness probe did not pass within its timeout.
    #[error(
        "not ready within {}: {probe}; last answer: {last_answer}{}",
        human(*timeout),
        probe_tail(stderr, stdout)
    )]
    ProbeFailed {
        /// The probe in words: `GET http://w1:8080/health expecting 200`.
        probe: String,
        /// The timeout that ran out.
        timeout: Duration,
        /// The last answer: `HTTP 500 Internal Server Error: boom`, or the connection error.
        last_answer: String,
        /// True for a worker the runner did not start (it has no output to show).
        external: bool,
        /// Its last stderr lines (a local worker), oldest first.
        stderr: Vec<String>,
        /// Its last stdout lines (a local worker), oldest first.
        stdout: Vec<String>,
    },
    /// An external worker's reset hook did not answer with a 2xx status.
    #[error("reset hook {request} failed: {answer}")]
    ResetFailed {
        /// The call in words: `POST http://w1:8080/reset`.
        request: String,
        /// What came back: `HTTP 404 Not Found: …`, or the connection error.
        answer: String,
    },
    /// A process fault the test asked for cannot be applied to the worker now.
    #[error("cannot apply the fault: {reason}")]
    FaultRefused {
        /// Why, e.g. `it is running (pid 123); stop or kill it first`.
        reason: String,
    },
}

impl WorkerError {
    pub(super) fn new(worker: impl Into<String>, kind: WorkerErrorKind) -> Self {
        Self {
            worker: worker.into(),
            kind: Box::new(kind),
        }
    }

    /// The name of the worker that failed.
    pub fn worker(&self) -> &str {
        &self.worker
    }

    /// What went wrong.
    pub fn kind(&self) -> &WorkerErrorKind {
        &self.kind
    }
}

impl UserFacing for WorkerError {
    fn hint(&self) -> Option<String> {
        match &*self.kind {
            WorkerErrorKind::PortInUse { port } => Some(format!(
                "another process listens on port {port} (a previous run's worker?); \
                 stop it or change base_port/port in workers.json"
            )),
            WorkerErrorKind::DuplicatePort { .. } => {
                Some("give each worker its own port in workers.json".to_owned())
            }
            WorkerErrorKind::InvalidPort => Some(
                "set the worker's port in workers.json (or base_port in config.yaml) \
                 to a value from 1 to 65535"
                    .to_owned(),
            ),
            WorkerErrorKind::BadCwd { .. } => Some(
                "create the directory, or fix the worker's working directory (the tests \
                 folder) in config.yaml/workers.json"
                    .to_owned(),
            ),
            WorkerErrorKind::ProgramNotFound { program, .. } => Some(format!(
                "install `{program}` or fix server_entrypoint/command in workers.json; the \
                 worker's PATH is the one in its environment (env/env_vars), not the runner's"
            )),
            WorkerErrorKind::ProgramNotExecutable { path } => Some(format!(
                "make it executable (chmod +x {}) or run it through its interpreter",
                path.display()
            )),
            WorkerErrorKind::Watchdog { .. } => Some(
                "the runner starts a copy of its own executable; check that it was not moved \
                 or deleted during the run"
                    .to_owned(),
            ),
            WorkerErrorKind::Spawn {
                program,
                cwd,
                source,
            } => match source.kind() {
                io::ErrorKind::NotFound if !cwd.is_dir() => Some(format!(
                    "the working directory {} does not exist",
                    cwd.display()
                )),
                io::ErrorKind::NotFound => Some(format!(
                    "check that `{program}` exists and is on PATH (the worker's PATH is the \
                     one passed in its environment), or fix server_entrypoint in workers.json"
                )),
                io::ErrorKind::PermissionDenied => Some(format!(
                    "make `{program}` executable (chmod +x) or run it through its interpreter"
                )),
                _ => None,
            },
            WorkerErrorKind::ExitedAtStart { .. } => Some(format!(
                "its full output is above, prefixed with [{}]; the same command run by hand \
                 should show why it stops",
                self.worker
            )),
            WorkerErrorKind::ProbeFailed { external: true, .. } => Some(
                "start it first (e.g. `docker compose up -d`), check that its url in \
                 workers.json is reachable from this machine and that its probe path answers, \
                 or raise `ready.timeout` in workers.json"
                    .to_owned(),
            ),
            WorkerErrorKind::ProbeFailed { .. } => Some(
                "check that the worker serves its probe path with the expected status once \
                 started, or raise `ready.timeout` in workers.json (or startup_timeout)"
                    .to_owned(),
            ),
            WorkerErrorKind::ResetFailed { .. } => Some(
                "fix the worker's reset endpoint or the `reset` entry in workers.json; nothing \
                 was seeded or deleted"
                    .to_owned(),
            ),
            WorkerErrorKind::FaultRefused { .. } => Some(
                "fix the order of the test's faults (faults: in config.yaml) so that each \
                 action finds the worker in the state it needs"
                    .to_owned(),
            ),
            WorkerErrorKind::NotReady { port, .. } => Some(format!(
                "check that the worker listens on 127.0.0.1:{port}, or raise startup_timeout \
                 in config.yaml if it needs longer to start"
            )),
        }
    }

    /// A worker that could not be set up (port taken, program missing) is a usage error:
    /// nothing was tested. A worker that started and died, never answered, or whose reset
    /// hook failed, fails the test: the topology was valid, the system under test was not.
    fn exit_class(&self) -> ExitClass {
        match &*self.kind {
            WorkerErrorKind::ExitedAtStart { .. }
            | WorkerErrorKind::NotReady { .. }
            | WorkerErrorKind::ProbeFailed { .. }
            | WorkerErrorKind::ResetFailed { .. } => ExitClass::Failed,
            _ => ExitClass::Usage,
        }
    }
}

impl fmt::Display for WorkerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "worker `{}`: {}", self.worker, self.kind)
    }
}

impl Error for WorkerError {
    // The kind's message is already part of ours; skip it so a cause-chain printer does not
    // repeat it, and go straight to the kind's own cause (the OS error of a failed spawn).
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.kind.source()
    }
}

/// The lines that explain an early exit: stderr, or stdout when stderr is empty.
pub(super) fn exit_tail(stderr: &[String], stdout: &[String]) -> String {
    if !stderr.is_empty() {
        tail_block("stderr", stderr)
    } else if !stdout.is_empty() {
        tail_block("stdout", stdout)
    } else {
        "; it printed nothing".to_owned()
    }
}

/// Both streams: a worker that hangs at start often says why on stdout.
fn not_ready_tail(stderr: &[String], stdout: &[String]) -> String {
    match (stderr.is_empty(), stdout.is_empty()) {
        (true, true) => "; it printed nothing".to_owned(),
        _ => tail_block("stderr", stderr) + &tail_block("stdout", stdout),
    }
}

/// A local worker's output, if it printed any; an external one has none to show.
fn probe_tail(stderr: &[String], stdout: &[String]) -> String {
    tail_block("stderr", stderr) + &tail_block("stdout", stdout)
}

fn tail_block(stream: &str, lines: &[String]) -> String {
    if lines.is_empty() {
        return String::new();
    }
    let mut block = format!("; last {stream} lines:");
    for line in lines {
        block.push_str("\n    ");
        block.push_str(line);
    }
    block
}

/// `30s`, `1.5s` or `250ms`: how a user writes the timeout in config.yaml.
fn human(duration: Duration) -> String {
    let millis = duration.as_millis();
    if millis >= 1000 && millis.is_multiple_of(100) {
        format!("{}s", duration.as_secs_f64())
    } else {
        format!("{millis}ms")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_read_like_config_values() {
        assert_eq!(human(Duration::from_secs(30)), "30s");
        assert_eq!(human(Duration::from_millis(1500)), "1.5s");
        assert_eq!(human(Duration::from_millis(250)), "250ms");
    }

    #[test]
    fn exited_at_start_shows_status_and_stderr() {
        let error = WorkerError::new(
            "alpha",
            WorkerErrorKind::ExitedAtStart {
                port: 5000,
                status: "exit status: 3".to_owned(),
                stderr: vec!["boom".to_owned()],
                stdout: vec!["ignored".to_owned()],
            },
        );
        assert_eq!(
            error.to_string(),
            "worker `alpha`: exited before port 5000 accepted connections (exit status: 3); \
             last stderr lines:\n    boom"
        );
    }

    #[test]
    fn spawn_error_keeps_the_os_error_as_source() {
        let error = WorkerError::new(
            "alpha",
            WorkerErrorKind::Spawn {
                program: "nope".to_owned(),
                cwd: PathBuf::from("/"),
                source: io::Error::from(io::ErrorKind::NotFound),
            },
        );
        assert_eq!(
            error.to_string(),
            "worker `alpha`: cannot start `nope` in /"
        );
        assert!(error.source().is_some());
        assert!(error.hint().expect("a hint").contains("`nope`"));
    }
}
