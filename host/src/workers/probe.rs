//! Readiness probes: one attempt of a worker's `ready` check — a TCP connect, or an HTTP GET
//! expecting a status — answering either "ready" or the last answer in words (`HTTP 500
//! Internal Server Error: boom`, `connection refused`), which the error shows when the
//! worker never becomes ready.
//!
//! Used for local workers by [`super::readiness`] and for external ones by
//! [`super::external`]. Imports config's plain probe values only.

use std::sync::OnceLock;
use std::time::Duration;

use tokio::net::TcpStream;

use super::ports::accepts_connections;
use crate::config::ReadyProbe;

/// Longest wait for one HTTP attempt (connect, status and the start of the body). A server
/// that takes longer to answer its health check is not ready; the probe tries again.
const HTTP_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);

/// Longest wait for one TCP connect to an external worker: a remote host that drops SYNs
/// would otherwise hold an attempt for the kernel's minute.
const TCP_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);

/// How much of a wrong answer's body the error quotes: enough for a framework's one-line
/// error, not a whole HTML page.
const BODY_PREVIEW_BYTES: usize = 200;

/// Where a probe is sent.
#[derive(Debug, Clone, Copy)]
pub(super) enum Target<'a> {
    /// A local worker's port on the loopback interface.
    Local(u16),
    /// An external worker's base URL (no trailing `/`).
    Url(&'a str),
}

impl Target<'_> {
    fn base_url(self) -> String {
        match self {
            Target::Local(port) => format!("http://localhost:{port}"),
            Target::Url(url) => url.to_string(),
        }
    }
}

/// The HTTP client of probes and reset hooks: no proxy (the workers are the test's own
/// servers, and a proxy would answer for them), no redirects (a health check that
/// redirects is not the answer that was asked for). Built once per process, on first use,
/// so that a run with TCP probes only never builds it; clones share its connection pool.
pub(super) fn client() -> reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            reqwest::Client::builder()
                .no_proxy()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(HTTP_ATTEMPT_TIMEOUT)
                .build()
                .expect("a reqwest client with rustls and no proxy always builds")
        })
        .clone()
}

/// The probe in words, for errors: `GET http://w1:8080/health expecting 200`.
pub(super) fn describe(probe: &ReadyProbe, target: Target<'_>) -> String {
    match (probe, target) {
        (ReadyProbe::Tcp, Target::Local(port)) => {
            format!("TCP connect to 127.0.0.1:{port} or [::1]:{port}")
        }
        (ReadyProbe::Tcp, Target::Url(url)) => format!("TCP connect to {}", authority(url)),
        (ReadyProbe::Http { path, status }, target) => {
            format!("GET {}{path} expecting {status}", target.base_url())
        }
    }
}

/// One attempt: `Ok` when ready, else the answer that was not the expected one.
pub(super) async fn attempt(probe: &ReadyProbe, target: Target<'_>) -> Result<(), String> {
    match (probe, target) {
        (ReadyProbe::Tcp, Target::Local(port)) => {
            if accepts_connections(port).await {
                Ok(())
            } else {
                Err("connection refused".to_string())
            }
        }
        (ReadyProbe::Tcp, Target::Url(url)) => {
            let address = authority(url);
            match tokio::time::timeout(TCP_ATTEMPT_TIMEOUT, TcpStream::connect(&address)).await {
                Ok(Ok(_stream)) => Ok(()),
                Ok(Err(e)) => Err(e.to_string()),
                Err(_) => Err(format!("no answer within {TCP_ATTEMPT_TIMEOUT:?}")),
            }
        }
        (ReadyProbe::Http { path, status }, target) => {
            let url = format!("{}{path}", target.base_url());
            let response = client()
                .get(&url)
                .send()
                .await
                .map_err(|e| crate::error_text::error_chain(&e))?;
            if response.status().as_u16() == *status {
                return Ok(());
            }
            Err(answer(response).await)
        }
    }
}

/// `HTTP 500 Internal Server Error: <start of the body>`, on one line.
pub(super) async fn answer(mut response: reqwest::Response) -> String {
    let status = response.status();
    let mut body = Vec::new();
    while body.len() < BODY_PREVIEW_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            _ => break,
        }
    }
    let cut = body.len() > BODY_PREVIEW_BYTES;
    body.truncate(BODY_PREVIEW_BYTES);
    let text: String = String::from_utf8_lossy(&body)
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let text = text.trim();
    let mut line = format!("HTTP {status}");
    if !text.is_empty() {
        line.push_str(": ");
        line.push_str(text);
        if cut {
            line.push('…');
        }
    }
    line
}

/// `host:port` of a base URL (the default port when none is written).
fn authority(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(parsed) => format!(
            "{}:{}",
            parsed.host_str().unwrap_or_default(),
            parsed.port_or_known_default().unwrap_or_default()
        ),
        Err(_) => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probes_describe_themselves_with_their_target() {
        let http = ReadyProbe::Http {
            path: "/health".into(),
            status: 200,
        };
        assert_eq!(
            describe(&http, Target::Url("http://w1:8080")),
            "GET http://w1:8080/health expecting 200"
        );
        assert_eq!(
            describe(&http, Target::Local(5600)),
            "GET http://localhost:5600/health expecting 200"
        );
        assert_eq!(
            describe(&ReadyProbe::Tcp, Target::Url("https://staging.test")),
            "TCP connect to staging.test:443"
        );
    }
}
