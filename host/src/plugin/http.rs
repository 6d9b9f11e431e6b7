//! The `http` interface: outbound HTTP to the test's own services only.
//!
//! Every URL, the first and each redirect, is checked against the [`NetworkPolicy`]
//! before a connection is made. Bodies are capped in both directions.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use reqwest::redirect;
use wasmtime::component::HasData;

use crate::config::TestConfig;
use crate::plugin::bindings::prometheus::step::http::{Host, HttpError, Request, Response};
use crate::plugin::ctx::HostState;
use crate::plugin::error::PluginError;
use crate::plugin::limits::Budgets;
use crate::plugin::policy::{Denied, NetworkPolicy};
use crate::plugin::record::{Args, Recorder, traces};

/// Most redirects followed for one request.
pub const MAX_REDIRECTS: usize = 10;

/// The run's HTTP grant: the allowlist, a client that enforces it on redirects, limits.
#[derive(Debug, Clone)]
pub struct HttpCtx {
    policy: Arc<NetworkPolicy>,
    client: reqwest::Client,
    timeout: Duration,
    body_limit: usize,
}

impl Default for HttpCtx {
    fn default() -> Self {
        Self::new(NetworkPolicy::deny_all(), &Budgets::default())
    }
}

impl HttpCtx {
    /// A client that allows exactly `policy`.
    pub fn new(policy: NetworkPolicy, budgets: &Budgets) -> Self {
        Self::with_pool(policy, budgets, true)
    }

    /// [`HttpCtx::new`], keeping idle connections for reuse only when `pooled`.
    fn with_pool(policy: NetworkPolicy, budgets: &Budgets, pooled: bool) -> Self {
        let policy = Arc::new(policy);
        let redirect_policy = {
            let policy = policy.clone();
            redirect::Policy::custom(move |attempt| {
                if attempt.previous().len() >= MAX_REDIRECTS {
                    return attempt.error(format!("more than {MAX_REDIRECTS} redirects"));
                }
                match policy.check(attempt.url()) {
                    Ok(()) => attempt.follow(),
                    Err(denied) => attempt.error(denied),
                }
            })
        };
        let mut builder = reqwest::Client::builder()
            .redirect(redirect_policy)
            // Proxies from the environment would route around the allowlist's intent.
            .no_proxy();
        if !pooled {
            builder = builder.pool_max_idle_per_host(0);
        }
        let client = builder
            .build()
            .expect("a reqwest client with rustls and no proxy always builds");
        Self {
            policy,
            client,
            timeout: budgets.http_timeout,
            body_limit: budgets.http_body_bytes,
        }
    }

    /// The default grant of a test: every worker's URL, `middle_server_url`, and the
    /// `allowed_hosts` of config.yaml.
    pub fn from_config(config: &TestConfig, budgets: &Budgets) -> Result<Self, PluginError> {
        let mut policy = NetworkPolicy::deny_all();
        let bad = |key: String, e: String| PluginError::Policy {
            config: config.config_path.clone(),
            key,
            message: e,
        };
        for w in &config.workers {
            policy
                .allow_url(&w.url, &format!("worker {}", w.name))
                .map_err(|e| bad(format!("url of worker {}", w.name), e))?;
        }
        if let Some(url) = &config.middle_server_url {
            policy
                .allow_url(url, "middle_server_url")
                .map_err(|e| bad("middle_server_url".into(), e))?;
        }
        for entry in &config.allowed_hosts {
            policy
                .allow_pattern(entry, "allowed_hosts")
                .map_err(|e| bad("allowed_hosts".into(), e))?;
        }
        // A fault proxy decides resets, error statuses and hangs per connection and closes
        // open connections when a fault changes: a pooled keep-alive connection would carry
        // one decision over many requests, and could be reused just as the proxy closes it
        // ("connection closed before message completed" instead of the fault). With faults,
        // every request opens its own connection (loopback: tens of microseconds).
        let pooled = config.faults.is_empty() && !config.faults_from_steps();
        Ok(Self::with_pool(policy, budgets, pooled))
    }

    /// The allowlist.
    pub fn policy(&self) -> &NetworkPolicy {
        &self.policy
    }

    /// Sends one guest request under the policy.
    pub async fn send(&self, mut request: Request) -> Result<Response, HttpError> {
        let body = request.body.take().map(Bytes::from);
        self.send_parts(&request, body).await
    }

    /// Whether `request` (its body apart, as `body`) is within the request caps: refused
    /// before anything else is done with it, or `None`.
    fn too_large(&self, request: &Request, body: Option<&Bytes>) -> Option<HttpError> {
        let head = head_bytes(request);
        if head > MAX_REQUEST_HEAD_BYTES {
            return Some(HttpError::TooLarge(format!(
                "the request's method, URL and headers take {head} bytes, more than the \
                 {MAX_REQUEST_HEAD_BYTES} a request may have (servers refuse far less)"
            )));
        }
        let body_len = body.map_or(0, Bytes::len);
        (body_len > self.body_limit).then(|| {
            HttpError::TooLarge(format!(
                "request body of {body_len} bytes exceeds the limit of {} ({BODY_KEY})",
                mib(self.body_limit)
            ))
        })
    }

    /// Sends `request` with `body` (a shared buffer: the recording may keep it without a
    /// copy) under the policy.
    async fn send_parts(
        &self,
        request: &Request,
        body: Option<Bytes>,
    ) -> Result<Response, HttpError> {
        // Refused before the URL is parsed or a connection is made: a body past the cap
        // ends the call at once, not on the step's time limit.
        if let Some(error) = self.too_large(request, body.as_ref()) {
            return Err(error);
        }
        let url = reqwest::Url::parse(&request.url)
            .map_err(|e| HttpError::InvalidRequest(format!("bad URL `{}`: {e}", request.url)))?;
        self.policy
            .check(&url)
            .map_err(|d| HttpError::Denied(d.to_string()))?;
        let method = reqwest::Method::from_bytes(request.method.to_ascii_uppercase().as_bytes())
            .map_err(|_| HttpError::InvalidRequest(format!("bad method `{}`", request.method)))?;
        // A request may ask for less time than the budget, never more.
        let timeout = request
            .timeout_ms
            .map_or(self.timeout, |ms| Duration::from_millis(ms.into()))
            .min(self.timeout);
        let mut builder = self.client.request(method, url.clone()).timeout(timeout);
        for (name, value) in &request.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        if let Some(body) = body {
            builder = builder.body(body);
        }
        let mut response = builder
            .send()
            .await
            .map_err(|e| classify(&request.url, e, timeout))?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        // A declared length past the cap is refused before any of the body is read; the
        // buffer grows against the cap either way.
        let declared = response.content_length().unwrap_or(0);
        if declared > self.body_limit as u64 {
            return Err(HttpError::TooLarge(format!(
                "response body of {} declares {declared} bytes, more than the limit of {} ({BODY_KEY})",
                request.url,
                mib(self.body_limit)
            )));
        }
        let mut body = Vec::with_capacity(usize::try_from(declared).unwrap_or(0));
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| classify(&request.url, e, timeout))?
        {
            if body.len() + chunk.len() > self.body_limit {
                return Err(HttpError::TooLarge(format!(
                    "response body of {} exceeds the limit of {} ({BODY_KEY})",
                    request.url,
                    mib(self.body_limit)
                )));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Response {
            status,
            headers,
            body,
        })
    }
}

/// Most bytes of a request's method, URL and headers together: servers refuse far less
/// (8 to 64 KiB), and a guest's 60 MiB header would otherwise be copied into every trace
/// and recording.
pub const MAX_REQUEST_HEAD_BYTES: usize = 256 << 10;

/// The bytes of a request's method, URL and headers.
fn head_bytes(request: &Request) -> usize {
    request.method.len()
        + request.url.len()
        + request
            .headers
            .iter()
            .map(|(n, v)| n.len() + v.len() + 4)
            .sum::<usize>()
}

/// What a byte list costs a recording in memory: a UTF-8 body is kept as a string (its
/// length), any other as a JSON array of numbers (a value of some 40 bytes per byte).
fn body_cost(body: &[u8]) -> usize {
    if std::str::from_utf8(body).is_ok() {
        body.len()
    } else {
        body.len().saturating_mul(BINARY_BYTE_COST)
    }
}

/// Memory one byte of a binary body takes as a JSON array element.
const BINARY_BYTE_COST: usize = 40;

/// A body as a recording holds it: text when it is UTF-8, else the array of byte numbers
/// (the form `compact_http` gives; built directly, never as an array first).
fn body_value(body: &[u8]) -> serde_json::Value {
    match std::str::from_utf8(body) {
        Ok(text) => serde_json::Value::String(text.to_string()),
        Err(_) => serde_json::Value::Array(body.iter().map(|&b| b.into()).collect()),
    }
}

/// An `http.send`'s arguments as a recording holds them. A request refused as too large
/// is kept as its sizes: what was refused is dropped at once, and the record is the same
/// in a replay.
fn recorded_request(request: &Request, body: Option<&Bytes>, refused: bool) -> serde_json::Value {
    if refused {
        return serde_json::json!({ "request": {
            "too_large": { "head": head_bytes(request), "body": body.map_or(0, Bytes::len) }
        } });
    }
    let head = Request {
        method: request.method.clone(),
        url: request.url.clone(),
        headers: request.headers.clone(),
        body: None,
        timeout_ms: request.timeout_ms,
    };
    let mut value = serde_json::to_value(&head).unwrap_or(serde_json::Value::Null);
    if let (Some(body), Some(map)) = (body, value.as_object_mut()) {
        map.insert("body".into(), body_value(body));
    }
    serde_json::json!({ "request": value })
}

/// An `http.send`'s answer as a recording holds it, when it fits `room` bytes.
fn recorded_response(
    result: &Result<Response, HttpError>,
    room: usize,
) -> Option<(usize, serde_json::Value)> {
    let response = match result {
        Ok(response) => response,
        Err(error) => {
            let bytes = crate::store::limits::json_text_bytes(error);
            return (bytes <= room)
                .then(|| (bytes, serde_json::to_value(error).unwrap_or_default()))
                .map(|(b, v)| (b, serde_json::json!({ "Err": v })));
        }
    };
    let headers: usize = response
        .headers
        .iter()
        .map(|(n, v)| n.len() + v.len() + 8)
        .sum();
    let bytes = headers + body_cost(&response.body) + 32;
    if bytes > room {
        return None;
    }
    let head = Response {
        status: response.status,
        headers: response.headers.clone(),
        body: Vec::new(),
    };
    let mut value = serde_json::to_value(&head).unwrap_or_default();
    if let Some(map) = value.as_object_mut() {
        map.insert("body".into(), body_value(&response.body));
    }
    Some((bytes, serde_json::json!({ "Ok": value })))
}

/// The config.yaml key of the body budget, named in `too-large` errors.
const BODY_KEY: &str = "raise limits.http_max_body_mb in config.yaml";

fn mib(bytes: usize) -> String {
    if bytes >= 1 << 20 && bytes.is_multiple_of(1 << 20) {
        format!("{} MiB", bytes >> 20)
    } else {
        format!("{bytes} bytes")
    }
}

/// Maps a reqwest error to the WIT error, keeping a redirect refusal a `denied`.
fn classify(url: &str, error: reqwest::Error, timeout: Duration) -> HttpError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&error);
    while let Some(e) = source {
        if let Some(denied) = e.downcast_ref::<Denied>() {
            return HttpError::Denied(format!("redirect refused: {denied}"));
        }
        source = e.source();
    }
    let detail = crate::error_text::error_chain(&error);
    if error.is_timeout() {
        HttpError::Timeout(format!(
            "{url}: no response within {} ({detail}; the most a request may wait is limits.http_timeout in config.yaml)",
            crate::plugin::limits::humanize(timeout)
        ))
    } else if error.is_builder() {
        HttpError::InvalidRequest(format!("{url}: {detail}"))
    } else {
        HttpError::Connection(format!("{url}: {detail}"))
    }
}

/// What a guest's `http` calls reach: the run's HTTP grant, through the recorder.
pub struct HttpView<'a> {
    ctx: &'a HttpCtx,
    rec: &'a Recorder,
}

impl<'a> HttpView<'a> {
    /// A view over `ctx`, its calls going through `rec`.
    pub fn new(ctx: &'a HttpCtx, rec: &'a Recorder) -> Self {
        Self { ctx, rec }
    }
}

impl Host for HttpView<'_> {
    async fn send(
        &mut self,
        mut request: Request,
    ) -> wasmtime::Result<Result<Response, HttpError>> {
        // The body becomes a shared buffer: sending and recording it copy nothing.
        let body = request.body.take().map(Bytes::from);
        let refused = self.ctx.too_large(&request, body.as_ref()).is_some();
        let cost = if refused {
            64
        } else {
            head_bytes(&request) + body.as_deref().map_or(0, body_cost)
        };
        let args = Args::new(cost, || recorded_request(&request, body.as_ref(), refused));
        let show = traces::http(&request, body.as_deref());
        let live = self.ctx.send_parts(&request, body.clone());
        self.rec
            .call_kept_as("http.send", args, live, show, recorded_response)
            .await
    }
}

/// Links `http` into the store's host state.
pub(crate) struct HttpData;

impl HasData for HttpData {
    type Data<'a> = HttpView<'a>;
}

pub(crate) fn view(state: &mut HostState) -> HttpView<'_> {
    HttpView::new(&state.run.http, &state.recorder)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    fn get(url: &str) -> Request {
        Request {
            method: "GET".into(),
            url: url.into(),
            headers: vec![],
            body: None,
            timeout_ms: Some(5_000),
        }
    }

    /// A one-shot HTTP server on loopback answering every connection with `reply`;
    /// returns its port and a counter of accepted connections.
    async fn server(reply: String) -> (u16, Arc<std::sync::atomic::AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let hits = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = hits.clone();
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let mut buf = [0u8; 4096];
                let _ = sock.read(&mut buf).await;
                let _ = sock.write_all(reply.as_bytes()).await;
            }
        });
        (port, hits)
    }

    fn ctx_allowing(port: u16) -> HttpCtx {
        let mut p = NetworkPolicy::deny_all();
        p.allow_url(&format!("http://localhost:{port}"), "worker w")
            .unwrap();
        HttpCtx::new(p, &Budgets::default())
    }

    /// A context allowing `http://127.0.0.1:PORT` with bodies capped at `cap` bytes.
    fn ctx_with_body_cap(port: u16, cap: usize) -> HttpCtx {
        let mut p = NetworkPolicy::deny_all();
        p.allow_url(&format!("http://127.0.0.1:{port}"), "t")
            .unwrap();
        let budgets = Budgets {
            http_body_bytes: cap,
            ..Budgets::default()
        };
        HttpCtx::new(p, &budgets)
    }

    #[tokio::test]
    async fn denied_host_fails_before_connect() {
        let (port, hits) = server("HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n".into()).await;
        let ctx = HttpCtx::new(NetworkPolicy::deny_all(), &Budgets::default());
        let err = ctx
            .send(get(&format!("http://127.0.0.1:{port}/")))
            .await
            .unwrap_err();
        match err {
            HttpError::Denied(m) => assert!(m.contains("allowed_hosts"), "{m}"),
            other => panic!("expected denied, got {other:?}"),
        }
        assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn allowed_worker_gets_a_response() {
        let (port, _) = server(
            "HTTP/1.1 201 Created\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}"
                .into(),
        )
        .await;
        let resp = ctx_allowing(port)
            .send(get(&format!("http://127.0.0.1:{port}/x")))
            .await
            .unwrap();
        assert_eq!(resp.status, 201);
        assert_eq!(resp.body, b"{}");
        assert!(
            resp.headers
                .iter()
                .any(|(n, v)| n == "content-type" && v == "application/json")
        );
    }

    #[tokio::test]
    async fn redirect_to_forbidden_origin_is_denied() {
        let (forbidden, hits) = server("HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n".into()).await;
        let (port, _) = server(format!(
            "HTTP/1.1 302 Found\r\nlocation: http://127.0.0.1:{forbidden}/secret\r\ncontent-length: 0\r\n\r\n"
        ))
        .await;
        let err = ctx_allowing(port)
            .send(get(&format!("http://localhost:{port}/")))
            .await
            .unwrap_err();
        assert!(
            matches!(err, HttpError::Denied(ref m) if m.contains("redirect refused")),
            "{err:?}"
        );
        assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn oversized_response_is_too_large() {
        let body = "x".repeat(2048);
        let (port, _) = server(format!(
            "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        ))
        .await;
        let err = ctx_with_body_cap(port, 1024)
            .send(get(&format!("http://127.0.0.1:{port}/")))
            .await
            .unwrap_err();
        assert!(matches!(err, HttpError::TooLarge(_)), "{err:?}");
    }

    #[tokio::test]
    async fn refused_connection_and_bad_input_are_error_values() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let ctx = ctx_allowing(port);
        let err = ctx
            .send(get(&format!("http://127.0.0.1:{port}/")))
            .await
            .unwrap_err();
        assert!(matches!(err, HttpError::Connection(_)), "{err:?}");
        let err = ctx.send(get("not a url")).await.unwrap_err();
        assert!(matches!(err, HttpError::InvalidRequest(_)), "{err:?}");
        let mut req = get(&format!("http://127.0.0.1:{port}/"));
        req.method = "GE T".into();
        assert!(matches!(
            ctx.send(req).await.unwrap_err(),
            HttpError::InvalidRequest(_)
        ));
    }

    #[tokio::test]
    async fn oversized_request_body_is_too_large_before_any_connection() {
        let (port, hits) = server("HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n".into()).await;
        let ctx = ctx_with_body_cap(port, 1024);
        let mut req = get(&format!("http://127.0.0.1:{port}/"));
        req.method = "POST".into();
        req.body = Some(vec![b'x'; 2048]);
        let started = std::time::Instant::now();
        let err = ctx.send(req.clone()).await.unwrap_err();
        match err {
            HttpError::TooLarge(m) => assert!(
                m.contains("request body of 2048 bytes exceeds the limit of 1024 bytes"),
                "{m}"
            ),
            other => panic!("expected too-large, got {other:?}"),
        }
        assert!(started.elapsed() < Duration::from_secs(30), "did not hang");
        // Headers past the cap are refused the same way.
        req.body = None;
        req.headers = vec![("x-big".into(), "h".repeat(MAX_REQUEST_HEAD_BYTES))];
        assert!(matches!(
            ctx.send(req).await.unwrap_err(),
            HttpError::TooLarge(m) if m.contains("method, URL and headers")
        ));
        assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn a_response_declaring_a_body_past_the_cap_is_refused_unread() {
        let (port, _) =
            server("HTTP/1.1 200 OK\r\ncontent-length: 1000000000\r\n\r\nxx".into()).await;
        let err = ctx_with_body_cap(port, 1024)
            .send(get(&format!("http://127.0.0.1:{port}/")))
            .await
            .unwrap_err();
        assert!(
            matches!(err, HttpError::TooLarge(ref m) if m.contains("declares 1000000000 bytes")),
            "{err:?}"
        );
    }

    #[test]
    fn recorded_bodies_are_text_when_utf8_and_sizes_when_refused() {
        let req = Request {
            method: "POST".into(),
            url: "http://x/".into(),
            headers: vec![],
            body: None,
            timeout_ms: None,
        };
        let body = Bytes::from_static(b"hi");
        let value = recorded_request(&req, Some(&body), false);
        assert_eq!(value["request"]["body"], serde_json::json!("hi"));
        // The same form compact_http gives the derived serialisation.
        let mut whole = req.clone();
        whole.body = Some(b"hi".to_vec());
        assert_eq!(
            value,
            crate::plugin::record::show::compact_http(serde_json::json!({ "request": &whole }))
        );
        let refused = recorded_request(&req, Some(&body), true);
        assert_eq!(
            refused["request"]["too_large"]["body"],
            serde_json::json!(2)
        );
        let response: Result<Response, HttpError> = Ok(Response {
            status: 200,
            headers: vec![],
            body: vec![255, 0],
        });
        let (_, kept) = recorded_response(&response, 1 << 20).unwrap();
        assert_eq!(
            kept,
            crate::plugin::record::show::compact_http(serde_json::to_value(&response).unwrap())
        );
        assert!(
            recorded_response(&response, 10).is_none(),
            "binary bodies cost more"
        );
    }
}
