//! One entry of a plan's `packages:`: where the package comes from (a file beside the
//! plan, a URL, an OCI registry) and its sha256 pin.
//!
//! ```yaml
//! packages:
//!   local:  {path: ../shared/audit_steps.wasm}                       # pin optional
//!   byurl:  {url: https://example.com/audit_steps.wasm, sha256: 3f1c…}  # pin required
//!   fromoci: {oci: ghcr.io/team/audit:1.2.0, sha256: 3f1c…}            # pin required
//! ```
//!
//! A package fetched over the network must be pinned: the pin is what makes a second run
//! use the same bytes (and lets it skip the network), and what refuses a moved tag.
//! Pure: only shape and spelling are checked here; `fetch/` parses OCI references.
//! Imports only sibling config modules.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::location::find_key;
use super::plan_file::PlanError;

/// Length of a sha256 pin in hex digits.
pub(crate) const SHA256_HEX_LEN: usize = 64;

/// Where a plan package's bytes come from.
#[derive(Debug, Clone, PartialEq)]
pub enum PackageSource {
    /// A file, resolved against the plan's directory.
    Path(PathBuf),
    /// An `http://` or `https://` URL.
    Url(String),
    /// An OCI reference, `REGISTRY/REPO:TAG` or `REGISTRY/REPO@sha256:DIGEST`.
    Oci(String),
}

impl PackageSource {
    /// Whether the bytes come over the network (and so go through the package store).
    pub fn is_remote(&self) -> bool {
        !matches!(self, PackageSource::Path(_))
    }
}

/// `url` with the credentials it carries (`https://user:TOKEN@host/…`) replaced by `***`:
/// how a URL is shown in notes and errors.
pub fn redact_url(url: &str) -> String {
    super::uri_credentials(url)
        .iter()
        .fold(url.to_string(), |text, secret| text.replace(secret, "***"))
}

impl fmt::Display for PackageSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PackageSource::Path(p) => write!(f, "{}", p.display()),
            PackageSource::Url(u) => write!(f, "{}", redact_url(u)),
            PackageSource::Oci(r) => write!(f, "oci://{r}"),
        }
    }
}

/// An entry of `packages:` as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPackage {
    path: Option<String>,
    url: Option<String>,
    oci: Option<String>,
    sha256: Option<String>,
}

/// Normalises a pin (`sha256:` prefix dropped, lowercase) or says why it is not one.
pub fn normalize_pin(pin: &str) -> Option<String> {
    let pin = pin
        .trim()
        .trim_start_matches("sha256:")
        .to_ascii_lowercase();
    (pin.len() == SHA256_HEX_LEN && pin.bytes().all(|b| b.is_ascii_hexdigit())).then_some(pin)
}

/// Checks one package entry: exactly one of `path`, `url`, `oci`; a well-formed pin; a
/// pin for every remote package.
pub(crate) fn parse_package(
    text: &str,
    plan: &Path,
    name: &str,
    raw: RawPackage,
) -> Result<(PackageSource, Option<String>), PlanError> {
    let at = find_key(text, &["packages", name]).map(|s| s.key);
    let value_at = |key: &str| find_key(text, &["packages", name, key]).map(|s| s.value);
    let dir = plan.parent().unwrap_or(Path::new(""));
    let source = match (raw.path, raw.url, raw.oci) {
        (Some(path), None, None) => PackageSource::Path(dir.join(path)),
        (None, Some(url), None) => {
            let url = url.trim().to_string();
            let scheme_ok = url::Url::parse(&url)
                .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.has_host());
            if !scheme_ok {
                return Err(PlanError::new(
                    plan,
                    value_at("url"),
                    format!("the url of package `{name}` is not an http(s) URL: `{url}`"),
                )
                .with_hint("write `url: https://host/path/steps.wasm`"));
            }
            PackageSource::Url(url)
        }
        (None, None, Some(reference)) => {
            let reference = reference.trim().trim_start_matches("oci://").to_string();
            if !reference.contains('/') || reference.contains(char::is_whitespace) {
                return Err(PlanError::new(
                    plan,
                    value_at("oci"),
                    format!("the oci reference of package `{name}` is not REGISTRY/REPO:TAG: `{reference}`"),
                )
                .with_hint("write `oci: ghcr.io/team/steps:1.0.0` or `oci: registry/repo@sha256:DIGEST`"));
            }
            PackageSource::Oci(reference)
        }
        (None, None, None) => {
            return Err(PlanError::new(
                plan,
                at,
                format!("package `{name}` says neither `path`, `url` nor `oci`"),
            )
            .with_hint("give the package one of `path: file.wasm`, `url: https://…` or `oci: registry/repo:tag`"));
        }
        _ => {
            return Err(PlanError::new(
                plan,
                at,
                format!("package `{name}` names more than one of `path`, `url` and `oci`"),
            )
            .with_hint("keep one source per package; give another source its own package name"));
        }
    };
    let sha256 = match raw.sha256 {
        None if source.is_remote() => {
            return Err(PlanError::new(
                plan,
                at,
                format!("package `{name}` comes from {source} but has no `sha256` pin"),
            )
            .with_hint(format!(
                "a fetched package must be pinned: `prometheus-wasm pull {}` prints its sha256; add `sha256: HEX` under it",
                match &source {
                    PackageSource::Oci(r) => r.clone(),
                    _ => "REF".into(),
                }
            )));
        }
        None => None,
        Some(pin) => Some(normalize_pin(&pin).ok_or_else(|| {
            PlanError::new(
                plan,
                value_at("sha256"),
                format!("the sha256 pin of package `{name}` is not {SHA256_HEX_LEN} hex digits"),
            )
            .with_hint(format!(
                "`prometheus-wasm lock {}` prints each package's sha256",
                plan.display()
            ))
        })?),
    };
    Ok((source, sha256))
}

/// The plan text with package `name` pinned to `pin`: its `sha256:` value replaced, or a
/// `sha256:` line added under its source key. Comments and layout are kept. `None` when
/// the entry is not written in block style (`name: {path: …}`), which the caller reports.
pub fn rewrite_pin(text: &str, name: &str, pin: &str) -> Option<String> {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    if let Some(span) = find_key(text, &["packages", name, "sha256"]) {
        let line = lines.get_mut(span.value.line - 1)?;
        let start = span.value.column - 1;
        let rest = line.get(start..)?;
        let end = start + rest.find([' ', '#']).unwrap_or(rest.len());
        line.replace_range(start..end, pin);
    } else {
        let span = ["path", "url", "oci"]
            .iter()
            .find_map(|key| find_key(text, &["packages", name, key]))?;
        let indent = " ".repeat(span.key.column - 1);
        lines.insert(span.key.line, format!("{indent}sha256: {pin}"));
    }
    let mut out = lines.join("\n");
    if text.ends_with('\n') {
        out.push('\n');
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use crate::config::parse_plan;
    use crate::error::UserFacing;

    use super::*;

    const PIN: &str = "3f1c0000000000000000000000000000000000000000000000000000000000ab";

    fn plan(packages: &str) -> Result<crate::config::PlanFile, PlanError> {
        parse_plan(
            &format!("packages:\n{packages}steps:\n  - use: a\n"),
            Path::new("tests/plan.yaml"),
        )
    }

    #[test]
    fn url_and_oci_packages_parse_with_their_pins() {
        let p = plan(&format!(
            "  a:\n    url: http://127.0.0.1:8000/a.wasm\n    sha256: {PIN}\n  b:\n    oci: oci://localhost:5000/team/b:1.0\n    sha256: sha256:{}\n",
            PIN.to_uppercase()
        ))
        .unwrap();
        assert_eq!(
            p.packages[0].source,
            PackageSource::Url("http://127.0.0.1:8000/a.wasm".into())
        );
        assert_eq!(
            p.packages[1].source,
            PackageSource::Oci("localhost:5000/team/b:1.0".into())
        );
        assert_eq!(p.packages[1].sha256.as_deref(), Some(PIN));
    }

    #[test]
    fn pins_are_rewritten_in_place_or_added_under_the_source() {
        let new = "ab".repeat(32);
        let text = format!(
            "packages:\n  a:\n    oci: r/a:1  # team A\n    sha256: {PIN}  # pinned\n  b:\n    path: b.wasm\nsteps:\n  - use: a\n"
        );
        let out = rewrite_pin(&text, "a", &new).unwrap();
        assert_eq!(
            out,
            text.replace(PIN, &new),
            "value replaced, comments kept"
        );
        let out = rewrite_pin(&out, "b", &new).unwrap();
        assert!(
            out.contains(&format!("    path: b.wasm\n    sha256: {new}\n")),
            "{out}"
        );
        let p = parse_plan(&out, Path::new("plan.yaml")).unwrap();
        assert!(
            p.packages
                .iter()
                .all(|p| p.sha256.as_deref() == Some(new.as_str()))
        );
        assert_eq!(rewrite_pin("packages: {a: {path: x}}\n", "a", &new), None);
    }

    #[test]
    fn a_url_package_without_a_pin_is_refused_at_its_line() {
        let err = plan("  a:\n    url: https://example.com/a.wasm\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "tests/plan.yaml:2:3: package `a` comes from https://example.com/a.wasm but has no `sha256` pin"
        );
        assert!(err.hint().unwrap().contains("must be pinned"));
        let err = plan("  a:\n    oci: localhost:5000/a:1\n").unwrap_err();
        assert!(err.to_string().contains("has no `sha256` pin"), "{err}");
    }

    #[test]
    fn sources_must_be_exactly_one_and_well_formed() {
        let err = plan(&format!("  a:\n    sha256: {PIN}\n")).unwrap_err();
        assert!(
            err.to_string().contains("neither `path`, `url` nor `oci`"),
            "{err}"
        );
        let err = plan("  a:\n    path: a.wasm\n    oci: r/x:1\n").unwrap_err();
        assert!(err.to_string().contains("more than one"), "{err}");
        let err = plan(&format!(
            "  a:\n    url: ftp://x/a.wasm\n    sha256: {PIN}\n"
        ))
        .unwrap_err();
        assert!(
            err.to_string().starts_with("tests/plan.yaml:3:10: the url"),
            "{err}"
        );
        let err = plan(&format!("  a:\n    oci: justaname\n    sha256: {PIN}\n")).unwrap_err();
        assert!(err.to_string().contains("not REGISTRY/REPO:TAG"), "{err}");
    }
}
