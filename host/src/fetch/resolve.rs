//! From a plan package's source and pin to verified bytes: local files are read and
//! checked against their pin; remote packages are read from the package store when the
//! pinned bytes are there (no network), else fetched, checked against the pin, and only
//! then stored. `--offline` stops before the network and names the missing package.

use std::path::Path;

use super::error::{FetchError, FetchErrorKind};
use super::identity::PackageIdentity;
use super::oci::{self, OciRef, RegistryOptions};
use super::store::{PackageStore, sha256_hex};
use crate::config::PackageSource;

/// Where a package's bytes came from this time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// A local file.
    File,
    /// The package store (no network).
    Store,
    /// Downloaded now (and stored).
    Network,
}

/// A package's bytes, checked against its pin.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// The component bytes.
    pub bytes: Vec<u8>,
    /// Their hex sha256.
    pub sha256: String,
    /// Where they came from.
    pub origin: Origin,
}

/// Fetches packages for one command.
#[derive(Debug, Clone)]
pub struct Resolver {
    store: PackageStore,
    offline: bool,
    registry: RegistryOptions,
}

impl Resolver {
    /// A resolver keeping fetched packages in `store`; `offline` forbids the network.
    pub fn new(store: PackageStore, offline: bool, registry: RegistryOptions) -> Self {
        Self {
            store,
            offline,
            registry,
        }
    }

    /// The package store.
    pub fn store(&self) -> &PackageStore {
        &self.store
    }

    /// The bytes of package `name` from `source`, checked against `pin` (required for
    /// remote sources by the plan parser; `None` here fetches whatever the source has,
    /// for `pull` and `lock --update-pins`).
    pub async fn resolve(
        &self,
        name: &str,
        source: &PackageSource,
        pin: Option<&str>,
    ) -> Result<Fetched, FetchError> {
        let shown = source.to_string();
        if let PackageSource::Path(path) = source {
            return read_file(name, path, pin);
        }
        if let Some(pin) = pin
            && let Some(bytes) = self.store.get(pin)
        {
            return Ok(Fetched {
                bytes,
                sha256: pin.to_string(),
                origin: Origin::Store,
            });
        }
        if self.offline {
            return Err(FetchError::new(name, &shown, FetchErrorKind::Offline));
        }
        let bytes = match source {
            PackageSource::Url(url) => super::url::download(name, url, &self.registry).await?,
            PackageSource::Oci(text) => {
                let reference = OciRef::parse(name, text)?;
                oci::pull(name, &reference, &self.registry).await?
            }
            PackageSource::Path(_) => unreachable!("handled above"),
        };
        let sha256 = sha256_hex(&bytes);
        if let Some(pin) = pin
            && pin != sha256
        {
            return Err(FetchError::new(
                name,
                &shown,
                self.pin_mismatch(pin, &sha256, &bytes),
            ));
        }
        self.store.put(&sha256, &bytes).map_err(|e| {
            FetchError::new(
                name,
                &shown,
                FetchErrorKind::Io(format!(
                    "cannot write the package store {}: {e}",
                    self.store.dir().display()
                )),
            )
        })?;
        Ok(Fetched {
            bytes,
            sha256,
            origin: Origin::Network,
        })
    }

    /// A pin mismatch showing both hashes and, where known, both `name@version`s.
    pub fn pin_mismatch(&self, pin: &str, sha256: &str, bytes: &[u8]) -> FetchErrorKind {
        FetchErrorKind::PinMismatch {
            expected: pin.to_string(),
            expected_identity: self
                .store
                .get(pin)
                .and_then(|b| PackageIdentity::read(&b).label()),
            actual: sha256.to_string(),
            actual_identity: PackageIdentity::read(bytes).label(),
        }
    }
}

fn read_file(name: &str, path: &Path, pin: Option<&str>) -> Result<Fetched, FetchError> {
    let shown = path.display().to_string();
    let bytes = crate::bounded_read::read_bytes(
        path,
        crate::bounded_read::PACKAGE_FILE_MAX,
        "step package",
    )
    .map_err(|e| {
        let e = e.into_io_error();
        let kind = if e.kind() == std::io::ErrorKind::NotFound {
            FetchErrorKind::Missing(e.to_string())
        } else {
            FetchErrorKind::Io(format!("cannot read it: {e}"))
        };
        FetchError::new(name, &shown, kind)
    })?;
    let sha256 = sha256_hex(&bytes);
    if let Some(pin) = pin
        && pin != sha256
    {
        return Err(FetchError::new(
            name,
            &shown,
            FetchErrorKind::PinMismatch {
                expected: pin.to_string(),
                expected_identity: None,
                actual: sha256,
                actual_identity: PackageIdentity::read(&bytes).label(),
            },
        ));
    }
    Ok(Fetched {
        bytes,
        sha256,
        origin: Origin::File,
    })
}
