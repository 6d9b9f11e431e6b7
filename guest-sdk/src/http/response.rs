//! [`Response`]: status checks whose errors quote the server, and JSON decoding.

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::__private::bindings::prometheus::step::http as wit;
use crate::{Error, codec};

/// Longest part of a response body quoted in an error message: enough for a server's
/// error text, short enough to keep the step's failure line readable.
const MAX_QUOTED_BODY: usize = 300;

/// An HTTP response of any status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code, e.g. 200.
    pub status: u16,
    /// Header names (lowercase) and values.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
    /// `METHOD url` of the request, for error messages.
    request: String,
}

impl Response {
    /// A response as if received for `request` (`"GET http://..."`, used in error
    /// messages); for tests of code that handles responses.
    pub fn new(
        request: impl Into<String>,
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    ) -> Self {
        Self {
            status,
            headers,
            body,
            request: request.into(),
        }
    }

    pub(super) fn from_wit(response: wit::Response, request: String) -> Self {
        Self::new(request, response.status, response.headers, response.body)
    }

    /// `true` for a 2xx status.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The first value of the header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// The body as text (invalid UTF-8 replaced by `�`).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as JSON into `T`; the error names the request and quotes the body.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_slice(&self.body).map_err(|error| {
            Error::msg(format!(
                "{}: response body is not the expected JSON: {error} (body: {})",
                self.request,
                codec::truncate(self.text().trim(), MAX_QUOTED_BODY)
            ))
        })
    }

    /// `Ok(self)` for a 2xx status; otherwise an error with the request, the status and
    /// the server's explanation: the body's `message`, `error` or `detail` field when it is
    /// JSON, else the body text.
    pub fn error_for_status(self) -> Result<Self, Error> {
        if self.is_success() {
            Ok(self)
        } else {
            Err(self.status_error(None))
        }
    }

    /// `Ok(self)` when the status is `expected`; otherwise an error like
    /// [`Response::error_for_status`]'s that also names the expected status.
    pub fn expect_status(self, expected: u16) -> Result<Self, Error> {
        if self.status == expected {
            Ok(self)
        } else {
            Err(self.status_error(Some(expected)))
        }
    }

    fn status_error(&self, expected: Option<u16>) -> Error {
        let mut message = format!("{}: ", self.request);
        if let Some(expected) = expected {
            message.push_str(&format!("expected status {expected}, got "));
        } else {
            message.push_str("status ");
        }
        message.push_str(&self.status.to_string());
        if let Some(reason) = reason_phrase(self.status) {
            message.push(' ');
            message.push_str(reason);
        }
        if let Some(explanation) = self.explanation() {
            message.push_str(": ");
            message.push_str(&explanation);
        }
        Error::msg(message)
    }

    /// What the server said about the status, if anything.
    fn explanation(&self) -> Option<String> {
        let text = self.text();
        let text = text.trim();
        if text.is_empty() {
            return None;
        }
        let explanation = match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(map)) => ["message", "error", "detail"]
                .iter()
                .find_map(|key| match map.get(*key) {
                    Some(Value::String(text)) => Some(text.clone()),
                    Some(Value::Object(inner)) => inner
                        .get("message")
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                    _ => None,
                })
                .unwrap_or_else(|| text.to_owned()),
            _ => text.to_owned(),
        };
        Some(codec::truncate(&explanation, MAX_QUOTED_BODY))
    }
}

fn reason_phrase(status: u16) -> Option<&'static str> {
    Some(match status {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        413 => "Payload Too Large",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn response(status: u16, body: &str) -> Response {
        Response::new(
            "POST http://w:1/greetings",
            status,
            vec![],
            body.as_bytes().to_vec(),
        )
    }

    #[test]
    fn error_for_status_quotes_the_servers_message() {
        let err = response(400, r#"{"message":"text must not be empty"}"#)
            .error_for_status()
            .unwrap_err();
        assert_eq!(
            err.message(),
            "POST http://w:1/greetings: status 400 Bad Request: text must not be empty"
        );
    }

    #[test]
    fn error_for_status_falls_back_to_error_detail_and_text() {
        let err = response(500, r#"{"error":"db down"}"#)
            .error_for_status()
            .unwrap_err();
        assert!(
            err.message()
                .ends_with("500 Internal Server Error: db down"),
            "{err}"
        );
        let err = response(422, r#"{"detail":"bad round"}"#)
            .error_for_status()
            .unwrap_err();
        assert!(err.message().ends_with(": bad round"), "{err}");
        let err = response(502, "upstream gone\n")
            .error_for_status()
            .unwrap_err();
        assert!(
            err.message().ends_with("502 Bad Gateway: upstream gone"),
            "{err}"
        );
        let err = response(404, "").error_for_status().unwrap_err();
        assert_eq!(
            err.message(),
            "POST http://w:1/greetings: status 404 Not Found"
        );
        let err = response(599, r#"{"code":7}"#)
            .error_for_status()
            .unwrap_err();
        assert_eq!(
            err.message(),
            r#"POST http://w:1/greetings: status 599: {"code":7}"#
        );
    }

    #[test]
    fn expect_status_names_the_expected_status() {
        assert!(response(201, "{}").expect_status(201).is_ok());
        let err = response(200, "{}").expect_status(201).unwrap_err();
        assert_eq!(
            err.message(),
            "POST http://w:1/greetings: expected status 201, got 200 OK: {}"
        );
    }

    #[test]
    fn success_and_json_body() {
        let ok = response(201, r#"{"id":"worker1-1"}"#);
        assert!(ok.is_success());
        let value: Value = ok.json().unwrap();
        assert_eq!(value, json!({"id": "worker1-1"}));
        let err = response(200, "<html>").json::<Value>().unwrap_err();
        assert!(err.message().contains("not the expected JSON"), "{err}");
        assert!(err.message().ends_with("(body: <html>)"), "{err}");
    }
}
