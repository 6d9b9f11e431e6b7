//! Why a package cannot be fetched: one error naming the package and where it comes from,
//! with a kind saying what went wrong and a hint saying what to do.

use std::fmt;

use base64::Engine as _;

use super::credentials::Credentials;
use crate::error::UserFacing;

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
    /// A plain-HTTP source (or token service, layer URL, upload location) that is not on
    /// this machine, without `--insecure`; or credentials that would go over plain HTTP.
    Insecure(String),
    /// A redirect to plain HTTP on another machine, refused before it was followed.
    InsecureRedirect(String),
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
    /// `push` to a tag that already names another manifest, without `--force`.
    TagExists {
        /// The tag.
        tag: String,
        /// The digest of the manifest the tag names now.
        digest: String,
    },
}

/// The longest text one error field keeps (a registry message, a transfer error): the rest
/// is cut with a note, so a server cannot fill the terminal through an error.
pub const MAX_ERROR_TEXT: usize = 4 << 10;

/// The secrets one fetch may carry (passwords, tokens, credentials written in a URL) and the
/// one step that takes them out of every message built from what a server or a library said:
/// each error is redacted by [`FetchError::redacted`] where it is built, so no path can
/// print a registry body that echoes a password, or a reqwest error quoting a URL with one.
#[derive(Debug, Clone, Default)]
pub struct Redact {
    secrets: Vec<String>,
}

impl Redact {
    /// Nothing to hide yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Hides `secret` as written, percent-encoded and base64-encoded (a server may echo any).
    pub fn add(&mut self, secret: &str) {
        if secret.is_empty() {
            return;
        }
        let form = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect::<String>();
        let percent = secret
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect::<String>();
        let base64 = base64::engine::general_purpose::STANDARD.encode(secret);
        for s in [secret.to_string(), form, percent, base64] {
            if !self.secrets.contains(&s) {
                self.secrets.push(s);
            }
        }
        // Longest first: a secret containing another is replaced whole.
        self.secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }

    /// Hides a password and the `user:password` pair a basic `Authorization` carries.
    pub fn add_credentials(&mut self, credentials: &Credentials) {
        self.add(&credentials.password);
        self.add(&format!(
            "{}:{}",
            credentials.username, credentials.password
        ));
    }

    /// `text` with every secret replaced by `***`, cut to `MAX_ERROR_TEXT` bytes.
    pub fn apply(&self, text: &str) -> String {
        let text = self
            .secrets
            .iter()
            .fold(text.to_string(), |text, secret| text.replace(secret, "***"));
        cut(text)
    }
}

/// `text` cut to [`MAX_ERROR_TEXT`] bytes (on a character boundary), with the number of
/// bytes left out.
fn cut(mut text: String) -> String {
    if text.len() <= MAX_ERROR_TEXT {
        return text;
    }
    let mut end = MAX_ERROR_TEXT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let left = text.len() - end;
    text.truncate(end);
    text.push_str(&format!(" … ({left} more bytes not shown)"));
    text
}

impl FetchErrorKind {
    /// The kind with every text it carries passed through `f`.
    fn map_text(self, f: impl Fn(&str) -> String) -> Self {
        use FetchErrorKind as K;
        match self {
            K::BadReference(m) => K::BadReference(f(&m)),
            K::Unreachable(m) => K::Unreachable(f(&m)),
            K::Unauthorized(m) => K::Unauthorized(f(&m)),
            K::NotFound(m) => K::NotFound(f(&m)),
            K::NotWasm(m) => K::NotWasm(f(&m)),
            K::Insecure(m) => K::Insecure(f(&m)),
            K::InsecureRedirect(m) => K::InsecureRedirect(f(&m)),
            K::Interrupted(m) => K::Interrupted(f(&m)),
            K::Missing(m) => K::Missing(f(&m)),
            K::Io(m) => K::Io(f(&m)),
            K::DigestMismatch { expected, actual } => K::DigestMismatch {
                expected: f(&expected),
                actual: f(&actual),
            },
            K::TagExists { tag, digest } => K::TagExists {
                tag: f(&tag),
                digest: f(&digest),
            },
            other @ (K::Status(_) | K::TooLarge { .. } | K::PinMismatch { .. } | K::Offline) => {
                other
            }
        }
    }
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

    /// An error whose texts (package, source and what went wrong) went through `redact`:
    /// how every error that quotes a server or a library is built.
    pub fn redacted(package: &str, source: &str, kind: FetchErrorKind, redact: &Redact) -> Self {
        Self {
            package: redact.apply(package),
            source: redact.apply(source),
            kind: Box::new(kind.map_text(|t| redact.apply(t))),
        }
    }
}

impl UserFacing for FetchError {
    fn hint(&self) -> Option<String> {
        Some(match &*self.kind {
            FetchErrorKind::BadReference(_) => {
                "write `oci: REGISTRY/REPO:TAG`, `REGISTRY/REPO@sha256:DIGEST` or `url: https://…`".into()
            }
            FetchErrorKind::Unreachable(_) => {
                "check the address and your network; a package fetched once runs with --offline".into()
            }
            FetchErrorKind::Unauthorized(_) => "log in: `docker login REGISTRY` writes ~/.docker/config.json, or pass \
                 --username with --password-stdin, or set PROMETHEUS_WASM_REGISTRY (the registry's \
                 host[:port]) with PROMETHEUS_WASM_REGISTRY_USERNAME and PROMETHEUS_WASM_REGISTRY_PASSWORD; \
                 credentials go only to the registry they are for, over https or to this machine"
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
            FetchErrorKind::Insecure(_) | FetchErrorKind::InsecureRedirect(_) => {
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
            FetchErrorKind::TagExists { .. } => "every plan that names this tag without a pin \
                 would get the new package: push under a new tag (the package's version), or \
                 pass --force to move it"
                .into(),
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
            FetchErrorKind::Insecure(what) => write!(
                f,
                "refusing plain HTTP to {what}: only https, or http to this machine"
            ),
            FetchErrorKind::InsecureRedirect(to) => write!(
                f,
                "refusing a redirect to plain HTTP ({to}): only https, or http to this machine"
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
            FetchErrorKind::TagExists { tag, digest } => write!(
                f,
                "the tag `{tag}` already names another package (manifest {digest}); push does not move a tag without --force"
            ),
        }
    }
}

impl std::error::Error for FetchError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_hides_every_encoding_of_a_secret_and_cuts_long_text() {
        let mut redact = Redact::new();
        redact.add_credentials(&Credentials {
            username: "alice".into(),
            password: "p&ss w0rd".into(),
        });
        redact.add("tok3n");
        // base64("alice:p&ss w0rd")
        let echoed = "bad password p&ss w0rd (p%26ss+w0rd) Basic YWxpY2U6cCZzcyB3MHJk tok3n";
        let shown = redact.apply(echoed);
        assert!(
            !shown.contains("w0rd") && !shown.contains("YWxpY2U6") && !shown.contains("tok3n"),
            "{shown}"
        );
        assert!(shown.starts_with("bad password ***"), "{shown}");
        let long = redact.apply(&"é".repeat(10_000));
        assert!(long.len() < MAX_ERROR_TEXT + 64, "{}", long.len());
        assert!(long.ends_with("more bytes not shown)"), "{long}");
    }

    #[test]
    fn redacted_errors_hide_secrets_in_every_field() {
        let mut redact = Redact::new();
        redact.add("hunter2");
        let e = FetchError::redacted(
            "p",
            "https://u:hunter2@h/x",
            FetchErrorKind::Unauthorized("echo hunter2".into()),
            &redact,
        );
        assert!(!e.to_string().contains("hunter2"), "{e}");
    }
}
