//! Downloads of `url:` packages: the whole body into memory (bounded by
//! [`super::MAX_PACKAGE_BYTES`]), hashed by the caller before anything is stored, so an
//! interrupted or oversized download never leaves a file behind.

use std::time::Duration;

use super::error::{FetchError, FetchErrorKind};

/// How long connecting to a package host may take: a dead host fails the run quickly
/// instead of holding CI.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// How long a whole download may take: bounds a server that trickles bytes forever.
const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(600);

/// Downloads `url` for package `package`.
pub async fn download(package: &str, url: &str) -> Result<Vec<u8>, FetchError> {
    let error = |kind| FetchError::new(package, url, kind);
    let client = reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(DOWNLOAD_TIMEOUT)
        .build()
        .map_err(|e| error(FetchErrorKind::Io(format!("cannot set up HTTP: {e}"))))?;
    let mut response = client
        .get(url)
        .send()
        .await
        .map_err(|e| error(FetchErrorKind::Unreachable(chain(&e))))?;
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
        && len > super::MAX_PACKAGE_BYTES
    {
        return Err(error(FetchErrorKind::TooLarge(len)));
    }
    let mut bytes = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if (bytes.len() + chunk.len()) as u64 > super::MAX_PACKAGE_BYTES {
                    return Err(error(FetchErrorKind::TooLarge(
                        (bytes.len() + chunk.len()) as u64,
                    )));
                }
                bytes.extend_from_slice(&chunk);
            }
            Ok(None) => break,
            Err(e) => return Err(error(FetchErrorKind::Interrupted(chain(&e)))),
        }
    }
    Ok(bytes)
}

/// An error and its causes on one line (reqwest's own message is only the outer layer).
pub(crate) fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
