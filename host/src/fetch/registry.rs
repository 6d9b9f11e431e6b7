//! The few requests of the OCI distribution protocol this tool makes (read a manifest, read
//! a blob, upload a blob, write a manifest, get a token), made through the network policy
//! of [`super::policy`] and nothing else: every response body is read against a cap while
//! it streams, every redirect, token realm and upload `Location` is checked before it is
//! contacted, and credentials go only to the registry they are for (and to its token
//! service over https, or on this machine). oci-client reads bodies whole and hands
//! credentials to any realm a registry names, so it is used for its types only.

use reqwest::header::{ACCEPT, CONTENT_TYPE, LOCATION, WWW_AUTHENTICATE};
use reqwest::{Method, RequestBuilder, Response, StatusCode, Url};

use super::credentials::Credentials;
use super::error::{FetchError, FetchErrorKind, Redact};
use super::oci::{OciRef, RegistryOptions};
use super::policy::{self, BodyError, NetLimits};
use crate::error_text::error_chain;

/// The largest manifest read (the distribution registry's own limit): a manifest lists a
/// few descriptors, and a registry that streams one forever is cut here.
pub const MAX_MANIFEST_BYTES: u64 = 4 << 20;

/// The largest token response read: a JSON object with a token of a few KiB.
const MAX_TOKEN_BYTES: u64 = 64 << 10;

/// The manifest types asked for: an OCI image manifest (what Wasm artifacts are) or the
/// Docker one (so a container image is named as such, not as a protocol error).
const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";

/// A conversation with one repository of one registry, for one command.
pub(super) struct Session {
    client: reqwest::Client,
    limits: NetLimits,
    /// `https://REGISTRY/` (or `http://` to this machine, or with `--insecure`).
    base: Url,
    registry: String,
    repository: String,
    /// `pull` or `pull,push`: the token scope asked for.
    actions: &'static str,
    credentials: Option<Credentials>,
    /// The registry asked for basic authentication.
    basic: bool,
    /// A token from the registry's token service.
    bearer: Option<String>,
    /// Every secret this session knows, taken out of every error it builds.
    redact: Redact,
    package: String,
    source: String,
}

/// What a `WWW-Authenticate` challenge asks for.
#[derive(Debug, PartialEq)]
struct Challenge {
    scheme: String,
    params: Vec<(String, String)>,
}

impl Challenge {
    /// Parses `Bearer realm="…",service="…",scope="a,b"` (quoted values may hold commas).
    fn parse(header: &str) -> Option<Self> {
        let header = header.trim();
        let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
        let mut params = Vec::new();
        let mut chars = rest.chars().peekable();
        loop {
            while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
                chars.next();
            }
            let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
            if key.is_empty() {
                break;
            }
            let mut value = String::new();
            if chars.peek() == Some(&'"') {
                chars.next();
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => value.extend(chars.next()),
                        c => value.push(c),
                    }
                }
            } else {
                value = chars.by_ref().take_while(|c| *c != ',').collect();
            }
            params.push((key.trim().to_ascii_lowercase(), value.trim().to_string()));
        }
        (!scheme.is_empty()).then(|| Self {
            scheme: scheme.to_ascii_lowercase(),
            params,
        })
    }

    fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

impl Session {
    /// A session with `reference`'s repository; `actions` is `pull` or `pull,push`.
    pub fn new(
        package: &str,
        reference: &OciRef,
        options: &RegistryOptions,
        actions: &'static str,
    ) -> Result<Self, FetchError> {
        let limits = options.limits();
        let registry = reference.registry().to_string();
        let credentials = options.credentials.for_registry(&registry);
        let mut redact = Redact::new();
        if let Some(c) = &credentials {
            redact.add_credentials(c);
        }
        let error = |kind| FetchError::redacted(package, &reference.display(), kind, &redact);
        let scheme = if options.insecure || super::oci::is_loopback(&registry) {
            "http"
        } else {
            "https"
        };
        let base = Url::parse(&format!("{scheme}://{registry}/"))
            .map_err(|e| error(FetchErrorKind::BadReference(format!("{e}"))))?;
        let client = policy::client(&limits)
            .map_err(|e| error(FetchErrorKind::Io(format!("cannot set up HTTP: {e}"))))?;
        Ok(Self {
            client,
            limits,
            base,
            registry,
            repository: reference.repository().to_string(),
            actions,
            credentials,
            basic: false,
            bearer: None,
            redact,
            package: package.to_string(),
            source: reference.display(),
        })
    }

    /// The HTTP client (the policy's), for requests that carry no credentials.
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// Whether `--insecure` was given.
    pub fn insecure(&self) -> bool {
        self.limits.insecure
    }

    /// An error about this package, redacted.
    pub fn error(&self, kind: FetchErrorKind) -> FetchError {
        FetchError::redacted(&self.package, &self.source, kind, &self.redact)
    }

    /// `https://REGISTRY/v2/REPO/{path}`.
    pub fn url(&self, path: &str) -> Result<Url, FetchError> {
        self.base
            .join(&format!("v2/{}/{path}", self.repository))
            .map_err(|e| self.error(FetchErrorKind::BadReference(format!("{e}"))))
    }

    /// What a failed transfer means: a refused redirect is [`FetchErrorKind::Insecure`], a
    /// timeout says which limit it hit.
    pub fn transfer_error(&self, e: &reqwest::Error) -> FetchError {
        let chain = error_chain(e);
        if let Some(at) = chain.find(policy::REFUSED_REDIRECT) {
            let to = chain[at + policy::REFUSED_REDIRECT.len()..]
                .trim_start_matches([' ', '('])
                .split([')', ' '])
                .next()
                .unwrap_or_default();
            return self.error(FetchErrorKind::InsecureRedirect(to.to_string()));
        }
        if e.is_timeout() {
            return self.error(FetchErrorKind::Interrupted(format!(
                "timed out (a read stalled for {} s, or the request took longer than {} s: \
                 --fetch-timeout and --fetch-deadline): {chain}",
                self.limits.read_timeout.as_secs(),
                self.limits.deadline.as_secs()
            )));
        }
        if e.is_body() || e.is_decode() {
            return self.error(FetchErrorKind::Interrupted(chain));
        }
        self.error(FetchErrorKind::Unreachable(chain))
    }

    /// `request` with this session's credentials, when `url` may receive them: the
    /// registry's own origin, over https or to this machine.
    fn authorize(&self, request: RequestBuilder, url: &Url) -> RequestBuilder {
        if !policy::same_origin(url, &self.base) || !policy::may_carry_credentials(url) {
            return request;
        }
        match (&self.bearer, &self.credentials) {
            (Some(token), _) => request.bearer_auth(token),
            (None, Some(c)) if self.basic => request.basic_auth(&c.username, Some(&c.password)),
            _ => request,
        }
    }

    /// Sends `method url` built by `build`; on a 401 that asks for credentials this
    /// session can give, authenticates and sends it once more.
    pub async fn send(
        &mut self,
        method: Method,
        url: &Url,
        build: impl Fn(RequestBuilder) -> RequestBuilder,
    ) -> Result<Response, FetchError> {
        if !policy::allowed(url, self.limits.insecure) {
            return Err(self.error(FetchErrorKind::Insecure(url.to_string())));
        }
        let mut retried = false;
        loop {
            let request =
                self.authorize(build(self.client.request(method.clone(), url.clone())), url);
            let response = request.send().await.map_err(|e| self.transfer_error(&e))?;
            if response.status() != StatusCode::UNAUTHORIZED || retried {
                return Ok(response);
            }
            retried = true;
            if !self.authenticate(&response).await? {
                return Ok(response);
            }
        }
    }

    /// Answers a 401's challenge; false when there is nothing more to try.
    async fn authenticate(&mut self, response: &Response) -> Result<bool, FetchError> {
        let Some(challenge) = response
            .headers()
            .get(WWW_AUTHENTICATE)
            .and_then(|h| h.to_str().ok())
            .and_then(Challenge::parse)
        else {
            return Ok(false);
        };
        match challenge.scheme.as_str() {
            "basic" if !self.basic => {
                if self.credentials.is_none() {
                    return Ok(false);
                }
                if !policy::may_carry_credentials(&self.base) {
                    return Err(self.error(FetchErrorKind::Insecure(format!(
                        "{} with credentials (they never travel over plain HTTP to another \
                         machine, --insecure or not)",
                        self.base
                    ))));
                }
                self.basic = true;
                Ok(true)
            }
            "bearer" if self.bearer.is_none() => self.fetch_token(&challenge).await.map(|()| true),
            _ => Ok(false),
        }
    }

    /// Gets a token from the realm a Bearer challenge names. The realm is checked like any
    /// address (https, or this machine, or `--insecure`), and gets the credentials only if it
    /// may carry them: over https, or on this machine. A realm on another host is how
    /// Docker Hub works (registry-1.docker.io → auth.docker.io), so it is not refused, but
    /// never over plain HTTP.
    async fn fetch_token(&mut self, challenge: &Challenge) -> Result<(), FetchError> {
        let realm = challenge.param("realm").unwrap_or_default();
        let mut url = Url::parse(realm).map_err(|e| {
            self.error(FetchErrorKind::Unauthorized(format!(
                "the registry names a token service `{realm}` that is not a URL: {e}"
            )))
        })?;
        if !policy::allowed(&url, self.limits.insecure) {
            return Err(self.error(FetchErrorKind::Insecure(format!(
                "the token service {url} that {} names",
                self.registry
            ))));
        }
        if self.credentials.is_some() && !policy::may_carry_credentials(&url) {
            return Err(self.error(FetchErrorKind::Insecure(format!(
                "the token service {url} that {} names: the credentials for {} never \
                 travel over plain HTTP to another machine, --insecure or not",
                self.registry, self.registry
            ))));
        }
        {
            let mut query = url.query_pairs_mut();
            if let Some(service) = challenge.param("service") {
                query.append_pair("service", service);
            }
            query.append_pair(
                "scope",
                &format!("repository:{}:{}", self.repository, self.actions),
            );
        }
        let mut request = self.client.get(url.clone());
        if let Some(c) = &self.credentials {
            request = request.basic_auth(&c.username, Some(&c.password));
        }
        let response = request.send().await.map_err(|e| self.transfer_error(&e))?;
        if !response.status().is_success() {
            return Err(self.status_error(response, "its token service").await);
        }
        let body = self.read(response, MAX_TOKEN_BYTES, "a token").await?;
        let json: serde_json::Value = serde_json::from_slice(&body).map_err(|e| {
            self.error(FetchErrorKind::Unauthorized(format!(
                "the token service answered something else than JSON: {e}"
            )))
        })?;
        let token = ["token", "access_token"]
            .iter()
            .find_map(|k| json.get(k).and_then(|t| t.as_str()))
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                self.error(FetchErrorKind::Unauthorized(
                    "the token service answered without a token".into(),
                ))
            })?;
        self.redact.add(token);
        self.bearer = Some(token.to_string());
        Ok(())
    }

    /// A body read whole, at most `cap` bytes; `what` names it in the error.
    pub async fn read(
        &self,
        response: Response,
        cap: u64,
        what: &str,
    ) -> Result<Vec<u8>, FetchError> {
        policy::read_capped(response, cap).await.map_err(|e| match e {
            BodyError::TooLarge { size } => self.error(FetchErrorKind::Interrupted(format!(
                "{what} from the registry is larger than {cap} bytes ({size} bytes or more): refused"
            ))),
            BodyError::Transfer(e) => self.transfer_error(&e),
        })
    }

    /// The error an unexpected status means, with the start of the body (redacted, cut):
    /// a registry's error envelope (`{"errors": [{"code", "message"}]}`) as its codes and
    /// messages.
    pub async fn status_error(&self, response: Response, what: &str) -> FetchError {
        let status = response.status().as_u16();
        let body = policy::error_body(response).await;
        let (codes, text) = envelope(&body);
        let detail = if text.is_empty() {
            format!("{what} answered HTTP {status}")
        } else {
            format!("{what} answered HTTP {status}: {text}")
        };
        let has = |names: &[&str]| codes.iter().any(|c| names.contains(&c.as_str()));
        let kind = if status == 401 || status == 403 || has(&["UNAUTHORIZED", "DENIED"]) {
            FetchErrorKind::Unauthorized(detail)
        } else if status == 404 || has(&["MANIFEST_UNKNOWN", "NAME_UNKNOWN", "BLOB_UNKNOWN"]) {
            FetchErrorKind::NotFound(detail)
        } else if text.is_empty() {
            FetchErrorKind::Status(status)
        } else {
            FetchErrorKind::Io(format!("registry error: {detail}"))
        };
        self.error(kind)
    }

    /// The `Location` of a response (an upload session), resolved against the registry
    /// and checked against the policy before anything is sent there.
    pub fn location(&self, response: &Response) -> Result<Url, FetchError> {
        let location = response
            .headers()
            .get(LOCATION)
            .and_then(|l| l.to_str().ok())
            .ok_or_else(|| {
                self.error(FetchErrorKind::Io(
                    "the registry opened an upload without a Location".into(),
                ))
            })?;
        let url = self.base.join(location).map_err(|e| {
            self.error(FetchErrorKind::Io(format!(
                "the registry's upload Location `{location}` is not a URL: {e}"
            )))
        })?;
        if !policy::allowed(&url, self.limits.insecure) {
            return Err(self.error(FetchErrorKind::Insecure(format!(
                "the upload location {url}"
            ))));
        }
        Ok(url)
    }
}

/// The codes and `CODE: message` text of a registry error envelope, or the body as it is.
fn envelope(body: &str) -> (Vec<String>, String) {
    let parsed: Option<serde_json::Value> = serde_json::from_str(body).ok();
    let errors = parsed
        .as_ref()
        .and_then(|v| v.get("errors"))
        .and_then(|e| e.as_array());
    let Some(errors) = errors else {
        return (Vec::new(), body.to_string());
    };
    let mut codes = Vec::new();
    let mut texts = Vec::new();
    for e in errors {
        let code = e.get("code").and_then(|c| c.as_str()).unwrap_or_default();
        let message = e
            .get("message")
            .and_then(|c| c.as_str())
            .unwrap_or_default();
        codes.push(code.to_ascii_uppercase());
        texts.push(format!("{code}: {message}"));
    }
    (codes, texts.join("; "))
}

/// The `Accept` header of a manifest request.
pub fn manifest_accept(request: RequestBuilder) -> RequestBuilder {
    request.header(ACCEPT, MANIFEST_ACCEPT)
}

/// The `Content-Type` header of a request.
pub fn content_type(request: RequestBuilder, media_type: &str) -> RequestBuilder {
    request.header(CONTENT_TYPE, media_type)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_parse_with_quoted_commas() {
        let c = Challenge::parse(
            r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push""#,
        )
        .unwrap();
        assert_eq!(c.scheme, "bearer");
        assert_eq!(c.param("realm"), Some("https://auth.example/token"));
        assert_eq!(c.param("service"), Some("registry.example"));
        assert_eq!(c.param("scope"), Some("repository:a/b:pull,push"));
        let c = Challenge::parse(r#"Basic realm="tests""#).unwrap();
        assert_eq!(
            (c.scheme.as_str(), c.param("realm")),
            ("basic", Some("tests"))
        );
    }

    #[test]
    fn error_envelopes_give_codes_and_messages() {
        let (codes, text) = envelope(
            r#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{}}]}"#,
        );
        assert_eq!(codes, ["MANIFEST_UNKNOWN"]);
        assert_eq!(text, "MANIFEST_UNKNOWN: manifest unknown");
        assert_eq!(envelope("plain text").1, "plain text");
    }
}
