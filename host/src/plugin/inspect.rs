//! What a step package is and what it asks for, before running it (`prometheus-wasm
//! inspect`): its manifest, the WIT contract it targets, its imports (the capabilities it
//! asks for, each with what this runner grants), its size and sha256. A package the
//! runner would refuse is still described, with the reason.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{Value, json};

use super::capabilities::{ComponentInterface, grant};
use super::package::read_package;
use super::{Budgets, CodeCache, Package, PluginError, StepEngine, StepInfo, Steps, WIT_PACKAGE};
use crate::fetch::{PackageIdentity, sha256_hex};

/// Everything known about a package without running a step.
#[derive(Debug)]
pub struct Inspection {
    /// The package file.
    pub path: PathBuf,
    /// The identity it declares (name, version, …), if any.
    pub identity: PackageIdentity,
    /// Its size in bytes.
    pub size: u64,
    /// The sha256 of its bytes.
    pub sha256: String,
    /// What it imports and exports.
    pub interface: ComponentInterface,
    /// Its steps; `None` when it cannot run here (see [`Inspection::error`]).
    pub steps: Option<Vec<StepInfo>>,
    /// Why this runner would refuse it, when it would.
    pub error: Option<PluginError>,
}

/// Reads and loads the package at `path` (its manifest runs under `budgets`, from the
/// user's code cache when compiled before). `Err` only for a file that is not a
/// component at all; a component this runner cannot run is described with its
/// [`Inspection::error`].
pub async fn inspect(path: &Path, budgets: &Budgets) -> Result<Inspection, PluginError> {
    let engine = Arc::new(StepEngine::for_budgets(budgets)?);
    let bytes = read_package(path)?;
    let cache = CodeCache::default_dir().map(CodeCache::new);
    match Package::load(engine.clone(), path, cache.as_ref(), budgets).await {
        Ok(package) => Ok(Inspection {
            path: path.to_path_buf(),
            identity: PackageIdentity::read(&bytes),
            size: package.size(),
            sha256: package.sha256().to_string(),
            interface: package.interface(),
            steps: Some(package.manifest().to_vec()),
            error: None,
        }),
        // Not a component at all: nothing more to say.
        Err(e @ (PluginError::Read { .. } | PluginError::NotAComponent { .. })) => Err(e),
        // Compiles but cannot run here: still list what it asks for.
        Err(error) => Ok(Inspection {
            path: path.to_path_buf(),
            identity: PackageIdentity::read(&bytes),
            size: bytes.len() as u64,
            sha256: sha256_hex(&bytes),
            interface: ComponentInterface::read(&engine, path).unwrap_or_default(),
            steps: None,
            error: Some(error),
        }),
    }
}

impl Inspection {
    /// The `inspect --json` document (unsanitized: the manifest is guest text).
    pub fn to_json(&self) -> Value {
        let r = self;
        let imports: Vec<Value> = r
            .interface
            .imports
            .iter()
            .map(|name| {
                let g = grant(name);
                json!({"name": name, "provided": g.provided, "grants": g.grants})
            })
            .collect();
        let steps = r.steps.as_ref().map(|steps| {
            steps
                .iter()
                .map(|s| {
                    json!({"name": s.name, "description": s.description, "worker": s.worker, "params": s.params})
                })
                .collect::<Vec<_>>()
        });
        json!({
            "package": r.path.display().to_string(),
            "identity": r.identity,
            "size": r.size,
            "sha256": r.sha256,
            "targets": r.interface.targets(),
            "runner_provides": WIT_PACKAGE,
            "imports": imports,
            "exports": r.interface.exports,
            "steps": steps,
            "error": r.error.as_ref().map(|e| e.to_string()),
        })
    }
}
