//! The worker supervisor: starts the worker servers of a test run, tells when they are
//! ready, forwards their output, and stops them without leaving a process behind.
//!
//! Start from [`Fleet::start`] with one [`LaunchSpec`] per worker. Each worker runs in its
//! own process group with exactly the environment it is given; it is ready when its probe
//! passes (not after a fixed sleep): by default its port accepts TCP connections, or an
//! HTTP GET answers the expected status (`probe.rs`); its output goes line by line to an
//! [`OutputSink`]. Workers somebody else runs are waited for with [`wait_external`] and
//! reset with [`reset_external`]; the supervisor never starts or stops them.
//! [`Fleet::stop`] sends SIGTERM, waits the grace period, then SIGKILLs the groups;
//! dropping a [`Fleet`] SIGKILLs them at once. If the runner dies without either
//! (`kill -9`), a watchdog process kills every group (`watchdog.rs`), and each worker also
//! gets SIGKILL from the kernel. [`preflight`] checks what can be checked before anything
//! is started, and [`Fleet::deaths`] tells who died during the run. [`Fleet::control`] applies
//! the test's process faults (kill, stop, pause, resume, start, restart) to its own workers.
//!
//! This module takes plain values and imports only config's plain probe and hook types (it
//! sits right after `config` in the data flow, and must never import store, plugin, runner
//! or report).

mod control;
mod death;
mod error;
mod external;
mod fleet;
mod output;
mod ports;
mod preflight;
mod probe;
mod process;
mod proxy;
mod readiness;
mod spec;
mod watchdog;

#[cfg(test)]
mod tests;

pub use control::{FleetControl, ProcessChange};
pub use death::{DeathWatch, WorkerDeath};
pub use error::{WorkerError, WorkerErrorKind};
pub use external::{
    DEFAULT_RESET_TIMEOUT, ExternalWorker, ResetDone, reset_external, wait_external,
};
pub use fleet::Fleet;
pub use output::{CUT_MARK, OutputSink, Stream};
pub use preflight::preflight;
pub use proxy::Proxies;
pub use spec::{DEFAULT_GRACE, DEFAULT_STARTUP_TIMEOUT, LaunchSpec, SupervisorOptions};
pub use watchdog::{WATCHDOG_SUBCOMMAND, WatchdogCommand, serve as serve_watchdog};
