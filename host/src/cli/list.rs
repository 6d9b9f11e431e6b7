//! `prometheus-wasm list`: the manifest of a step package.

use std::sync::Arc;

use anyhow::anyhow;

use crate::cli::args::ListArgs;
use crate::cli::{EXIT_PASSED, UserError};
use crate::plugin::{CodeCache, Package, StepEngine, Steps};

/// Prints the steps of a package.
pub async fn list(args: ListArgs) -> Result<u8, UserError> {
    let engine = Arc::new(StepEngine::new().map_err(|e| UserError::usage(anyhow!(e), None))?);
    let cache = CodeCache::default_dir().map(CodeCache::new);
    let package = Package::load(engine, &args.steps, cache.as_ref())
        .await
        .map_err(UserError::usage_from)?;
    if args.json {
        let steps: Vec<serde_json::Value> = package
            .manifest()
            .iter()
            .map(|s| {
                serde_json::json!({
                    "name": s.name, "description": s.description, "worker": s.worker, "params": s.params,
                })
            })
            .collect();
        let doc = serde_json::json!({
            "package": package.path().display().to_string(),
            "identity": package.identity(),
            "sha256": package.sha256(),
            "size": package.size(),
            "steps": steps,
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&doc).expect("JSON values serialize")
        );
    } else {
        println!(
            "{}{} ({} bytes, sha256 {})",
            package.path().display(),
            package
                .identity()
                .label()
                .map(|l| format!(": {l}"))
                .unwrap_or_default(),
            package.size(),
            package.sha256()
        );
        for (i, s) in package.manifest().iter().enumerate() {
            println!(
                "{:>3}. {} @ {} — {}",
                i + 1,
                s.name,
                s.worker,
                s.description
            );
            if s.params.as_object().is_some_and(|o| !o.is_empty()) {
                println!("     params: {}", s.params);
            }
        }
    }
    Ok(EXIT_PASSED)
}
