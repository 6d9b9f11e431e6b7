//! Downloads of `url:` packages: the whole body into memory (bounded by the options'
//! `max_bytes`), hashed by the caller before anything is stored, so an interrupted or
//! oversized download never leaves a file behind. The client, the redirect rules and the
//! capped reader are the network policy's ([`super::policy`]), shared with OCI requests.

use reqwest::Url;

use crate::error_text::error_chain;

use super::error::{FetchError, FetchErrorKind, Redact};
use super::oci::RegistryOptions;
use super::policy::{self, BodyError};
use crate::config::{redact_url, uri_credentials};

/// Downloads `url` for package `package`.
pub async fn download(
    package: &str,
    url: &str,
    options: &RegistryOptions,
) -> Result<Vec<u8>, FetchError> {
    // Credentials in the URL never reach a message: the source is shown redacted, and
    // every message (reqwest's carry the URL) is redacted where the error is built.
    let mut redact = Redact::new();
    for secret in uri_credentials(url) {
        redact.add(&secret);
    }
    let shown = redact_url(url);
    let error = |kind| FetchError::redacted(package, &shown, kind, &redact);
    let parsed =
        Url::parse(url).map_err(|e| error(FetchErrorKind::BadReference(format!("{e}"))))?;
    if !policy::allowed(&parsed, options.insecure) {
        return Err(error(FetchErrorKind::Insecure(shown.clone())));
    }
    // A token written into the URL is sent as basic authentication: like every credential,
    // only over https or to this machine, `--insecure` or not.
    let has_credentials = !parsed.username().is_empty() || parsed.password().is_some();
    if has_credentials && !policy::may_carry_credentials(&parsed) {
        return Err(error(FetchErrorKind::Insecure(format!(
            "{shown} with the credentials it carries (they never travel over plain HTTP to \
             another machine, --insecure or not)"
        ))));
    }
    let limits = options.limits();
    let client = policy::client(&limits)
        .map_err(|e| error(FetchErrorKind::Io(format!("cannot set up HTTP: {e}"))))?;
    let transfer = |e: &reqwest::Error, kind: fn(String) -> FetchErrorKind| {
        let chain = error_chain(e);
        if let Some(at) = chain.find(policy::REFUSED_REDIRECT) {
            let to = chain[at + policy::REFUSED_REDIRECT.len()..]
                .trim_start_matches([' ', '('])
                .split([')', ' '])
                .next()
                .unwrap_or_default()
                .to_string();
            return error(FetchErrorKind::InsecureRedirect(to.to_string()));
        }
        if e.is_timeout() {
            return error(FetchErrorKind::Interrupted(format!(
                "timed out (a read stalled for {} s, or the download took longer than {} s: \
                 --fetch-timeout and --fetch-deadline): {chain}",
                limits.read_timeout.as_secs(),
                limits.deadline.as_secs()
            )));
        }
        error(kind(chain))
    };
    let response = client
        .get(url)
        .send()
        .await
        .map_err(|e| transfer(&e, FetchErrorKind::Unreachable))?;
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
    policy::read_capped(response, options.max_bytes)
        .await
        .map_err(|e| match e {
            BodyError::TooLarge { size } => error(FetchErrorKind::TooLarge {
                size,
                max: options.max_bytes,
            }),
            BodyError::Transfer(e) => transfer(&e, FetchErrorKind::Interrupted),
        })
}
