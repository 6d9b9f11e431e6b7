//! What to launch and how patiently: the plain values the supervisor is given.
//!
//! The config module resolves `workers.json`, `.env` and `config.yaml` into these; nothing
//! here reads a file or the process environment.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use super::watchdog::WatchdogCommand;
use crate::config::ReadyCheck;

/// How long a worker may take to accept TCP connections when the config does not say.
///
/// Generous on purpose: interpreted servers that install dependencies or open a database
/// at start can take seconds, and the poll returns as soon as the port answers anyway.
pub const DEFAULT_STARTUP_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a worker may take to exit after SIGTERM before its process group gets SIGKILL.
///
/// Long enough for a server to flush logs and close its database, short enough that a
/// hung worker does not stall the end of a CI job.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(5);

/// One worker server to start: the command line, its working directory, its complete
/// environment and the port it is expected to listen on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaunchSpec {
    /// The worker's name (the `workers.json` key); prefixes its log lines and errors.
    pub name: String,
    /// The program to run: a path, or a name looked up in `env["PATH"]`.
    pub program: String,
    /// Arguments after the program.
    pub args: Vec<String>,
    /// The working directory of the process.
    pub cwd: PathBuf,
    /// The FULL environment of the process: the supervisor clears the inherited one first,
    /// so include `PATH`, `HOME` and whatever else the worker needs.
    pub env: BTreeMap<String, String>,
    /// The TCP port the worker listens on, on 127.0.0.1 (or `[::1]`).
    pub port: u16,
    /// When it counts as ready: by default when its port accepts connections; an HTTP
    /// probe waits until `GET http://localhost:{port}{path}` answers the expected status.
    pub ready: ReadyCheck,
}

/// Timeouts of the supervisor and its watchdog. `Default` gives [`DEFAULT_STARTUP_TIMEOUT`],
/// [`DEFAULT_GRACE`] and no watchdog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SupervisorOptions {
    /// How long each worker may take, from spawn, to accept TCP connections on its port
    /// (`startup_timeout` in `config.yaml`). Default 30 s.
    pub startup_timeout: Duration,
    /// How long `stop` waits after SIGTERM before it sends SIGKILL to the process groups
    /// still running. Default 5 s.
    pub grace: Duration,
    /// The watchdog process that kills every worker's process group if the runner dies
    /// (normally [`WatchdogCommand::current_exe`]). `None`: only the workers themselves
    /// get the parent-death signal, their children do not. Default `None`, because only
    /// the runner's binary has the watchdog subcommand.
    pub watchdog: Option<WatchdogCommand>,
}

impl Default for SupervisorOptions {
    fn default() -> Self {
        Self {
            startup_timeout: DEFAULT_STARTUP_TIMEOUT,
            grace: DEFAULT_GRACE,
            watchdog: None,
        }
    }
}
