//! Downloads of `url:` packages: the whole body into memory (bounded by the options'
//! `max_bytes`), hashed by the caller before anything is stored, so an interrupted or
//! oversized download never leaves a file behind. Only https, except to this machine or
//! with `--insecure`, redirects included; at most [`super::MAX_REDIRECTS`] redirects.

use std::time::Duration;

use reqwest::Url;
use reqwest::redirect::Policy;

use crate::error_text::error_chain;

use super::error::{FetchError, FetchErrorKind};
use super::oci::{RegistryOptions, is_loopback};
use crate::config::{redact_url, uri_credentials};

/// How long connecting to a package host may take: a dead host fails the run quickly
/// instead of holding CI.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// How long a whole download may take: bounds a server that trickles bytes forever (the
/// read timeout only bounds each stall).
const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(600);

/// Whether `url` may be fetched: https, or http to this machine, or anything http(s) with
/// `insecure`.
fn allowed(url: &Url, insecure: bool) -> bool {
    match url.scheme() {
        "https" => true,
        "http" => insecure || url.host_str().is_some_and(is_loopback),
        _ => false,
    }
}

/// Downloads `url` for package `package`.
pub async fn download(
    package: &str,
    url: &str,
    options: &RegistryOptions,
) -> Result<Vec<u8>, FetchError> {
    // Credentials in the URL never reach a message: the source is shown redacted, and
    // every message (reqwest's carry the URL) is scrubbed.
    let secrets = uri_credentials(url);
    let shown = redact_url(url);
    let scrub = |text: String| {
        secrets
            .iter()
            .fold(text, |text, secret| text.replace(secret, "***"))
    };
    let error = |kind| FetchError::new(package, &shown, kind);
    let parsed =
        Url::parse(url).map_err(|e| error(FetchErrorKind::BadReference(format!("{e}"))))?;
    if !allowed(&parsed, options.insecure) {
        return Err(error(FetchErrorKind::Insecure(shown.clone())));
    }
    let insecure = options.insecure;
    // Each hop is checked like the first: a redirect must not downgrade to plain HTTP.
    let policy = Policy::custom(move |attempt| {
        if attempt.previous().len() > super::MAX_REDIRECTS {
            attempt.error(format!("more than {} redirects", super::MAX_REDIRECTS))
        } else if !allowed(attempt.url(), insecure) {
            let to = attempt.url().to_string();
            attempt.error(format!("a redirect to plain HTTP ({to})"))
        } else {
            attempt.follow()
        }
    });
    let client = reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .read_timeout(options.read_timeout)
        .timeout(DOWNLOAD_TIMEOUT)
        .redirect(policy)
        .build()
        .map_err(|e| {
            error(FetchErrorKind::Io(scrub(format!(
                "cannot set up HTTP: {e}"
            ))))
        })?;
    let mut response = client
        .get(url)
        .send()
        .await
        .map_err(|e| error(FetchErrorKind::Unreachable(scrub(error_chain(&e)))))?;
    let status = response.status();
    if status == reqwest::StatusCode::NOT_FOUND {
        return Err(error(FetchErrorKind::NotFound("HTTP 404".into())));
    }
    if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
        return Err(error(FetchErrorKind::Unauthorized(format!(
            "HTTP {}",
            status.as_u16()
        ))));
    }
    if !status.is_success() {
        return Err(error(FetchErrorKind::Status(status.as_u16())));
    }
    if let Some(len) = response.content_length()
        && len > options.max_bytes
    {
        return Err(error(FetchErrorKind::TooLarge {
            size: len,
            max: options.max_bytes,
        }));
    }
    let mut bytes = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let size = (bytes.len() + chunk.len()) as u64;
                if size > options.max_bytes {
                    return Err(error(FetchErrorKind::TooLarge {
                        size,
                        max: options.max_bytes,
                    }));
                }
                bytes.extend_from_slice(&chunk);
            }
            Ok(None) => break,
            Err(e) => return Err(error(FetchErrorKind::Interrupted(scrub(error_chain(&e))))),
        }
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_or_loopback_http_unless_insecure() {
        let url = |u: &str| Url::parse(u).unwrap();
        assert!(allowed(&url("https://example.com/a.wasm"), false));
        assert!(allowed(&url("http://127.0.0.1:8000/a.wasm"), false));
        assert!(allowed(&url("http://localhost/a.wasm"), false));
        assert!(allowed(&url("http://[::1]:80/a.wasm"), false));
        assert!(!allowed(&url("http://example.com/a.wasm"), false));
        assert!(!allowed(&url("http://10.0.0.1/a.wasm"), false));
        assert!(allowed(&url("http://example.com/a.wasm"), true));
        assert!(!allowed(&url("ftp://example.com/a.wasm"), true));
        assert!(!allowed(&url("file:///etc/passwd"), true));
    }
}
