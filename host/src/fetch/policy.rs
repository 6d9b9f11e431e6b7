//! The one network policy every fetch goes through (`url:` downloads, and every OCI request:
//! manifests, blobs, foreign layers, token endpoints, push uploads): the HTTP client and its
//! redirect policy, which addresses may be contacted and which may receive credentials, and
//! the capped body readers. `url.rs` and `registry.rs` build their clients and read their
//! bodies here only, so no request can skip a rule.
//!
//! The rules: https, or plain HTTP to this machine (or anywhere with `--insecure`), checked
//! on every redirect hop before it is followed; at most [`super::MAX_REDIRECTS`] hops; a
//! connect timeout, a read timeout (`--fetch-timeout`) and a whole-request deadline
//! (`--fetch-deadline`); every body read against a cap while it streams (Content-Length is
//! only used to refuse early, never trusted to bound memory). Credentials travel only over
//! https or to this machine, never over plain HTTP to another host, `--insecure` or not.

use std::net::IpAddr;
use std::time::Duration;

use reqwest::redirect::Policy;
use reqwest::{Response, Url};

/// How long connecting to a host may take: a dead host fails quickly instead of holding CI.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// The most of an error body (a registry's or a package host's) that is read: enough for
/// a registry's JSON error envelope; the rest is never read, so a 10 MiB error body costs
/// 4 KiB.
pub const ERROR_BODY_BYTES: usize = 4 << 10;

/// Whether `host` (a host name or IP, brackets allowed, no port) is this machine.
pub fn is_loopback_host(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Whether `url` may be contacted at all: https, or http to this machine, or any http(s)
/// with `insecure`. Nothing else (no `file:`, no `ftp:`).
pub fn allowed(url: &Url, insecure: bool) -> bool {
    match url.scheme() {
        "https" => true,
        "http" => insecure || url.host_str().is_some_and(is_loopback_host),
        _ => false,
    }
}

/// Whether `url` may receive credentials (a password, a basic or bearer `Authorization`):
/// only over https or to this machine. `--insecure` does not widen this: it lets anonymous
/// traffic use plain HTTP, never a password.
pub fn may_carry_credentials(url: &Url) -> bool {
    url.scheme() == "https"
        || (url.scheme() == "http" && url.host_str().is_some_and(is_loopback_host))
}

/// Whether two URLs have the same origin (scheme, host and port).
pub fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
}

/// The network options of one command.
#[derive(Debug, Clone, Copy)]
pub struct NetLimits {
    /// Allow plain HTTP to hosts that are not this machine (never for credentials).
    pub insecure: bool,
    /// How long one read may stall.
    pub read_timeout: Duration,
    /// How long one whole request (connect, redirects, body) may take.
    pub deadline: Duration,
}

/// The message a refused redirect carries; found again in the error chain to report it
/// as [`super::FetchErrorKind::Insecure`].
pub const REFUSED_REDIRECT: &str = "refused a redirect to plain HTTP";

/// The HTTP client every fetch uses: timeouts, and a redirect policy that checks every hop
/// like the first (no downgrade to plain HTTP, at most [`super::MAX_REDIRECTS`] hops).
/// reqwest drops `Authorization` on a hop to another origin, so a redirect never carries
/// credentials away.
pub fn client(limits: &NetLimits) -> Result<reqwest::Client, reqwest::Error> {
    let insecure = limits.insecure;
    let policy = Policy::custom(move |attempt| {
        if attempt.previous().len() > super::MAX_REDIRECTS {
            attempt.error(format!("more than {} redirects", super::MAX_REDIRECTS))
        } else if !allowed(attempt.url(), insecure) {
            let to = attempt.url().clone();
            attempt.error(format!("{REFUSED_REDIRECT} ({to})"))
        } else {
            attempt.follow()
        }
    });
    reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .read_timeout(limits.read_timeout)
        .timeout(limits.deadline)
        .redirect(policy)
        .build()
}

/// Why a body could not be read whole.
#[derive(Debug)]
pub enum BodyError {
    /// More than the cap arrived (or was announced): reading stopped there.
    TooLarge {
        /// The bytes announced or received so far.
        size: u64,
    },
    /// The transfer failed (reset, read timeout, deadline).
    Transfer(reqwest::Error),
}

/// Reads `response`'s body into memory, at most `cap` bytes: an announced length over the
/// cap is refused before reading, and a body that sends more than the cap (a lying
/// Content-Length, an endless stream) is cut as soon as it passes it, so memory never
/// grows past `cap` plus one chunk.
pub async fn read_capped(mut response: Response, cap: u64) -> Result<Vec<u8>, BodyError> {
    if let Some(len) = response.content_length()
        && len > cap
    {
        return Err(BodyError::TooLarge { size: len });
    }
    let mut bytes = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Transfer)? {
        let size = (bytes.len() + chunk.len()) as u64;
        if size > cap {
            return Err(BodyError::TooLarge { size });
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// The first [`ERROR_BODY_BYTES`] of an error response's body, as text (lossy UTF-8,
/// trimmed), with `…` when more was left unread; empty when the body cannot be read. The
/// caller redacts it (it may echo a password) and the printer sanitizes it.
pub async fn error_body(mut response: Response) -> String {
    let mut bytes = Vec::new();
    let mut cut = false;
    while let Ok(Some(chunk)) = response.chunk().await {
        let room = ERROR_BODY_BYTES - bytes.len();
        if chunk.len() > room {
            bytes.extend_from_slice(&chunk[..room]);
            cut = true;
            break;
        }
        bytes.extend_from_slice(&chunk);
    }
    let mut text = String::from_utf8_lossy(&bytes).trim().to_string();
    if cut {
        text.push_str(" …");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(u: &str) -> Url {
        Url::parse(u).unwrap()
    }

    #[test]
    fn only_https_or_loopback_http_unless_insecure() {
        assert!(allowed(&url("https://example.com/a.wasm"), false));
        assert!(allowed(&url("http://127.0.0.1:8000/a.wasm"), false));
        assert!(allowed(&url("http://localhost/a.wasm"), false));
        assert!(allowed(&url("http://[::1]:80/a.wasm"), false));
        assert!(!allowed(&url("http://example.com/a.wasm"), false));
        assert!(!allowed(&url("http://10.0.0.1/a.wasm"), false));
        assert!(!allowed(&url("http://localhost.example.com/a"), false));
        assert!(allowed(&url("http://example.com/a.wasm"), true));
        assert!(!allowed(&url("ftp://example.com/a.wasm"), true));
        assert!(!allowed(&url("file:///etc/passwd"), true));
    }

    #[test]
    fn credentials_need_https_or_this_machine_even_when_insecure() {
        assert!(may_carry_credentials(&url("https://other.example/token")));
        assert!(may_carry_credentials(&url("http://127.0.0.1:5000/v2/")));
        assert!(may_carry_credentials(&url("http://[::1]:5000/v2/")));
        assert!(!may_carry_credentials(&url("http://other.invalid/token")));
        assert!(!may_carry_credentials(&url("ftp://127.0.0.1/")));
    }

    #[test]
    fn origins_compare_scheme_host_and_port() {
        assert!(same_origin(
            &url("https://r.example/v2/"),
            &url("https://r.example:443/token")
        ));
        assert!(!same_origin(
            &url("https://r.example/v2/"),
            &url("http://r.example/v2/")
        ));
        assert!(!same_origin(
            &url("http://127.0.0.1:5000/"),
            &url("http://127.0.0.1:5001/")
        ));
    }
}
