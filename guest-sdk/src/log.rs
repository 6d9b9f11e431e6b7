//! The step log (WIT interface `log`): lines shown under the step's banner.
//! Start from [`info`]; [`Ctx`](crate::Ctx) has the same methods.

use crate::__private::bindings::prometheus::step::log as wit;

/// Severity of a log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// Very detailed diagnostics.
    Trace,
    /// Diagnostics.
    Debug,
    /// Normal progress.
    Info,
    /// Something looks wrong but the step goes on.
    Warn,
    /// Something failed.
    Error,
}

impl From<Level> for wit::Level {
    fn from(level: Level) -> Self {
        match level {
            Level::Trace => wit::Level::Trace,
            Level::Debug => wit::Level::Debug,
            Level::Info => wit::Level::Info,
            Level::Warn => wit::Level::Warn,
            Level::Error => wit::Level::Error,
        }
    }
}

/// Writes one log line at `level`.
pub fn log(level: Level, message: impl AsRef<str>) {
    wit::log(level.into(), message.as_ref());
}

/// Writes a line at trace level.
pub fn trace(message: impl AsRef<str>) {
    log(Level::Trace, message);
}

/// Writes a line at debug level.
pub fn debug(message: impl AsRef<str>) {
    log(Level::Debug, message);
}

/// Writes a line at info level.
pub fn info(message: impl AsRef<str>) {
    log(Level::Info, message);
}

/// Writes a line at warn level.
pub fn warn(message: impl AsRef<str>) {
    log(Level::Warn, message);
}

/// Writes a line at error level.
pub fn error(message: impl AsRef<str>) {
    log(Level::Error, message);
}
