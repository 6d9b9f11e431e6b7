//! OCI registries: push and pull step packages as CNCF "Wasm OCI artifacts" (one
//! `application/wasm` layer, a `application/vnd.wasm.config.v0+json` config listing the
//! component's imports and exports), laid out by the Bytecode Alliance's `oci-wasm` crate,
//! so packages pushed by other Wasm tools (wkg, wash, spin) pull here and ours pull there.
//!
//! The requests themselves go through `fetch/registry.rs` and the network policy of
//! [`super::policy`]: plain HTTP only to a registry on this machine (localhost,
//! 127.0.0.0/8, ::1), or to any registry with `--insecure` (never with credentials); every
//! body capped while it streams; every redirect, token realm, foreign layer URL and upload
//! location checked before it is contacted.

use std::collections::BTreeMap;
use std::time::Duration;

use oci_client::Reference;
use oci_client::manifest::OciImageManifest;
use oci_wasm::{
    ToConfig, WASM_LAYER_MEDIA_TYPE, WASM_MANIFEST_CONFIG_MEDIA_TYPE, WASM_MANIFEST_MEDIA_TYPE,
    WasmConfig,
};
use reqwest::{Method, StatusCode, Url};

use super::credentials::CredentialSources;
use super::error::{FetchError, FetchErrorKind, Redact};
use super::identity::PackageIdentity;
use super::policy::{self, NetLimits};
use super::registry::{MAX_MANIFEST_BYTES, Session, content_type, manifest_accept};
use super::store::sha256_hex;

/// How to reach package sources (registries and `url:` hosts).
#[derive(Debug, Clone)]
pub struct RegistryOptions {
    /// Where credentials come from.
    pub credentials: CredentialSources,
    /// Allow plain HTTP to hosts that are not on this machine (never with credentials).
    pub insecure: bool,
    /// The largest package fetched, in bytes.
    pub max_bytes: u64,
    /// How long one read may stall before the fetch fails.
    pub read_timeout: Duration,
    /// How long one whole fetch (a download, a pull, a push) may take.
    pub deadline: Duration,
}

impl Default for RegistryOptions {
    fn default() -> Self {
        Self {
            credentials: CredentialSources::default(),
            insecure: false,
            max_bytes: super::MAX_PACKAGE_BYTES,
            read_timeout: super::READ_TIMEOUT,
            deadline: super::FETCH_DEADLINE,
        }
    }
}

impl RegistryOptions {
    /// The limits every request of a fetch runs under.
    pub fn limits(&self) -> NetLimits {
        NetLimits {
            insecure: self.insecure,
            read_timeout: self.read_timeout,
            deadline: self.deadline,
        }
    }
}

/// A parsed OCI reference, with the text the user wrote for messages.
#[derive(Debug, Clone)]
pub struct OciRef {
    reference: Reference,
    text: String,
}

impl OciRef {
    /// Parses `REGISTRY/REPO:TAG` or `REGISTRY/REPO@sha256:DIGEST` (an `oci://` prefix is
    /// dropped). `package` names the package in the error.
    pub fn parse(package: &str, text: &str) -> Result<Self, FetchError> {
        let text = text.trim().trim_start_matches("oci://");
        let reference: Reference = text.parse().map_err(|e| {
            FetchError::new(
                package,
                &format!("oci://{text}"),
                FetchErrorKind::BadReference(format!("{e}")),
            )
        })?;
        Ok(Self {
            reference,
            text: text.to_string(),
        })
    }

    /// `oci://` and the reference as written, for messages.
    pub fn display(&self) -> String {
        format!("oci://{}", self.text)
    }

    /// The registry host and port.
    pub fn registry(&self) -> &str {
        self.reference.resolve_registry()
    }

    /// The repository path (`team/audit`).
    pub fn repository(&self) -> &str {
        self.reference.repository()
    }

    /// The tag, when the reference names one (not for `@sha256:` references).
    pub fn tag(&self) -> Option<&str> {
        self.reference.tag()
    }

    /// The digest if the reference pins one, else the tag (`latest` if none).
    fn target(&self) -> &str {
        self.reference
            .digest()
            .or(self.reference.tag())
            .unwrap_or("latest")
    }
}

/// Whether `registry` (`host[:port]`) is on this machine.
pub(crate) fn is_loopback(registry: &str) -> bool {
    let host = match registry.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => registry,
    };
    policy::is_loopback_host(host)
}

/// Runs `work` under the whole-fetch deadline.
async fn within_deadline<T>(
    options: &RegistryOptions,
    error: impl FnOnce() -> FetchError,
    work: impl Future<Output = Result<T, FetchError>>,
) -> Result<T, FetchError> {
    tokio::time::timeout(options.deadline, work)
        .await
        .unwrap_or_else(|_| Err(error()))
}

fn deadline_kind(options: &RegistryOptions) -> FetchErrorKind {
    FetchErrorKind::Interrupted(format!(
        "it took longer than {} s (--fetch-deadline)",
        options.deadline.as_secs()
    ))
}

/// Pulls the component at `reference` and checks it: a Wasm artifact with one
/// `application/wasm` layer whose bytes have the layer's digest (and whose manifest has
/// the reference's digest, for `@sha256:` references).
pub async fn pull(
    package: &str,
    reference: &OciRef,
    options: &RegistryOptions,
) -> Result<Vec<u8>, FetchError> {
    let mut session = Session::new(package, reference, options, "pull")?;
    let late = session.error(deadline_kind(options));
    within_deadline(options, || late, pull_in(&mut session, reference, options)).await
}

async fn pull_in(
    session: &mut Session,
    reference: &OciRef,
    options: &RegistryOptions,
) -> Result<Vec<u8>, FetchError> {
    let url = session.url(&format!("manifests/{}", reference.target()))?;
    let response = session.send(Method::GET, &url, manifest_accept).await?;
    if !response.status().is_success() {
        return Err(session.status_error(response, "the registry").await);
    }
    let header_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|t| t.to_str().ok())
        .map(|t| t.split(';').next().unwrap_or_default().trim().to_string());
    let body = session
        .read(response, MAX_MANIFEST_BYTES, "the manifest")
        .await?;
    if let Some(digest) = reference.reference.digest() {
        let actual = format!("sha256:{}", sha256_hex(&body));
        if actual != digest {
            return Err(session.error(FetchErrorKind::DigestMismatch {
                expected: digest.to_string(),
                actual,
            }));
        }
    }
    let manifest: OciImageManifest = serde_json::from_slice(&body).map_err(|e| {
        session.error(FetchErrorKind::NotWasm(format!(
            "its manifest is not an OCI image manifest: {e}"
        )))
    })?;
    // The checks oci-wasm makes, in its words.
    if manifest.layers.len() != 1 {
        return Err(session.error(FetchErrorKind::NotWasm(
            "Wasm components must have exactly one layer".into(),
        )));
    }
    let media_type = manifest.media_type.clone().or(header_type);
    if media_type.as_deref() != Some(WASM_MANIFEST_MEDIA_TYPE) {
        return Err(session.error(FetchErrorKind::NotWasm(format!(
            "Wasm components must have a manifest of type {WASM_MANIFEST_MEDIA_TYPE}"
        ))));
    }
    if manifest.config.media_type != WASM_MANIFEST_CONFIG_MEDIA_TYPE {
        return Err(session.error(FetchErrorKind::NotWasm(format!(
            "Wasm components must have a config of type {WASM_MANIFEST_CONFIG_MEDIA_TYPE}"
        ))));
    }
    let layer = &manifest.layers[0];
    if layer.media_type != WASM_LAYER_MEDIA_TYPE {
        return Err(session.error(FetchErrorKind::NotWasm(format!(
            "its layer is {}, not {WASM_LAYER_MEDIA_TYPE}",
            layer.media_type
        ))));
    }
    if layer.size < 0 || layer.size as u64 > options.max_bytes {
        return Err(session.error(FetchErrorKind::TooLarge {
            size: layer.size.max(0) as u64,
            max: options.max_bytes,
        }));
    }
    // The manifest's size is the registry's word: the body is read against it (and the
    // limit) while it streams, so a registry that sends more never grows memory past it.
    let size = layer.size as u64;
    let url = session.url(&format!("blobs/{}", layer.digest))?;
    let response = session.send(Method::GET, &url, |r| r).await?;
    let bytes = if response.status().is_success() {
        read_layer(session, response, size).await?
    } else if response.status() == StatusCode::NOT_FOUND
        && let Some(urls) = layer.urls.as_ref().filter(|u| !u.is_empty())
    {
        foreign_layer(session, urls, size).await?
    } else {
        return Err(session.status_error(response, "the registry").await);
    };
    let actual = format!("sha256:{}", sha256_hex(&bytes));
    if actual != layer.digest {
        return Err(session.error(FetchErrorKind::DigestMismatch {
            expected: layer.digest.clone(),
            actual,
        }));
    }
    Ok(bytes)
}

async fn read_layer(
    session: &Session,
    response: reqwest::Response,
    size: u64,
) -> Result<Vec<u8>, FetchError> {
    match policy::read_capped(response, size).await {
        Ok(bytes) => Ok(bytes),
        Err(policy::BodyError::TooLarge { size: sent }) => {
            Err(session.error(FetchErrorKind::Interrupted(format!(
                "the registry sent more than the {size} bytes its manifest announces ({sent}                  bytes or more): refused"
            ))))
        }
        Err(policy::BodyError::Transfer(e)) => Err(session.transfer_error(&e)),
    }
}

/// A layer the registry does not hold, from the URLs its manifest lists ("foreign
/// layers"): each checked against the policy before it is contacted, and never sent the
/// registry's credentials.
async fn foreign_layer(
    session: &Session,
    urls: &[String],
    size: u64,
) -> Result<Vec<u8>, FetchError> {
    let mut last = None;
    for url in urls {
        let parsed = Url::parse(url).map_err(|e| {
            session.error(FetchErrorKind::BadReference(format!(
                "the layer URL `{url}` is not a URL: {e}"
            )))
        })?;
        if !policy::allowed(&parsed, session.insecure()) {
            return Err(session.error(FetchErrorKind::Insecure(format!("the layer URL {parsed}"))));
        }
        // Sent as is, without `authorize`: a foreign host never gets the credentials.
        match session.client().get(parsed).send().await {
            Ok(response) if response.status().is_success() => {
                return read_layer(session, response, size).await;
            }
            Ok(response) => last = Some(session.status_error(response, "the layer URL").await),
            Err(e) => last = Some(session.transfer_error(&e)),
        }
    }
    Err(last.unwrap_or_else(|| session.error(FetchErrorKind::NotFound("no layer URL".into()))))
}

/// Pushes the component `bytes` to `reference` as a Wasm OCI artifact, with OCI
/// annotations taken from the package identity; returns the manifest URL. A tag that
/// already names another manifest is refused ([`FetchErrorKind::TagExists`]) unless
/// `move_tag`: consumers that follow the tag would silently get other code.
pub async fn push(
    reference: &OciRef,
    bytes: Vec<u8>,
    options: &RegistryOptions,
    move_tag: bool,
) -> Result<String, FetchError> {
    let error =
        |kind| FetchError::redacted(&reference.text, &reference.display(), kind, &Redact::new());
    let identity = PackageIdentity::read(&bytes);
    let (config, layer) = WasmConfig::from_raw_component(bytes, identity.authors.clone())
        .map_err(|e| error(FetchErrorKind::NotWasm(format!("{e:#}"))))?;
    let mut annotations = BTreeMap::new();
    for (key, value) in [
        ("org.opencontainers.image.title", &identity.name),
        ("org.opencontainers.image.version", &identity.version),
        (
            "org.opencontainers.image.description",
            &identity.description,
        ),
        ("org.opencontainers.image.authors", &identity.authors),
        ("org.opencontainers.image.licenses", &identity.license),
        ("org.opencontainers.image.source", &identity.source),
    ] {
        if let Some(value) = value {
            annotations.insert(key.to_string(), value.clone());
        }
    }
    let config = config
        .to_config()
        .map_err(|e| error(FetchErrorKind::NotWasm(format!("{e:#}"))))?;
    let layers = vec![layer];
    let mut manifest = OciImageManifest::build(&layers, &config, Some(annotations));
    manifest.media_type = Some(WASM_MANIFEST_MEDIA_TYPE.to_string());
    let manifest = serde_json::to_vec(&manifest).map_err(|e| {
        error(FetchErrorKind::Io(format!(
            "cannot write the manifest: {e}"
        )))
    })?;
    let mut session = Session::new(&reference.text, reference, options, "pull,push")?;
    let late = session.error(deadline_kind(options));
    let work = async {
        let layer = layers.into_iter().next().expect("one layer");
        if !move_tag && reference.reference.digest().is_none() {
            let digest = format!("sha256:{}", sha256_hex(&layer.data));
            refuse_a_moved_tag(&mut session, reference, &digest).await?;
        }
        upload_blob(&mut session, layer.data).await?;
        upload_blob(&mut session, config.data).await?;
        let url = session.url(&format!("manifests/{}", reference.target()))?;
        let response = session
            .send(Method::PUT, &url, |r| {
                content_type(r, WASM_MANIFEST_MEDIA_TYPE).body(manifest.clone())
            })
            .await?;
        if !response.status().is_success() {
            return Err(session.status_error(response, "the registry").await);
        }
        Ok(url.to_string())
    };
    within_deadline(options, || late, work).await
}

/// Refuses when the tag of `reference` names a package other than the component whose
/// layer digest is `layer_digest` (the same package pushed again is harmless, though its
/// manifest differs by its creation time); a tag the registry does not know is free.
async fn refuse_a_moved_tag(
    session: &mut Session,
    reference: &OciRef,
    layer_digest: &str,
) -> Result<(), FetchError> {
    let url = session.url(&format!("manifests/{}", reference.target()))?;
    let response = session.send(Method::GET, &url, manifest_accept).await?;
    if response.status() == StatusCode::NOT_FOUND {
        return Ok(());
    }
    if !response.status().is_success() {
        return Err(session.status_error(response, "the registry").await);
    }
    let existing = session
        .read(response, MAX_MANIFEST_BYTES, "the manifest")
        .await?;
    // Only a package is protected: what is not an image manifest with our one layer's
    // digest elsewhere (nothing consumers could run) is not refused.
    let other_package = serde_json::from_slice::<OciImageManifest>(&existing).is_ok_and(|m| {
        m.layers.iter().all(|layer| layer.digest != layer_digest) && !m.layers.is_empty()
    });
    if !other_package {
        return Ok(());
    }
    Err(session.error(FetchErrorKind::TagExists {
        tag: reference.target().to_string(),
        digest: format!("sha256:{}", sha256_hex(&existing)),
    }))
}

/// Uploads one blob unless the registry has it: a session opened with POST, then one PUT
/// of the bytes to the session's `Location` (checked against the policy; the registry's
/// credentials go there only if it is the registry itself).
async fn upload_blob(session: &mut Session, data: bytes::Bytes) -> Result<(), FetchError> {
    let digest = format!("sha256:{}", sha256_hex(&data));
    let url = session.url(&format!("blobs/{digest}"))?;
    let response = session.send(Method::HEAD, &url, |r| r).await?;
    if response.status().is_success() {
        return Ok(());
    }
    let url = session.url("blobs/uploads/")?;
    let response = session.send(Method::POST, &url, |r| r).await?;
    if response.status() != StatusCode::ACCEPTED {
        return Err(session.status_error(response, "the registry").await);
    }
    let mut location = session.location(&response)?;
    location.query_pairs_mut().append_pair("digest", &digest);
    let response = session
        .send(Method::PUT, &location, |r| {
            content_type(r, "application/octet-stream").body(data.clone())
        })
        .await?;
    if !response.status().is_success() {
        return Err(session.status_error(response, "the registry").await);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_registries_on_this_machine_are_loopback() {
        for r in [
            "localhost:5000",
            "127.0.0.1:5000",
            "127.1.2.3",
            "[::1]:5000",
            "LOCALHOST",
        ] {
            assert!(is_loopback(r), "{r}");
        }
        for r in [
            "ghcr.io",
            "10.0.0.1:5000",
            "localhost.example.com",
            "[::2]:1",
        ] {
            assert!(!is_loopback(r), "{r}");
        }
    }

    #[test]
    fn references_parse_with_tag_or_digest() {
        let r = OciRef::parse("a", "oci://127.0.0.1:5000/team/audit:1.0").unwrap();
        assert_eq!(r.registry(), "127.0.0.1:5000");
        assert_eq!(r.display(), "oci://127.0.0.1:5000/team/audit:1.0");
        let err = OciRef::parse("a", "127.0.0.1:5000/Team/UPPER:1").unwrap_err();
        assert!(
            matches!(*err.kind, FetchErrorKind::BadReference(_)),
            "{err}"
        );
        assert!(
            err.to_string()
                .starts_with("package `a` (oci://127.0.0.1:5000/Team/UPPER:1)")
        );
    }
}
