//! The process exit codes of `prometheus-wasm`, and the [`ExitClass`] every user-facing
//! error declares ([`UserFacing::exit_class`](crate::error::UserFacing::exit_class)).
//!
//! These values are part of the public, stable interface: CI scripts branch on them, and
//! the system tests import them instead of writing numbers.
//!
//! ```
//! use prometheus_wasm::exit::{self, ExitClass};
//!
//! assert_eq!(exit::FAILED, 1);
//! assert_eq!(ExitClass::Usage.code(), exit::USAGE);
//! ```

/// The run passed (or the command succeeded).
pub const OK: u8 = 0;
/// A step failed, a worker failed, or post-load failed: the test ran and did not pass.
pub const FAILED: u8 = 1;
/// Bad usage or configuration: nothing was tested.
pub const USAGE: u8 = 2;
/// Stopped by SIGINT (Ctrl-C), after stopping the workers (128 + 2, the shell convention).
pub const INTERRUPTED: u8 = 130;
/// Stopped by SIGTERM, after stopping the workers (128 + 15).
pub const TERMINATED: u8 = 143;

/// What an error means for the run, and so which exit code it ends the process with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitClass {
    /// The test ran (or started to) and the system under test did not pass: a worker died
    /// or never answered, a signature did not verify ([`FAILED`]).
    Failed,
    /// The inputs are wrong — a file, a flag, a package, the environment — and nothing was
    /// tested ([`USAGE`]).
    Usage,
}

impl ExitClass {
    /// The process exit code of this class.
    pub fn code(self) -> u8 {
        match self {
            ExitClass::Failed => FAILED,
            ExitClass::Usage => USAGE,
        }
    }
}
