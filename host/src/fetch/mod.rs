//! Fetching step packages: from a file, a URL or an OCI registry into verified bytes, kept
//! in a content-addressed store under the cache directory; package identity (name,
//! version…) read from and written to the component's metadata section.
//!
//! Sits below `plugin/`: it hands bytes and their sha256 to the plugin, which never sees
//! a URL. Imports only `config` (plan package sources). Start from [`Resolver::resolve`];
//! `push` and `pull` are [`oci::push`] and [`oci::pull`]. Every request, `url:` or OCI,
//! goes through the one network policy in [`policy`], and every error through
//! [`FetchError::redacted`].

mod credentials;
mod error;
mod identity;
pub mod oci;
pub mod policy;
mod registry;
mod resolve;
mod store;
mod url;

pub use credentials::{CredentialSources, Credentials, PASSWORD_ENV, REGISTRY_ENV, USERNAME_ENV};
pub use error::{BUILD_HINT, FetchError, FetchErrorKind, Redact};
pub use identity::PackageIdentity;
pub use oci::{OciRef, RegistryOptions};
pub use resolve::{Fetched, Origin, Resolver};
pub use store::{PackageStore, sha256_hex};

/// The largest package fetched by default (`--max-package-mib` changes it): bounds the
/// memory a download holds (packages are read whole to be hashed) and the disk the store
/// grows by. A Python package is ~20 MB.
pub const MAX_PACKAGE_BYTES: u64 = crate::bounded_read::PACKAGE_FILE_MAX;

/// How long one read from a package host or registry may stall by default
/// (`--fetch-timeout` changes it): bounds a server that stops answering.
pub const READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// How long one whole fetch (a `url:` download, a pull, a push) may take by default
/// (`--fetch-deadline` changes it): bounds a server that trickles bytes (each read
/// arrives in time, the whole never ends).
pub const FETCH_DEADLINE: std::time::Duration = std::time::Duration::from_secs(600);

/// How many redirects a fetch (a `url:` download, a registry request) follows before
/// failing (a loop ends here).
pub const MAX_REDIRECTS: usize = 5;
