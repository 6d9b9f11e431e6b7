//! `prometheus-wasm pull REF [-o FILE]`: fetches a step package from an OCI registry into
//! the package store (and FILE), and prints the sha256 and identity to pin in a plan.

use std::path::PathBuf;

use anyhow::anyhow;
use clap::Args;

use crate::cli::fetch_args::{RegistryArgs, cache_root};
use crate::cli::{EXIT_PASSED, UserError};
use crate::config::PackageSource;
use crate::fetch::{PackageIdentity, PackageStore, Resolver};

/// Options of `pull`.
#[derive(Debug, Args)]
pub struct PullArgs {
    /// The package: REGISTRY/REPO:TAG or REGISTRY/REPO@sha256:DIGEST.
    pub reference: String,

    /// Also write the package to FILE.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Where the package store is (under the cache directory) [default: as for `run`].
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,

    /// Registry options.
    #[command(flatten)]
    pub registry: RegistryArgs,
}

/// Pulls the package; returns the exit code.
pub async fn pull(args: PullArgs) -> Result<u8, UserError> {
    let resolver = Resolver::new(
        PackageStore::in_cache(&cache_root(args.cache_dir.clone())),
        false,
        args.registry.options()?,
    );
    let reference = args
        .reference
        .trim()
        .trim_start_matches("oci://")
        .to_string();
    let fetched = resolver
        .resolve(&reference, &PackageSource::Oci(reference.clone()), None)
        .await
        .map_err(UserError::usage_from)?;
    if let Some(output) = &args.output {
        write_atomically(output, &fetched.bytes).map_err(|e| {
            UserError::usage(anyhow!("cannot write {}: {e}", output.display()), None)
        })?;
    }
    let identity = PackageIdentity::read(&fetched.bytes);
    println!(
        "pulled oci://{reference}{} ({} bytes){}",
        identity
            .label()
            .map(|l| format!(" ({l})"))
            .unwrap_or_default(),
        fetched.bytes.len(),
        args.output
            .as_ref()
            .map(|o| format!(" to {}", o.display()))
            .unwrap_or_default()
    );
    println!(
        "pin it in a plan:\n  oci: {reference}\n  sha256: {}",
        fetched.sha256
    );
    Ok(EXIT_PASSED)
}

/// Writes FILE through a temporary file beside it, so a failed pull leaves no partial file.
fn write_atomically(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let mut temp = tempfile::NamedTempFile::new_in(dir)?;
    temp.write_all(bytes)?;
    temp.persist(path).map_err(|e| e.error)?;
    Ok(())
}
