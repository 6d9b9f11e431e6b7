//! Outbound HTTP (WIT interface `http`), limited by the runner to the test's own services.
//! Start from [`get`], [`post_json`] or [`Request`]; a [`Response`] of any status is `Ok`,
//! and [`Response::error_for_status`] turns 4xx/5xx into an [`Error`] that quotes the
//! server's `message`.

use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::__private::bindings::prometheus::step::http as wit;
use crate::{Error, codec};

/// Longest part of a response body quoted in an error message: enough for a server's
/// error text, short enough to keep the step's failure line readable.
const MAX_QUOTED_BODY: usize = 300;

/// Sends a `GET` request.
pub fn get(url: impl Into<String>) -> Result<Response, Error> {
    Request::get(url).send()
}

/// Sends a `POST` request with `body` as JSON.
pub fn post_json<T: Serialize + ?Sized>(
    url: impl Into<String>,
    body: &T,
) -> Result<Response, Error> {
    Request::post(url).json(body).send()
}

/// The HTTP client of a step, as [`Ctx::http`](crate::Ctx::http) returns it; the same calls
/// as this module's free functions.
#[derive(Debug, Clone, Copy, Default)]
pub struct Http;

impl Http {
    /// Sends a `GET` request.
    pub fn get(&self, url: impl Into<String>) -> Result<Response, Error> {
        get(url)
    }

    /// Sends a `POST` request with `body` as JSON.
    pub fn post_json<T: Serialize + ?Sized>(
        &self,
        url: impl Into<String>,
        body: &T,
    ) -> Result<Response, Error> {
        post_json(url, body)
    }

    /// Starts a request with any method.
    pub fn request(&self, method: impl Into<String>, url: impl Into<String>) -> Request {
        Request::new(method, url)
    }
}

/// An HTTP request being built; [`Request::send`] sends it.
///
/// Defaults: no headers, no body, the runner's timeout.
///
/// ```
/// use std::time::Duration;
/// use prometheus_step::{Request, json};
///
/// let request = Request::post("http://127.0.0.1:5001/greetings")
///     .header("x-round", "1")
///     .json(&json!({"text": "hi"}))
///     .timeout(Duration::from_secs(5));
/// // request.send()? inside a step
/// # let _ = request;
/// ```
#[derive(Debug, Clone)]
pub struct Request {
    method: String,
    url: String,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
    timeout_ms: Option<u32>,
    /// A body that could not be serialised: reported by `send`, so the builder stays
    /// chainable.
    error: Option<Error>,
}

impl Request {
    /// A request with `method` (any case; sent upper-case) to the absolute `url`.
    pub fn new(method: impl Into<String>, url: impl Into<String>) -> Self {
        Self {
            method: method.into().to_ascii_uppercase(),
            url: url.into(),
            headers: Vec::new(),
            body: None,
            timeout_ms: None,
            error: None,
        }
    }

    /// A `GET` request.
    pub fn get(url: impl Into<String>) -> Self {
        Self::new("GET", url)
    }

    /// A `POST` request.
    pub fn post(url: impl Into<String>) -> Self {
        Self::new("POST", url)
    }

    /// A `PUT` request.
    pub fn put(url: impl Into<String>) -> Self {
        Self::new("PUT", url)
    }

    /// A `PATCH` request.
    pub fn patch(url: impl Into<String>) -> Self {
        Self::new("PATCH", url)
    }

    /// A `DELETE` request.
    pub fn delete(url: impl Into<String>) -> Self {
        Self::new("DELETE", url)
    }

    /// Adds a header (sent in the order added).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the body to `body` serialised as JSON and, unless already set,
    /// `content-type: application/json`. A serialisation error is reported by `send`.
    pub fn json<T: Serialize + ?Sized>(mut self, body: &T) -> Self {
        match serde_json::to_vec(body) {
            Ok(bytes) => {
                self.body = Some(bytes);
                if !self.has_header("content-type") {
                    self.headers
                        .push(("content-type".to_owned(), "application/json".to_owned()));
                }
            }
            Err(error) => {
                self.error = Some(Error::msg(format!(
                    "{} {}: request body: {error}",
                    self.method, self.url
                )));
            }
        }
        self
    }

    /// Sets the raw body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = Some(body.into());
        self
    }

    /// Overrides the runner's HTTP timeout for this request (whole milliseconds, at least 1,
    /// at most `u32::MAX`).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        let millis = u32::try_from(timeout.as_millis()).unwrap_or(u32::MAX);
        self.timeout_ms = Some(millis.max(1));
        self
    }

    /// Sends the request. `Ok` for any status (check it with [`Response::error_for_status`]
    /// or [`Response::expect_status`]); `Err` when no response came: denied destination,
    /// connection failure, timeout, oversized body or malformed request.
    pub fn send(self) -> Result<Response, Error> {
        let (request, line) = self.into_wit()?;
        match wit::send(&request) {
            Ok(response) => Ok(Response::from_wit(response, line)),
            Err(error) => Err(describe_http_error(&line, error)),
        }
    }

    fn has_header(&self, name: &str) -> bool {
        self.headers
            .iter()
            .any(|(key, _)| key.eq_ignore_ascii_case(name))
    }

    /// The WIT request and its `METHOD url` line for messages.
    fn into_wit(self) -> Result<(wit::Request, String), Error> {
        if let Some(error) = self.error {
            return Err(error);
        }
        let line = format!("{} {}", self.method, self.url);
        let request = wit::Request {
            method: self.method,
            url: self.url,
            headers: self.headers,
            body: self.body,
            timeout_ms: self.timeout_ms,
        };
        Ok((request, line))
    }
}

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

    fn from_wit(response: wit::Response, request: String) -> Self {
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

fn describe_http_error(request: &str, error: wit::HttpError) -> Error {
    let (what, detail) = match error {
        wit::HttpError::Denied(detail) => ("denied", detail),
        wit::HttpError::InvalidRequest(detail) => ("invalid request", detail),
        wit::HttpError::Connection(detail) => ("connection failed", detail),
        wit::HttpError::Timeout(detail) => ("timed out", detail),
        wit::HttpError::TooLarge(detail) => ("body too large", detail),
    };
    if detail.is_empty() {
        Error::msg(format!("{request}: {what}"))
    } else {
        Error::msg(format!("{request}: {what}: {detail}"))
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

    #[test]
    fn json_body_sets_content_type_once() {
        let (request, line) = Request::new("post", "http://w:1/greetings")
            .header("Content-Type", "application/vnd+json")
            .json(&json!({"a": 1}))
            .timeout(Duration::from_micros(10))
            .into_wit()
            .unwrap();
        assert_eq!(line, "POST http://w:1/greetings");
        assert_eq!(request.headers.len(), 1);
        assert_eq!(request.body.as_deref(), Some(&b"{\"a\":1}"[..]));
        assert_eq!(request.timeout_ms, Some(1));

        let (request, _) = Request::post("http://w:1/x")
            .json(&json!([]))
            .into_wit()
            .unwrap();
        assert_eq!(
            request.headers,
            vec![("content-type".into(), "application/json".into())]
        );
    }

    #[test]
    fn unserialisable_body_fails_at_send() {
        let mut map = std::collections::BTreeMap::new();
        map.insert(vec![1u8], 1);
        let err = Request::post("http://w:1/x")
            .json(&map)
            .into_wit()
            .unwrap_err();
        assert!(
            err.message()
                .starts_with("POST http://w:1/x: request body:"),
            "{err}"
        );
    }

    #[test]
    fn transport_errors_say_what_happened() {
        let err = describe_http_error(
            "GET http://evil:1/",
            wit::HttpError::Denied("evil:1 is not allowed".into()),
        );
        assert_eq!(
            err.message(),
            "GET http://evil:1/: denied: evil:1 is not allowed"
        );
        let err = describe_http_error("GET http://w:1/", wit::HttpError::Timeout(String::new()));
        assert_eq!(err.message(), "GET http://w:1/: timed out");
    }
}
