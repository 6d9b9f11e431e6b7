//! [`Outcome`]: how a step ends when it does not fail, and its WIT form.

use serde::Serialize;
use serde_json::Value;

use crate::__private::bindings::prometheus::step::types as wit;
use crate::Error;

/// How a step ended when it did not fail.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The step completed; the value is recorded in the run's report.
    Done(Value),
    /// The step chose not to run; the text says why. The run goes on.
    Skip(String),
}

impl Outcome {
    /// The step completed with `result` (a [`json!`](crate::json) value, a string, a
    /// number, ...).
    pub fn done(result: impl Into<Value>) -> Self {
        Self::Done(result.into())
    }

    /// The step completed with `result` serialised to JSON.
    pub fn done_with<T: Serialize + ?Sized>(result: &T) -> Result<Self, Error> {
        Ok(Self::Done(serde_json::to_value(result).map_err(
            |error| Error::msg(format!("step result: {error}")),
        )?))
    }

    /// The step did not run, because `reason`.
    pub fn skip(reason: impl Into<String>) -> Self {
        Self::Skip(reason.into())
    }
}

impl From<Outcome> for wit::Outcome {
    fn from(outcome: Outcome) -> Self {
        match outcome {
            Outcome::Done(value) => wit::Outcome::Done(value.to_string()),
            Outcome::Skip(reason) => wit::Outcome::Skip(reason),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn outcomes_cross_the_boundary_as_json_text() {
        let done = wit::Outcome::from(Outcome::done(json!({"greetings": 2})));
        assert!(matches!(done, wit::Outcome::Done(text) if text == r#"{"greetings":2}"#));
        let skip = wit::Outcome::from(Outcome::skip("odd round"));
        assert!(matches!(skip, wit::Outcome::Skip(reason) if reason == "odd round"));
        let with = Outcome::done_with(&vec![1, 2]).unwrap();
        assert_eq!(with, Outcome::Done(json!([1, 2])));
    }
}
