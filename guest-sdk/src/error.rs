//! The step error: a message that becomes the WIT `err(string)` of `prepare`, `execute` or
//! `post-load`. Start from [`Error`]; [`Context`] adds a prefix saying what was being done.
//! Imports no other module of the crate.

use std::fmt;

/// Why a step failed: one message, shown by the runner as the step's failure.
///
/// Any standard error converts into it, so `?` works on serde_json, parsing and SDK results
/// alike; [`Error::msg`], [`fail!`](crate::fail) and [`ensure!`](crate::ensure) make one from
/// text. Like `anyhow::Error`, it does not implement `std::error::Error` itself (that would
/// conflict with the blanket conversion).
///
/// ```
/// use prometheus_step::{Context, Error};
///
/// fn parse_round(text: &str) -> Result<u32, Error> {
///     let round: u32 = text.trim().parse().context("round is not a number")?;
///     if round == 0 {
///         prometheus_step::fail!("rounds count from 1, got {round}");
///     }
///     Ok(round)
/// }
///
/// assert_eq!(parse_round("2").unwrap(), 2);
/// assert_eq!(
///     parse_round("x").unwrap_err().to_string(),
///     "round is not a number: invalid digit found in string"
/// );
/// assert_eq!(parse_round("0").unwrap_err().message(), "rounds count from 1, got 0");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Error {
    message: String,
}

impl Error {
    /// An error with this message.
    pub fn msg(message: impl fmt::Display) -> Self {
        Self {
            message: message.to_string(),
        }
    }

    /// The message, as the runner will show it.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The message, by value.
    pub fn into_message(self) -> String {
        self.message
    }

    /// Prefixes the message with what was being done: `"{context}: {message}"`.
    pub fn context(self, context: impl fmt::Display) -> Self {
        Self {
            message: format!("{context}: {}", self.message),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Prints the bare message, so that `unwrap()` and `{:?}` read well.
impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Any standard error becomes its message, followed by its sources (`outer: inner`).
impl<E: std::error::Error> From<E> for Error {
    fn from(error: E) -> Self {
        let mut message = error.to_string();
        let mut source = error.source();
        while let Some(cause) = source {
            let text = cause.to_string();
            // Many errors repeat their source in their own message; say it once.
            if !message.contains(&text) {
                message.push_str(": ");
                message.push_str(&text);
            }
            source = cause.source();
        }
        Self { message }
    }
}

impl From<Error> for String {
    fn from(error: Error) -> Self {
        error.message
    }
}

/// Adds what was being done to an error, or turns a `None` into an error.
///
/// Implemented for every `Result` whose error converts into [`Error`], and for `Option`.
///
/// ```
/// use prometheus_step::{Context, Error};
///
/// let missing: Option<u32> = None;
/// let err: Error = missing.context("no greeting_id in state").unwrap_err();
/// assert_eq!(err.message(), "no greeting_id in state");
/// ```
pub trait Context<T> {
    /// On error, prefixes the message with `context` (`"{context}: {message}"`); on `None`,
    /// the error is `context` itself.
    fn context(self, context: impl fmt::Display) -> Result<T, Error>;

    /// Like [`Context::context`], building the text only when there is an error.
    fn with_context<C: fmt::Display>(self, context: impl FnOnce() -> C) -> Result<T, Error>;
}

impl<T, E: Into<Error>> Context<T> for Result<T, E> {
    fn context(self, context: impl fmt::Display) -> Result<T, Error> {
        self.map_err(|error| error.into().context(context))
    }

    fn with_context<C: fmt::Display>(self, context: impl FnOnce() -> C) -> Result<T, Error> {
        self.map_err(|error| error.into().context(context()))
    }
}

impl<T> Context<T> for Option<T> {
    fn context(self, context: impl fmt::Display) -> Result<T, Error> {
        self.ok_or_else(|| Error::msg(context))
    }

    fn with_context<C: fmt::Display>(self, context: impl FnOnce() -> C) -> Result<T, Error> {
        self.ok_or_else(|| Error::msg(context()))
    }
}

/// Returns early from a step with an [`Error`] built like `format!`.
///
/// ```
/// fn check(status: u16) -> Result<(), prometheus_step::Error> {
///     if status != 200 {
///         prometheus_step::fail!("health answered {status}");
///     }
///     Ok(())
/// }
/// assert_eq!(check(503).unwrap_err().message(), "health answered 503");
/// ```
#[macro_export]
macro_rules! fail {
    ($($arg:tt)+) => {
        return ::core::result::Result::Err($crate::Error::msg(::std::format!($($arg)+)))
    };
}

/// Returns early with an [`Error`] built like `format!` unless the condition holds.
///
/// ```
/// fn check(count: usize, round: u32) -> Result<(), prometheus_step::Error> {
///     prometheus_step::ensure!(count >= round as usize, "{count} greetings after round {round}");
///     Ok(())
/// }
/// assert!(check(2, 2).is_ok());
/// assert_eq!(check(1, 2).unwrap_err().message(), "1 greetings after round 2");
/// ```
#[macro_export]
macro_rules! ensure {
    ($cond:expr, $($arg:tt)+) => {
        if !$cond {
            $crate::fail!($($arg)+);
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Outer(std::io::Error);

    impl fmt::Display for Outer {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("reading greeting")
        }
    }

    impl std::error::Error for Outer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn standard_errors_convert_with_their_sources() {
        let inner = std::io::Error::other("pipe closed");
        let err = Error::from(Outer(inner));
        assert_eq!(err.message(), "reading greeting: pipe closed");
    }

    #[test]
    fn serde_errors_convert_with_question_mark() {
        fn parse() -> Result<u32, Error> {
            Ok(serde_json::from_str("\"x\"")?)
        }
        assert!(
            parse()
                .unwrap_err()
                .message()
                .starts_with("invalid type: string")
        );
    }

    #[test]
    fn context_prefixes_the_message() {
        let result: Result<(), Error> = Err(Error::msg("status 404"));
        let err = result.with_context(|| "GET /greetings/7").unwrap_err();
        assert_eq!(err.to_string(), "GET /greetings/7: status 404");
        assert_eq!(String::from(err), "GET /greetings/7: status 404");
    }
}
