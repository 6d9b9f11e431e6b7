//! `prometheus-wasm inspect`: the library's [`Inspection`] of a step package printed as
//! text or JSON. A package the runner would refuse is still described, with the reason
//! (exit 2).

use std::fmt::Write as _;
use std::io::Write as _;

use crate::cli::args::InspectArgs;
use crate::cli::stopped;
use crate::cli::{EXIT_PASSED, EXIT_USAGE, UserError};
use crate::config::LimitsConfig;
use crate::plugin::capabilities::grant;
use crate::plugin::inspect::{Inspection, inspect as inspect_package};
use crate::plugin::{PluginError, WIT_PACKAGE};
use crate::report::sanitize::{bounded_text, sanitize_json, sanitize_text};
use crate::session::signals::install_signals;

/// Widest import-name column; longer names push their own line's text to the right.
const MAX_NAME_COLUMN: usize = 64;

/// Prints what the package at `args.package` is and asks for.
pub async fn inspect(args: InspectArgs) -> Result<u8, UserError> {
    let usage = <UserError as From<PluginError>>::from;
    let mut signals = install_signals()?;
    let budgets = args.budgets.budgets(&LimitsConfig::default());
    // The manifest is guest code: it runs under the budgets, and a signal stops it.
    let report = match signals
        .until(inspect_package(&args.package, &budgets))
        .await
    {
        Ok(inspected) => inspected.map_err(usage)?,
        Err(stop) => return Ok(stopped(stop)),
    };
    // The manifest is guest text: control characters are rendered visibly.
    let text = if args.json {
        serde_json::to_string_pretty(&sanitize_json(report.to_json()))
            .expect("JSON values serialize")
            + "\n"
    } else {
        sanitize_text(&render_text(&report)).into_owned()
    };
    // A closed pipe (`| head`) is not an error worth a panic.
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
    match report.error {
        None => Ok(EXIT_PASSED),
        Some(e) if args.json => {
            eprintln!("error: {}", bounded_text(&e.to_string()));
            Ok(EXIT_USAGE)
        }
        Some(e) => Err(usage(e)),
    }
}

/// The human-readable report. Writing to a `String` cannot fail.
fn render_text(r: &Inspection) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "package   {}", r.path.display());
    if let Some(label) = r.identity.label() {
        let extra: Vec<&str> = [
            &r.identity.description,
            &r.identity.license,
            &r.identity.source,
        ]
        .into_iter()
        .flatten()
        .map(String::as_str)
        .collect();
        let tail = if extra.is_empty() {
            String::new()
        } else {
            format!(" ({})", extra.join(", "))
        };
        let _ = writeln!(out, "identity  {label}{tail}");
    }
    let _ = writeln!(
        out,
        "size      {} bytes ({:.1} KiB)",
        r.size,
        r.size as f64 / 1024.0
    );
    let _ = writeln!(out, "sha256    {}", r.sha256);
    let targets = r.interface.targets();
    let _ = writeln!(
        out,
        "targets   {} (this runner provides {WIT_PACKAGE})",
        if targets.is_empty() {
            "no prometheus:step interface".to_string()
        } else {
            targets.join(", ")
        }
    );
    let _ = writeln!(
        out,
        "imports   (the capabilities it asks for, and what a step gets)"
    );
    let width = r
        .interface
        .imports
        .iter()
        .map(|name| name.chars().count())
        .max()
        .unwrap_or(0)
        // Import names come from the component: a long one must not stretch every line
        // (nor reach the formatter's width limit, which panics).
        .min(MAX_NAME_COLUMN);
    for name in &r.interface.imports {
        let g = grant(name);
        let mark = if g.provided { " " } else { "!" };
        let _ = writeln!(out, "  {mark} {name:<width$}  {}", g.grants);
    }
    let _ = writeln!(out, "exports   {}", r.interface.exports.join(", "));
    if let Some(steps) = &r.steps {
        let _ = writeln!(out, "steps");
        for (i, s) in steps.iter().enumerate() {
            let _ = writeln!(
                out,
                "  {:>2}. {} @ {} — {}",
                i + 1,
                s.name,
                s.worker,
                s.description
            );
            if s.params.as_object().is_some_and(|o| !o.is_empty()) {
                let _ = writeln!(out, "      params: {}", s.params);
            }
        }
    }
    out
}
