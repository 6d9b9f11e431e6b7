//! `prometheus-wasm push PACKAGE.wasm REGISTRY/REPO:TAG`: publishes a step package as a
//! Wasm OCI artifact, after checking that it is one (a component exporting our world).

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::anyhow;
use clap::Args;

use crate::cli::args::BudgetArgs;
use crate::cli::fetch_args::RegistryArgs;
use crate::cli::signals::{install_signals, stopped};
use crate::cli::{EXIT_PASSED, UserError};
use crate::config::LimitsConfig;
use crate::fetch::{OciRef, PackageIdentity, oci, sha256_hex};
use crate::plugin::{Package, StepEngine, Steps};

/// Options of `push`.
#[derive(Debug, Args)]
pub struct PushArgs {
    /// The step package (.wasm).
    pub package: PathBuf,

    /// Where to push it: REGISTRY/REPO:TAG.
    pub reference: String,

    /// Registry options.
    #[command(flatten)]
    pub registry: RegistryArgs,

    /// The budgets the package's manifest runs under while it is checked.
    #[command(flatten)]
    pub budgets: BudgetArgs,
}

/// Pushes the package; returns the exit code.
pub async fn push(args: PushArgs) -> Result<u8, UserError> {
    let reference =
        OciRef::parse(&args.reference, &args.reference).map_err(UserError::usage_from)?;
    let options = args.registry.options()?;
    // Only packages this runner can load are published: a broken one fails here, not in
    // every consumer's CI.
    let budgets = args.budgets.budgets(&LimitsConfig::default());
    let engine = Arc::new(
        StepEngine::for_budgets(&budgets).map_err(|e| UserError::usage(anyhow!(e), None))?,
    );
    let mut signals = install_signals()?;
    let package = match signals
        .until(Package::load(engine, &args.package, None, &budgets))
        .await
    {
        Ok(package) => package.map_err(UserError::usage_from)?,
        Err(stop) => return Ok(stopped(stop)),
    };
    let bytes = std::fs::read(&args.package).map_err(|e| {
        UserError::usage(anyhow!("cannot read {}: {e}", args.package.display()), None)
    })?;
    let sha256 = sha256_hex(&bytes);
    let identity = PackageIdentity::read(&bytes);
    let url = oci::push(&reference, bytes, &options)
        .await
        .map_err(UserError::usage_from)?;
    println!(
        "pushed {}{} ({} steps) to {}",
        args.package.display(),
        identity
            .label()
            .map(|l| format!(" ({l})"))
            .unwrap_or_default(),
        package.manifest().len(),
        reference.display()
    );
    println!("  manifest: {url}");
    println!("  sha256: {sha256}");
    println!(
        "use it in a plan:\n  oci: {}\n  sha256: {sha256}",
        args.reference.trim_start_matches("oci://")
    );
    Ok(EXIT_PASSED)
}
