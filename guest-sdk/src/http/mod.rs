//! Outbound HTTP (WIT interface `http`), limited by the runner to the test's own services.
//! Start from [`get`], [`post_json`] or [`Request`]; a [`Response`] of any status is `Ok`,
//! and [`Response::error_for_status`] turns 4xx/5xx into an [`Error`] that quotes the
//! server's `message`. `request.rs` builds and sends, `response.rs` reads the answer.

mod request;
mod response;

pub use request::Request;
pub use response::Response;

use serde::Serialize;

use crate::Error;

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
