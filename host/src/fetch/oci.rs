//! OCI registries: push and pull step packages as CNCF "Wasm OCI artifacts" (one
//! `application/wasm` layer, a `application/vnd.wasm.config.v0+json` config listing the
//! component's imports and exports) through the Bytecode Alliance's `oci-wasm` crate, so
//! packages pushed by other Wasm tools (wkg, wash, spin) pull here and ours pull there.
//!
//! Plain HTTP is used only for a registry on this machine (localhost, 127.0.0.0/8, ::1),
//! or for any registry when the user passes `--insecure`.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use futures_util::StreamExt;
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::{DigestError, OciDistributionError, OciErrorCode};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};
use oci_wasm::{WASM_LAYER_MEDIA_TYPE, WasmClient, WasmConfig};

use super::credentials::CredentialSources;
use super::error::{FetchError, FetchErrorKind};
use super::identity::PackageIdentity;
use super::store::sha256_hex;

/// How long connecting to a registry may take: an unreachable registry fails a run
/// quickly instead of holding CI.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// How to reach package sources (registries and `url:` hosts).
#[derive(Debug, Clone)]
pub struct RegistryOptions {
    /// Where credentials come from.
    pub credentials: CredentialSources,
    /// Allow plain HTTP to hosts that are not on this machine.
    pub insecure: bool,
    /// The largest package fetched, in bytes.
    pub max_bytes: u64,
    /// How long one read may stall before the fetch fails.
    pub read_timeout: Duration,
}

impl Default for RegistryOptions {
    fn default() -> Self {
        Self {
            credentials: CredentialSources::default(),
            insecure: false,
            max_bytes: super::MAX_PACKAGE_BYTES,
            read_timeout: super::READ_TIMEOUT,
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
}

/// Whether `registry` (`host[:port]`) is on this machine.
pub(crate) fn is_loopback(registry: &str) -> bool {
    let host = match registry.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => registry,
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn client(reference: &OciRef, options: &RegistryOptions) -> WasmClient {
    let registry = reference.registry().to_string();
    let protocol = if options.insecure || is_loopback(&registry) {
        ClientProtocol::HttpsExcept(vec![registry])
    } else {
        ClientProtocol::Https
    };
    WasmClient::new(Client::new(ClientConfig {
        protocol,
        connect_timeout: Some(CONNECT_TIMEOUT),
        read_timeout: Some(options.read_timeout),
        ..Default::default()
    }))
}

fn auth(reference: &OciRef, options: &RegistryOptions) -> RegistryAuth {
    match options.credentials.for_registry(reference.registry()) {
        Some(c) => RegistryAuth::Basic(c.username, c.password),
        None => RegistryAuth::Anonymous,
    }
}

/// Maps an oci-client (or oci-wasm) error to what it means for the user.
fn kind_of(error: &anyhow::Error) -> FetchErrorKind {
    let Some(oci) = error.downcast_ref::<OciDistributionError>() else {
        // oci-wasm's own checks: layer count, config or manifest media type.
        return FetchErrorKind::NotWasm(format!("{error:#}"));
    };
    match oci {
        OciDistributionError::AuthenticationFailure(m) => FetchErrorKind::Unauthorized(m.clone()),
        OciDistributionError::UnauthorizedError { url } => {
            FetchErrorKind::Unauthorized(format!("the registry refused {url}"))
        }
        OciDistributionError::ImageManifestNotFoundError(m) => FetchErrorKind::NotFound(m.clone()),
        OciDistributionError::RegistryError { envelope, .. } => {
            let codes: Vec<&OciErrorCode> = envelope.errors.iter().map(|e| &e.code).collect();
            let text = envelope.to_string();
            if codes
                .iter()
                .any(|c| matches!(c, OciErrorCode::Unauthorized | OciErrorCode::Denied))
            {
                FetchErrorKind::Unauthorized(text)
            } else if codes.iter().any(|c| {
                matches!(
                    c,
                    OciErrorCode::ManifestUnknown
                        | OciErrorCode::NameUnknown
                        | OciErrorCode::BlobUnknown
                )
            }) {
                FetchErrorKind::NotFound(text)
            } else {
                FetchErrorKind::Io(format!("registry error: {text}"))
            }
        }
        OciDistributionError::ServerError { code, message, .. } => match code {
            401 | 403 => FetchErrorKind::Unauthorized(format!("HTTP {code} {message}")),
            404 => FetchErrorKind::NotFound(format!("HTTP 404 {message}")),
            _ => FetchErrorKind::Status(*code),
        },
        OciDistributionError::RequestError(e) => {
            FetchErrorKind::Unreachable(crate::error_text::error_chain(e))
        }
        OciDistributionError::IncompatibleLayerMediaTypeError(m)
        | OciDistributionError::UnsupportedMediaTypeError(m) => FetchErrorKind::NotWasm(m.clone()),
        OciDistributionError::DigestError(DigestError::VerificationError { expected, actual }) => {
            FetchErrorKind::DigestMismatch {
                expected: expected.clone(),
                actual: actual.clone(),
            }
        }
        other => FetchErrorKind::Io(other.to_string()),
    }
}

/// Pulls the component at `reference` and checks it: a Wasm artifact with one
/// `application/wasm` layer whose bytes have the layer's digest (and the reference's
/// digest, for `@sha256:` references: oci-client checks the manifest).
pub async fn pull(
    package: &str,
    reference: &OciRef,
    options: &RegistryOptions,
) -> Result<Vec<u8>, FetchError> {
    let error = |kind| FetchError::new(package, &reference.display(), kind);
    let client = client(reference, options);
    let auth = auth(reference, options);
    let (manifest, _config, _digest) = client
        .pull_manifest_and_config(&reference.reference, &auth)
        .await
        .map_err(|e| error(kind_of(&e)))?;
    let layer = &manifest.layers[0];
    if layer.media_type != WASM_LAYER_MEDIA_TYPE {
        return Err(error(FetchErrorKind::NotWasm(format!(
            "its layer is {}, not {WASM_LAYER_MEDIA_TYPE}",
            layer.media_type
        ))));
    }
    if layer.size < 0 || layer.size as u64 > options.max_bytes {
        return Err(error(FetchErrorKind::TooLarge {
            size: layer.size.max(0) as u64,
            max: options.max_bytes,
        }));
    }
    // Streamed and capped here: the manifest's size is the registry's word, and a
    // registry that sends more than it announced must not grow memory past the limit.
    let mut stream = client
        .pull_blob_stream(&reference.reference, layer)
        .await
        .map_err(|e| error(kind_of(&e.into())))?;
    let mut bytes: Vec<u8> = Vec::with_capacity(layer.size as usize);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| error(FetchErrorKind::Interrupted(e.to_string())))?;
        let size = (bytes.len() + chunk.len()) as u64;
        if size > options.max_bytes {
            return Err(error(FetchErrorKind::TooLarge {
                size,
                max: options.max_bytes,
            }));
        }
        bytes.extend_from_slice(&chunk);
    }
    let actual = format!("sha256:{}", sha256_hex(&bytes));
    if actual != layer.digest {
        return Err(error(FetchErrorKind::DigestMismatch {
            expected: layer.digest.clone(),
            actual,
        }));
    }
    Ok(bytes)
}

/// Pushes the component `bytes` to `reference` as a Wasm OCI artifact, with OCI
/// annotations taken from the package identity; returns the manifest URL.
pub async fn push(
    reference: &OciRef,
    bytes: Vec<u8>,
    options: &RegistryOptions,
) -> Result<String, FetchError> {
    let error = |kind| FetchError::new(&reference.text, &reference.display(), kind);
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
    let client = client(reference, options);
    let auth = auth(reference, options);
    let response = client
        .push(
            &reference.reference,
            &auth,
            layer,
            config,
            Some(annotations),
        )
        .await
        .map_err(|e| error(kind_of(&e)))?;
    Ok(response.manifest_url)
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
