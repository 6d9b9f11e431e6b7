//! `prometheus-wasm pull REF [-o FILE]`: fetches a step package from an OCI registry into
//! the package store (and FILE), and prints the sha256 and identity to pin in a plan.

use std::path::PathBuf;

use anyhow::anyhow;
use clap::Args;

use crate::cli::fetch_args::RegistryArgs;
use crate::cli::{EXIT_PASSED, UserError};
use crate::config::PackageSource;
use crate::fetch::{OciRef, PackageIdentity, PackageStore, Resolver};
use crate::report::sanitize::sanitize_line;
use crate::session::source::cache_root;

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
    let reference = args
        .reference
        .trim()
        .trim_start_matches("oci://")
        .to_string();
    // The credentials typed or set for this command go to the registry it names.
    let mut options = args.registry.options()?;
    if let Ok(parsed) = OciRef::parse(&reference, &reference) {
        options.credentials = options.credentials.named_on_command_line(parsed.registry());
    }
    let resolver = Resolver::new(
        PackageStore::in_cache(&cache_root(args.cache_dir.clone())),
        false,
        options,
    );
    let fetched = resolver
        .resolve(&reference, &PackageSource::Oci(reference.clone()), None)
        .await
        .map_err(UserError::from)?;
    if let Some(output) = &args.output {
        crate::atomic_file::write(output, &fetched.bytes, false).map_err(|e| {
            UserError::usage(anyhow!("cannot write {}: {e}", output.display()), None)
        })?;
    }
    // The name and version come from the registry's bytes: printed escaped, so they cannot
    // drive the terminal (the reference too, though the user typed it).
    let identity = PackageIdentity::read(&fetched.bytes);
    let reference = sanitize_line(&reference).into_owned();
    println!(
        "pulled oci://{reference}{} ({} bytes){}",
        identity
            .label()
            .map(|l| format!(" ({})", sanitize_line(&l)))
            .unwrap_or_default(),
        fetched.bytes.len(),
        args.output
            .as_ref()
            .map(|o| format!(" to {}", sanitize_line(&o.display().to_string())))
            .unwrap_or_default()
    );
    println!(
        "pin it in a plan:\n  oci: {reference}\n  sha256: {}",
        fetched.sha256
    );
    Ok(EXIT_PASSED)
}
