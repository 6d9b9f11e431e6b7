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

/// Any error as the user reads it: the message (with its causes), what to do, and the exit
/// code it ends the process with. What [`Session`](crate::session::Session) and every
/// command return; `?` turns any [`UserFacing`] error into one (its hint and exit class
/// travel with it), the one place an error becomes an exit code.
///
/// ```
/// use prometheus_wasm::error::UserError;
///
/// let error = UserError::usage("no plan.yaml in tests/", Some("run `prometheus-wasm new tests`".into()));
/// assert_eq!(error.code, prometheus_wasm::exit::USAGE);
/// assert_eq!(error.to_string(), "no plan.yaml in tests/");
/// assert_eq!(
///     format!("{error:#}"),
///     "no plan.yaml in tests/\n  hint: run `prometheus-wasm new tests`"
/// );
/// ```
#[derive(Debug)]
pub struct UserError {
    /// The exit code ([`exit::FAILED`](crate::exit::FAILED) or
    /// [`exit::USAGE`](crate::exit::USAGE)).
    pub code: u8,
    /// What went wrong (already carries the file, step or worker).
    pub error: Box<dyn std::error::Error + Send + Sync + 'static>,
    /// What to do.
    pub hint: Option<String>,
}

impl UserError {
    /// A configuration or usage error: nothing was tested (exit 2).
    pub fn usage(
        error: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
        hint: Option<String>,
    ) -> Self {
        Self {
            code: ExitClass::Usage.code(),
            error: error.into(),
            hint,
        }
    }

    /// A test failure: the run started and did not pass (exit 1).
    pub fn failed(
        error: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
        hint: Option<String>,
    ) -> Self {
        Self {
            code: ExitClass::Failed.code(),
            error: error.into(),
            hint,
        }
    }

    /// The message with its causes, outermost first, joined by `: ` (`cannot read
    /// tests/plan.yaml: permission denied`).
    pub fn message(&self) -> String {
        let mut text = self.error.to_string();
        let mut cause = self.error.source();
        while let Some(inner) = cause {
            let part = inner.to_string();
            // A wrapper that already quotes its cause (`{0}` in a thiserror message) is
            // not said twice.
            if !text.ends_with(&part) {
                text.push_str(": ");
                text.push_str(&part);
            }
            cause = inner.source();
        }
        text
    }
}

/// The message; `{:#}` adds the hint on a line of its own (`  hint: …`), as the CLI prints
/// it.
impl std::fmt::Display for UserError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message())?;
        match &self.hint {
            Some(hint) if f.alternate() => write!(f, "\n  hint: {hint}"),
            _ => Ok(()),
        }
    }
}

// Not `std::error::Error`: that would make `UserError` a `UserFacing` candidate and clash
// with the conversion below. It is the end of every chain, printed, never wrapped.

/// The one place a library error becomes an exit code: its [`UserFacing::exit_class`]
/// decides the code, its [`UserFacing::hint`] travels with it.
impl<E: UserFacing> From<E> for UserError {
    fn from(error: E) -> Self {
        let hint = error.hint();
        Self {
            code: error.exit_class().code(),
            error: Box::new(error),
            hint,
        }
    }
}
