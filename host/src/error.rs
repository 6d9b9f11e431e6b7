//! [`UserFacing`]: the one shape of every error a user can hit — its message
//! ([`Display`](std::fmt::Display), a lowercase fragment that reads after `error:`), what
//! to do about it ([`hint`](UserFacing::hint)) and what it means for the run
//! ([`exit_class`](UserFacing::exit_class)).
//!
//! Each module keeps its own thiserror type and implements this trait; the CLI turns any of
//! them into an exit code in one place. A leaf: it imports only [`exit`](crate::exit).
//!
//! ```
//! use prometheus_wasm::error::UserFacing;
//! use prometheus_wasm::exit::ExitClass;
//! use prometheus_wasm::runner::RunError;
//!
//! let error = RunError::NoRounds;
//! assert_eq!(error.to_string(), "the test has 0 rounds");
//! assert_eq!(error.hint().as_deref(), Some("set max_rounds to 1 or more in config.yaml"));
//! assert_eq!(error.exit_class(), ExitClass::Usage);
//! ```

pub use crate::exit::ExitClass;

/// An error a user reads: the message says what is wrong and where (file and line:column,
/// worker, step), [`hint`](UserFacing::hint) what to do, and
/// [`exit_class`](UserFacing::exit_class) which exit code it ends the process with.
pub trait UserFacing: std::error::Error + Send + Sync + 'static {
    /// What the user can do about it, when there is something specific to say: `add
    /// http://api.test:8080 to allowed_hosts in tests/config.yaml`, `did you mean
    /// max_rounds?`. Printed after the message as `  hint: …`.
    fn hint(&self) -> Option<String>;

    /// What the error means for the run. Most errors are about inputs (a file, a flag, a
    /// package), found before anything was tested: [`ExitClass::Usage`], the default.
    fn exit_class(&self) -> ExitClass {
        ExitClass::Usage
    }
}
