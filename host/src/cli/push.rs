//! `prometheus-wasm push PACKAGE.wasm REGISTRY/REPO:TAG`: publishes a step package as a
//! Wasm OCI artifact, after checking that it is one (a component exporting our world).

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::anyhow;
use clap::Args;

use crate::cli::args::BudgetArgs;
use crate::cli::fetch_args::RegistryArgs;
use crate::cli::stopped;
use crate::cli::{EXIT_PASSED, UserError};
use crate::config::LimitsConfig;
use crate::fetch::{OciRef, PackageIdentity, oci, sha256_hex};
use crate::plugin::package::read_package;
use crate::plugin::{Package, StepEngine, Steps};
use crate::report::sanitize::sanitize_line;
use crate::session::signals::install_signals;

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

    /// Move the tag if it already names another package (refused otherwise: whoever
    /// follows the tag would get other code without a word).
    #[arg(long)]
    pub force: bool,

    /// The budgets the package's manifest runs under while it is checked.
    #[command(flatten)]
    pub budgets: BudgetArgs,
}

/// Pushes the package; returns the exit code.
pub async fn push(args: PushArgs) -> Result<u8, UserError> {
    let reference = OciRef::parse(&args.reference, &args.reference).map_err(UserError::from)?;
    let mut options = args.registry.options()?;
    // The credentials typed or set for this command go to the registry it names.
    options.credentials = options
        .credentials
        .named_on_command_line(reference.registry());
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
        Ok(package) => package.map_err(UserError::from)?,
        Err(stop) => return Ok(stopped(stop)),
    };
    let bytes = read_package(&args.package).map_err(UserError::from)?;
    let sha256 = sha256_hex(&bytes);
    let identity = PackageIdentity::read(&bytes);
    warn_when_the_tag_is_not_the_version(&reference, &identity);
    let url = oci::push(&reference, bytes, &options, args.force)
        .await
        .map_err(UserError::from)?;
    // Names from the package, the reference and the registry's URL, printed escaped.
    let line = |text: &str| sanitize_line(text).into_owned();
    println!(
        "pushed {}{} ({} steps) to {}",
        line(&args.package.display().to_string()),
        identity
            .label()
            .map(|l| format!(" ({})", line(&l)))
            .unwrap_or_default(),
        package.manifest().len(),
        line(&reference.display())
    );
    println!("  manifest: {}", line(&url));
    println!("  sha256: {sha256}");
    println!(
        "use it in a plan:\n  oci: {}\n  sha256: {sha256}",
        line(args.reference.trim_start_matches("oci://"))
    );
    Ok(EXIT_PASSED)
}

/// A warning on stderr when the tag looks like a version (`1.2.0`, `v1.2.0`) that is not the
/// package's own (`metadata --set-version`): a plan pinned to `:1.2.0` expects 1.2.0.
fn warn_when_the_tag_is_not_the_version(reference: &OciRef, identity: &PackageIdentity) {
    let Some(tag) = reference.tag() else {
        return;
    };
    let bare = tag.strip_prefix('v').unwrap_or(tag);
    let looks_like_a_version = bare.split('.').count() >= 2
        && bare
            .split(['.', '-', '+'])
            .next()
            .is_some_and(|major| !major.is_empty() && major.bytes().all(|b| b.is_ascii_digit()));
    if !looks_like_a_version {
        return;
    }
    match &identity.version {
        Some(version) if version == bare => {}
        Some(version) => eprintln!(
            "warning: the tag `{}` is not the package's version ({}); set it with `prometheus-wasm metadata PACKAGE --set-version {}` or push under `:{}`",
            sanitize_line(tag),
            sanitize_line(version),
            sanitize_line(bare),
            sanitize_line(version)
        ),
        None => eprintln!(
            "warning: the tag `{}` looks like a version, but the package carries none; set it with `prometheus-wasm metadata PACKAGE --set-version {}`",
            sanitize_line(tag),
            sanitize_line(bare)
        ),
    }
}
