//! `prometheus-wasm list`: the manifest of a step package.

use std::sync::Arc;

use anyhow::anyhow;

use crate::cli::args::ListArgs;
use crate::cli::stopped;
use crate::cli::{EXIT_PASSED, UserError};
use crate::config::LimitsConfig;
use crate::plugin::{CodeCache, Package, StepEngine, Steps};
use crate::report::sanitize::{sanitize_json, sanitize_line};
use crate::session::signals::install_signals;

/// Prints the steps of a package.
pub async fn list(args: ListArgs) -> Result<u8, UserError> {
    let mut signals = install_signals()?;
    let budgets = args.budgets.budgets(&LimitsConfig::default());
    let engine = Arc::new(
        StepEngine::for_budgets(&budgets).map_err(|e| UserError::usage(anyhow!(e), None))?,
    );
    let cache = CodeCache::default_dir().map(CodeCache::new);
    // A test folder lists its steps.wasm; a plan has several packages (`check` shows them).
    let steps = crate::session::source::in_folder(&args.steps)?;
    if crate::session::source::is_plan_path(&steps) {
        return Err(UserError::usage(
            anyhow!(
                "{} is a plan; list shows the steps of one step package",
                sanitize_line(&steps.display().to_string())
            ),
            Some(format!(
                "`prometheus-wasm check {}` shows the plan's steps, or pass one of its packages",
                sanitize_line(&args.steps.display().to_string())
            )),
        ));
    }
    // The manifest is guest code: it runs under the budgets, and a signal stops it.
    let package = match signals
        .until(Package::load(engine, &steps, cache.as_ref(), &budgets))
        .await
    {
        Ok(loaded) => loaded.map_err(UserError::from)?,
        Err(stop) => return Ok(stopped(stop)),
    };
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
            serde_json::to_string_pretty(&sanitize_json(doc)).expect("JSON values serialize")
        );
    } else {
        // The path, the identity and the manifest come from elsewhere: control characters
        // are rendered visibly.
        println!(
            "{}{} ({} bytes, sha256 {})",
            sanitize_line(&package.path().display().to_string()),
            package
                .identity()
                .label()
                .map(|l| format!(": {}", sanitize_line(&l)))
                .unwrap_or_default(),
            package.size(),
            package.sha256()
        );
        for (i, s) in package.manifest().iter().enumerate() {
            println!(
                "{:>3}. {} @ {} — {}",
                i + 1,
                sanitize_line(&s.name),
                sanitize_line(&s.worker),
                sanitize_line(&s.description)
            );
            if s.params.as_object().is_some_and(|o| !o.is_empty()) {
                println!("     params: {}", sanitize_line(&s.params.to_string()));
            }
        }
    }
    Ok(EXIT_PASSED)
}
