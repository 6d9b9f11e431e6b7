//! `prometheus-wasm metadata PACKAGE.wasm`: prints a package's identity (name, version…),
//! or writes it into the component's metadata section, from flags or from the Cargo
//! package that built it (`--cargo PATH/Cargo.toml`, read through `cargo metadata`, so
//! workspace-inherited fields resolve). The build scripts call it after `cargo build` and
//! after componentize-py/-js: a cdylib has no post-build hook, and a section written by the
//! guest's own code would land in the inner core module, not on the component.

use std::path::PathBuf;

use anyhow::anyhow;
use clap::Args;
use tokio::process::Command;

use crate::bounded_read;
use crate::cli::stopped;
use crate::cli::{EXIT_PASSED, UserError};
use crate::error::UserFacing;
use crate::fetch::{MAX_PACKAGE_BYTES, PackageIdentity};
use crate::report::sanitize::{bounded_line, sanitize_json};
use crate::session::signals::install_signals;

/// Options of `metadata`.
#[derive(Debug, Args)]
pub struct MetadataArgs {
    /// The step package (.wasm).
    pub package: PathBuf,

    /// Take name, version, description, authors, license and repository from this Cargo
    /// package (flags given too win).
    #[arg(long, value_name = "CARGO_TOML")]
    pub cargo: Option<PathBuf>,

    /// Package name.
    #[arg(long)]
    pub name: Option<String>,

    /// Package version.
    #[arg(long = "set-version", value_name = "VERSION")]
    pub version: Option<String>,

    /// One-line description.
    #[arg(long)]
    pub description: Option<String>,

    /// Authors.
    #[arg(long)]
    pub authors: Option<String>,

    /// SPDX license expression.
    #[arg(long)]
    pub license: Option<String>,

    /// Source code URL.
    #[arg(long)]
    pub source: Option<String>,

    /// Write the stamped package here instead of in place.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// Prints or writes the identity; returns the exit code. Ctrl-C and SIGTERM stop it while
/// it waits for `cargo metadata` (130/143).
pub async fn metadata(args: MetadataArgs) -> Result<u8, UserError> {
    let mut signals = install_signals()?;
    // A regular file only, capped like a fetched package: a FIFO or a device named here is
    // refused at once instead of blocking the command where no signal can stop it.
    let bytes = bounded_read::read_bytes(&args.package, MAX_PACKAGE_BYTES, "step package")
        .map_err(|e| UserError::usage(anyhow!("cannot read {e}"), e.hint()))?;
    let mut wanted = match &args.cargo {
        Some(manifest) => match signals.until(from_cargo(manifest)).await {
            Ok(identity) => identity?,
            Err(stop) => return Ok(stopped(stop)),
        },
        None => PackageIdentity::default(),
    };
    for (field, flag) in [
        (&mut wanted.name, &args.name),
        (&mut wanted.version, &args.version),
        (&mut wanted.description, &args.description),
        (&mut wanted.authors, &args.authors),
        (&mut wanted.license, &args.license),
        (&mut wanted.source, &args.source),
    ] {
        if flag.is_some() {
            field.clone_from(flag);
        }
    }
    if wanted == PackageIdentity::default() {
        // The identity is the package author's text: serde escapes C0 controls only, so
        // C1 controls and bidi overrides are rendered visibly first.
        let id = serde_json::to_value(PackageIdentity::read(&bytes)).expect("identity is JSON");
        println!(
            "{}",
            serde_json::to_string_pretty(&sanitize_json(id)).expect("identity is JSON")
        );
        return Ok(EXIT_PASSED);
    }
    let stamped = wanted.stamp(&bytes).map_err(|e| {
        UserError::usage(
            anyhow!(
                "cannot write the metadata of {}: {e}",
                args.package.display()
            ),
            Some("the package must be a WebAssembly component".into()),
        )
    })?;
    let out = args.output.as_ref().unwrap_or(&args.package);
    std::fs::write(out, &stamped)
        .map_err(|e| UserError::usage(anyhow!("cannot write {}: {e}", out.display()), None))?;
    let label = PackageIdentity::read(&stamped).label().unwrap_or_default();
    println!(
        "{}: {}",
        bounded_line(&out.display().to_string()),
        bounded_line(&label)
    );
    Ok(EXIT_PASSED)
}

/// The identity of the Cargo package whose manifest is `manifest`. `cargo` is killed when
/// the future is dropped (a signal stopped the command).
async fn from_cargo(manifest: &std::path::Path) -> Result<PackageIdentity, UserError> {
    let bad = |message: String| {
        UserError::usage(
            anyhow!(
                "cannot read the Cargo metadata of {}: {message}",
                manifest.display()
            ),
            Some("pass the Cargo.toml of the step package's crate".into()),
        )
    };
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "metadata",
            "--no-deps",
            "--format-version",
            "1",
            "--offline",
            "--manifest-path",
        ])
        .arg(manifest)
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| bad(e.to_string()))?;
    if !out.status.success() {
        return Err(bad(String::from_utf8_lossy(&out.stderr).trim().to_string()));
    }
    let meta: serde_json::Value =
        serde_json::from_slice(&out.stdout).map_err(|e| bad(e.to_string()))?;
    let wanted = std::fs::canonicalize(manifest).map_err(|e| bad(e.to_string()))?;
    let package = meta["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| {
            p["manifest_path"]
                .as_str()
                .is_some_and(|m| std::path::Path::new(m) == wanted)
        })
        .ok_or_else(|| {
            bad("no package has this manifest (a virtual workspace manifest?)".into())
        })?;
    let text = |key: &str| package[key].as_str().map(str::to_string);
    let authors: Vec<&str> = package["authors"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a.as_str())
        .collect();
    Ok(PackageIdentity {
        name: text("name"),
        version: text("version"),
        description: text("description"),
        authors: (!authors.is_empty()).then(|| authors.join(", ")),
        license: text("license"),
        source: text("repository"),
    })
}
