//! JSON text <-> Rust values at the WIT boundary, with errors that say which value failed.
//! Pure (no imports are called), so every rule here is tested on the host target.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::Error;

/// Parses the JSON text `text` into `T`; `what` names the value in the error
/// (`"state key `greeting_id`"`).
pub(crate) fn decode<T: DeserializeOwned>(
    text: &str,
    what: &dyn Fn() -> String,
) -> Result<T, Error> {
    serde_json::from_str(text).map_err(|error| Error::msg(format!("{}: {error}", what())))
}

/// Parses a step's `params`. Empty text counts as `{}` (no parameters), and `{}` also
/// fits types that expect nothing, such as `()` or `Option<T>`, so a step without
/// parameters can take `_: ()`.
pub(crate) fn decode_params<T: DeserializeOwned>(
    text: &str,
    what: &dyn Fn() -> String,
) -> Result<T, Error> {
    let text = if text.trim().is_empty() { "{}" } else { text };
    let value: Value = decode(text, what)?;
    let is_empty_object = value.as_object().is_some_and(|map| map.is_empty());
    match serde_json::from_value::<T>(value) {
        Ok(params) => Ok(params),
        Err(error) => {
            if is_empty_object && let Ok(params) = serde_json::from_value::<T>(Value::Null) {
                return Ok(params);
            }
            Err(Error::msg(format!("{}: {error}", what())))
        }
    }
}

/// Serialises `value` to JSON text; `what` names it in the error.
pub(crate) fn encode<T: Serialize + ?Sized>(
    value: &T,
    what: &dyn Fn() -> String,
) -> Result<String, Error> {
    serde_json::to_string(value).map_err(|error| Error::msg(format!("{}: {error}", what())))
}

/// At most `max` characters of `text`, with `…` when cut: error messages quote bodies.
pub(crate) fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    fn what() -> String {
        "step `s`: params".to_owned()
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Greeting {
        text: String,
    }

    #[test]
    fn params_decode_into_structs() {
        let params: Greeting = decode_params(r#"{"text":"hi"}"#, &what).unwrap();
        assert_eq!(params.text, "hi");
    }

    #[test]
    fn empty_params_fit_unit_and_option() {
        decode_params::<()>("{}", &what).unwrap();
        decode_params::<()>("", &what).unwrap();
        assert_eq!(
            decode_params::<Option<Greeting>>("{}", &what).unwrap(),
            None
        );
        assert_eq!(
            decode_params::<Value>("{}", &what).unwrap(),
            serde_json::json!({})
        );
    }

    #[test]
    fn params_errors_name_the_step_and_the_field() {
        let err = decode_params::<Greeting>("{}", &what).unwrap_err();
        assert_eq!(err.message(), "step `s`: params: missing field `text`");
        let err = decode_params::<Greeting>("{", &what).unwrap_err();
        assert!(err.message().starts_with("step `s`: params: EOF"), "{err}");
    }

    #[test]
    fn truncate_cuts_on_char_boundaries() {
        assert_eq!(truncate("héllo", 2), "hé…");
        assert_eq!(truncate("hé", 2), "hé");
    }
}
