//! [`Request`]: the builder, the WIT call, and transport errors turned into [`Error`]s.

use std::time::Duration;

use serde::Serialize;

use super::Response;
use crate::__private::bindings::prometheus::step::http as wit;
use crate::Error;

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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
