//! The worker supervisor: starts the worker servers of a test run, tells when they are
//! ready, forwards their output, and stops them without leaving a process behind.
//!
//! Start from [`Fleet::start`] with one [`LaunchSpec`] per worker. Each worker runs in its
//! own process group with exactly the environment it is given; it is ready when its port
//! accepts TCP connections (not after a fixed sleep); its output goes line by line to an
//! [`OutputSink`]. [`Fleet::stop`] sends SIGTERM, waits the grace period, then SIGKILLs
//! the groups; dropping a [`Fleet`] SIGKILLs them at once. If the runner dies without
//! either (`kill -9`), a watchdog process kills every group (`watchdog.rs`), and each
//! worker also gets SIGKILL from the kernel. [`preflight`] checks what can be checked
//! before anything is started, and [`Fleet::deaths`] tells who died during the run.
//!
//! This module takes plain values and imports no other module of the crate (it sits right
//! after `config` in the data flow, and must never import store, plugin, runner or report).

mod death;
mod error;
mod fleet;
mod output;
mod ports;
mod preflight;
mod process;
mod readiness;
mod spec;
mod watchdog;

#[cfg(test)]
mod tests;

pub use death::{DeathWatch, WorkerDeath};
pub use error::{WorkerError, WorkerErrorKind};
pub use fleet::Fleet;
pub use output::{CUT_MARK, OutputSink, Stream};
pub use preflight::preflight;
pub use spec::{DEFAULT_GRACE, DEFAULT_STARTUP_TIMEOUT, LaunchSpec, SupervisorOptions};
pub use watchdog::{WATCHDOG_SUBCOMMAND, WatchdogCommand, serve as serve_watchdog};
