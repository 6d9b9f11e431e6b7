//! Why a package cannot be fetched: one error naming the package and where it comes from,
//! with a kind saying what went wrong and a hint saying what to do.

use std::fmt;

/// How to get a package that is not there yet: the build commands of each guest language.
pub const BUILD_HINT: &str = "build the step package first: `cargo build --target wasm32-wasip2 --release` \
     in its crate for Rust (scripts/build-components.sh for this repository's), \
     componentize-py or componentize-js for Python and JavaScript; then pass the .wasm's path";

/// What went wrong while fetching one package.
#[derive(Debug, Clone, PartialEq)]
pub enum FetchErrorKind {
    /// The reference or URL cannot be used as written.
    BadReference(String),
    /// The host or registry cannot be reached (DNS, refused, TLS, timeout).
    Unreachable(String),
    /// The registry refused the credentials, or asked for some (HTTP 401/403).
    Unauthorized(String),
    /// The URL, repository or tag does not exist (HTTP 404, unknown manifest).
    NotFound(String),
    /// The server answered with an error status.
    Status(u16),
    /// The OCI artifact is not a Wasm component artifact.
    NotWasm(String),
    /// The bytes are bigger than the fetch limit (`--max-package-mib`).
    TooLarge {
        /// The size announced or received so far.
        size: u64,
        /// The limit.
        max: u64,
    },
    /// A plain-HTTP source (or redirect) that is not on this machine, without `--insecure`.
    Insecure(String),
    /// The transfer stopped before the end.
    Interrupted(String),
    /// The registry's blob does not have the digest its manifest says.
    DigestMismatch {
        /// The digest in the manifest or reference.
        expected: String,
        /// The digest of the bytes received.
        actual: String,
    },
    /// The bytes are not the ones the plan pins.
    PinMismatch {
        /// The pinned sha256.
        expected: String,
        /// `name@version` of the pinned bytes, when they are in the store.
        expected_identity: Option<String>,
        /// The sha256 of the bytes received.
        actual: String,
        /// `name@version` of the bytes received.
        actual_identity: Option<String>,
    },
    /// `--offline` and the package is not in the store.
    Offline,
    /// The local package file does not exist (not built yet, most often).
    Missing(String),
    /// The local file or the store cannot be read or written.
    Io(String),
}

/// A package that cannot be fetched.
#[derive(Debug, Clone, PartialEq)]
pub struct FetchError {
    /// The package's name in the plan, or the reference for `pull`.
    pub package: String,
    /// Where it comes from (URL, `oci://REF`, path).
    pub source: String,
    /// What went wrong (boxed: a pin mismatch carries four strings).
    pub kind: Box<FetchErrorKind>,
}

impl FetchError {
    /// An error about `package` from `source`.
    pub fn new(package: &str, source: &str, kind: FetchErrorKind) -> Self {
        Self {
            package: package.to_string(),
            source: source.to_string(),
            kind: Box::new(kind),
        }
    }

    /// What the user can do about it.
    pub fn hint(&self) -> Option<String> {
        Some(match &*self.kind {
            FetchErrorKind::BadReference(_) => {
                "write `oci: REGISTRY/REPO:TAG`, `REGISTRY/REPO@sha256:DIGEST` or `url: https://…`".into()
            }
            FetchErrorKind::Unreachable(_) => {
                "check the address and your network; a package fetched once runs with --offline".into()
            }
            FetchErrorKind::Unauthorized(_) => "log in: `docker login REGISTRY` writes ~/.docker/config.json, or pass \
                 --username with --password-stdin, or set PROMETHEUS_WASM_REGISTRY_USERNAME and \
                 PROMETHEUS_WASM_REGISTRY_PASSWORD"
                .into(),
            FetchErrorKind::NotFound(_) => {
                "check the repository and tag (`prometheus-wasm pull REF` tries it alone)".into()
            }
            FetchErrorKind::NotWasm(_) => {
                "push step packages with `prometheus-wasm push PACKAGE.wasm REGISTRY/REPO:TAG`".into()
            }
            FetchErrorKind::PinMismatch { .. } => format!(
                "the package changed since it was pinned: review the new one, then \
                 `prometheus-wasm lock --update-pins PLAN` rewrites the pins (or pin a digest: `oci: {}@sha256:…`)",
                self.source.trim_start_matches("oci://").split(['@']).next().unwrap_or_default()
            ),
            FetchErrorKind::TooLarge { .. } => {
                "if the package is expected to be this big, raise --max-package-mib".into()
            }
            FetchErrorKind::Insecure(_) => {
                "use an https:// address, or pass --insecure if this host is trusted".into()
            }
            FetchErrorKind::Offline => {
                "run once without --offline (or `prometheus-wasm pull`) to put it in the package store".into()
            }
            FetchErrorKind::Interrupted(_) | FetchErrorKind::Status(_) => {
                "try again; nothing partial was kept".into()
            }
            FetchErrorKind::DigestMismatch { .. } => {
                "the registry returned other bytes than it advertised: try again, or ask its owner".into()
            }
            FetchErrorKind::Missing(_) => BUILD_HINT.into(),
            _ => return None,
        })
    }
}

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A bare package (no plan) is named by its path alone.
        if let FetchErrorKind::Missing(m) = &*self.kind {
            return if self.package == self.source {
                write!(f, "cannot read step package {}: {m}", self.source)
            } else {
                write!(
                    f,
                    "cannot read step package `{}` ({}): {m}",
                    self.package, self.source
                )
            };
        }
        if self.package == self.source {
            write!(f, "{}: ", self.source)?;
        } else {
            write!(f, "package `{}` ({}): ", self.package, self.source)?;
        }
        match &*self.kind {
            FetchErrorKind::BadReference(m) => write!(f, "bad reference: {m}"),
            FetchErrorKind::Unreachable(m) => write!(f, "cannot reach it: {m}"),
            FetchErrorKind::Unauthorized(m) => write!(f, "not authorized: {m}"),
            FetchErrorKind::NotFound(m) => write!(f, "not found: {m}"),
            FetchErrorKind::Status(code) => write!(f, "the server answered HTTP {code}"),
            FetchErrorKind::NotWasm(m) => write!(f, "not a Wasm component artifact: {m}"),
            FetchErrorKind::TooLarge { size, max } => write!(
                f,
                "it is larger than the {} MiB limit ({size} bytes or more)",
                max >> 20
            ),
            FetchErrorKind::Insecure(url) => write!(
                f,
                "refusing plain HTTP to {url}: only https, or http to this machine"
            ),
            FetchErrorKind::Interrupted(m) => write!(f, "the download was interrupted: {m}"),
            FetchErrorKind::DigestMismatch { expected, actual } => {
                write!(f, "digest mismatch: expected {expected}, received {actual}")
            }
            FetchErrorKind::PinMismatch {
                expected,
                expected_identity,
                actual,
                actual_identity,
            } => {
                let label =
                    |l: &Option<String>| l.as_ref().map(|l| format!(" ({l})")).unwrap_or_default();
                write!(
                    f,
                    "does not match its pin: the plan pins sha256 {expected}{}, the source now has sha256 {actual}{}",
                    label(expected_identity),
                    label(actual_identity)
                )
            }
            FetchErrorKind::Offline => write!(
                f,
                "not in the package store, and --offline forbids fetching it"
            ),
            FetchErrorKind::Missing(m) | FetchErrorKind::Io(m) => write!(f, "{m}"),
        }
    }
}

impl std::error::Error for FetchError {}
