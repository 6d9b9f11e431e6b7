//! Package identity: name, version, description, authors, license and source URL, kept in
//! the component itself in the standard component metadata custom sections (the ones
//! `wasm-tools metadata add` writes), read and written with the `wasm-metadata` crate.
//!
//! The identity says what a package claims to be; the sha256 pin says which bytes are
//! trusted. Both appear in errors so a user can tell an upgrade from a surprise.

use wasm_metadata::{
    AddMetadata, AddMetadataField, Authors, Description, Licenses, Payload, Source, Version,
};

/// The most characters of a package's `name@version` shown anywhere.
pub const MAX_LABEL_CHARS: usize = 200;

/// What a package says it is; every field is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct PackageIdentity {
    /// The package name (`audit-steps`).
    pub name: Option<String>,
    /// Its version (`1.2.0`).
    pub version: Option<String>,
    /// One line on what it does.
    pub description: Option<String>,
    /// Who is responsible for it.
    pub authors: Option<String>,
    /// SPDX license expression.
    pub license: Option<String>,
    /// Where its source code is (a URL).
    pub source: Option<String>,
}

impl PackageIdentity {
    /// The identity in the outermost component of `bytes` (empty when there is none or the
    /// bytes are not WebAssembly).
    pub fn read(bytes: &[u8]) -> Self {
        let Ok(payload) = Payload::from_binary(bytes) else {
            return Self::default();
        };
        let m = payload.metadata();
        Self {
            name: m.name.clone().filter(|n| !n.is_empty()),
            version: m.version.as_ref().map(ToString::to_string),
            description: m.description.as_ref().map(ToString::to_string),
            authors: m.authors.as_ref().map(ToString::to_string),
            license: m.licenses.as_ref().map(ToString::to_string),
            source: m.source.as_ref().map(ToString::to_string),
        }
    }

    /// `name@version`, `name`, or `None` when the package carries no name. The name comes
    /// from the package's author: cut at `MAX_LABEL_CHARS` characters (with `…`), so a
    /// package named with megabytes cannot fill a terminal or an error.
    pub fn label(&self) -> Option<String> {
        let name = self.name.as_deref()?;
        let label = match &self.version {
            Some(v) => format!("{name}@{v}"),
            None => name.to_string(),
        };
        Some(match label.char_indices().nth(MAX_LABEL_CHARS) {
            Some((end, _)) => format!("{}…", &label[..end]),
            None => label,
        })
    }

    /// `bytes` with this identity written into the outermost component's metadata; fields
    /// that are `None` keep what the component had.
    pub fn stamp(&self, bytes: &[u8]) -> Result<Vec<u8>, String> {
        fn field<T: std::fmt::Debug + Clone>(v: Option<T>) -> AddMetadataField<T> {
            v.map_or(AddMetadataField::Keep, AddMetadataField::Set)
        }
        let licenses = self
            .license
            .as_deref()
            .map(Licenses::new)
            .transpose()
            .map_err(|e| format!("license is not an SPDX expression: {e}"))?;
        let source = self
            .source
            .as_deref()
            .map(Source::new)
            .transpose()
            .map_err(|e| format!("source is not a URL: {e}"))?;
        let mut add = AddMetadata::default();
        add.name = field(self.name.clone());
        add.version = field(self.version.clone().map(Version::new));
        add.description = field(self.description.clone().map(Description::new));
        add.authors = field(self.authors.clone().map(Authors::new));
        add.licenses = field(licenses);
        add.source = field(source);
        add.sdk = vec![("prometheus-wasm".into(), env!("CARGO_PKG_VERSION").into())];
        add.to_wasm(bytes).map_err(|e| format!("{e:#}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_huge_name_is_cut_in_the_label() {
        let identity = PackageIdentity {
            name: Some("é".repeat(100_000)),
            version: Some("1.0.0".into()),
            ..Default::default()
        };
        let label = identity.label().unwrap();
        assert_eq!(label.chars().count(), MAX_LABEL_CHARS + 1, "{label}");
        assert!(label.ends_with('…'));
    }

    /// The smallest component: the preamble alone.
    const EMPTY_COMPONENT: &[u8] = b"\0asm\x0d\0\x01\0";

    #[test]
    fn identity_round_trips_through_the_metadata_section() {
        let id = PackageIdentity {
            name: Some("audit-steps".into()),
            version: Some("1.2.0".into()),
            description: Some("audits".into()),
            authors: Some("Team A".into()),
            license: Some("Apache-2.0".into()),
            source: Some("https://example.com/audit".into()),
        };
        let stamped = id.stamp(EMPTY_COMPONENT).unwrap();
        let read = PackageIdentity::read(&stamped);
        assert_eq!(read, id);
        assert_eq!(read.label().as_deref(), Some("audit-steps@1.2.0"));
        let bumped = PackageIdentity {
            version: Some("1.3.0".into()),
            ..Default::default()
        }
        .stamp(&stamped)
        .unwrap();
        let read = PackageIdentity::read(&bumped);
        assert_eq!(
            read.label().as_deref(),
            Some("audit-steps@1.3.0"),
            "name kept"
        );
        assert_eq!(PackageIdentity::read(b"junk"), PackageIdentity::default());
        assert_eq!(PackageIdentity::default().label(), None);
    }

    #[test]
    fn a_bad_license_is_refused() {
        let id = PackageIdentity {
            license: Some("not a license (".into()),
            ..Default::default()
        };
        assert!(id.stamp(EMPTY_COMPONENT).unwrap_err().contains("SPDX"));
    }
}
