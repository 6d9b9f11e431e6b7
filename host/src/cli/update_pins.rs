//! `lock --update-pins`: fetches every package of a plan again, ignoring its pin, shows the
//! old and new sha256 and `name@version` side by side, and rewrites the plan's pins once
//! the user confirms (`--yes` for scripts). The way out of a pin mismatch that does not
//! loop: `lock` alone checks the pins and fails the same way a run does.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::anyhow;

use crate::cli::UserError;
use crate::config::{PlanFile, rewrite_pin};
use crate::fetch::{PackageIdentity, Resolver};
use crate::plugin::LockFile;
use crate::report::sanitize::bounded_line;

/// One package whose pin would change.
struct Change {
    name: String,
    old: Option<String>,
    old_identity: Option<String>,
    new: String,
    new_identity: Option<String>,
}

/// Fetches, shows, confirms and rewrites; returns whether the plan file changed.
pub async fn update_pins(
    file: &PlanFile,
    resolver: &Resolver,
    yes: bool,
) -> Result<bool, UserError> {
    let mut changes = Vec::new();
    let locked = LockFile::read(&LockFile::path_for(&file.path))
        .ok()
        .flatten();
    // Unpinned files stay unpinned (packages built in the same repository); url and oci
    // packages are always pinned.
    for p in file.packages.iter().filter(|p| p.sha256.is_some()) {
        let fetched = resolver
            .resolve(&p.name, &p.source, None)
            .await
            .map_err(UserError::from)?;
        if p.sha256.as_deref() == Some(fetched.sha256.as_str()) {
            continue;
        }
        changes.push(Change {
            name: p.name.clone(),
            // From the store, else from the lock (a machine that never fetched it).
            old_identity: p
                .sha256
                .as_deref()
                .and_then(|old| resolver.store().get(old))
                .and_then(|b| PackageIdentity::read(&b).label())
                .or_else(|| {
                    locked
                        .as_ref()
                        .and_then(|l| l.packages.get(&p.name))
                        .filter(|l| p.sha256.as_deref() == Some(l.sha256.as_str()))
                        .and_then(|l| l.identity.clone())
                }),
            old: p.sha256.clone(),
            new_identity: PackageIdentity::read(&fetched.bytes).label(),
            new: fetched.sha256,
        });
    }
    // Names come from the plan, old pins from the plan, identities from the packages and
    // the lock: every one is rendered through the report's sanitizer, the line the user
    // approves included, so what is shown is what will be written.
    let path = bounded_line(&file.path.display().to_string());
    if changes.is_empty() {
        println!("{path}: every pin matches its package");
        return Ok(false);
    }
    println!("{path}: pins that would change:");
    let names: Vec<String> = changes.iter().map(|c| bounded_line(&c.name)).collect();
    let width = names.iter().map(|n| n.chars().count()).max().unwrap_or(0);
    for (c, name) in changes.iter().zip(&names) {
        let shown = |sha: Option<&str>, id: &Option<String>| {
            format!(
                "{}{}",
                bounded_line(sha.unwrap_or_default()),
                id.as_ref()
                    .map(|i| format!(" {}", bounded_line(i)))
                    .unwrap_or_default()
            )
        };
        println!(
            "  {:width$}  old {}\n  {:width$}  new {}",
            name,
            shown(c.old.as_deref(), &c.old_identity),
            "",
            shown(Some(&c.new), &c.new_identity),
        );
    }
    if !yes && !confirm(&format!("rewrite {} pin(s) in {path}?", changes.len()))? {
        return Err(UserError::usage(
            anyhow!("{}: pins not rewritten", file.path.display()),
            Some("review the changes above; pass --yes to rewrite them without asking".into()),
        ));
    }
    let mut text = std::fs::read_to_string(&file.path)
        .map_err(|e| UserError::usage(anyhow!("cannot read {}: {e}", file.path.display()), None))?;
    for c in &changes {
        text = rewrite_pin(&text, &c.name, &c.new).ok_or_else(|| {
            UserError::usage(
                anyhow!(
                    "{}: cannot rewrite the pin of package `{}`",
                    file.path.display(),
                    c.name
                ),
                Some(format!(
                    "write the package in block style, or set `sha256: {}` by hand",
                    c.new
                )),
            )
        })?;
    }
    crate::atomic_file::write(&file.path, text.as_bytes(), true).map_err(|e| {
        UserError::usage(anyhow!("cannot write {}: {e}", file.path.display()), None)
    })?;
    println!("{path}: rewrote {} pin(s)", changes.len());
    Ok(true)
}

/// Asks on the terminal; without one (CI, a pipe) the answer is no, and the error says
/// to pass --yes.
fn confirm(question: &str) -> Result<bool, UserError> {
    if !std::io::stdin().is_terminal() {
        return Ok(false);
    }
    print!("{question} [y/N] ");
    let _ = std::io::stdout().flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| UserError::usage(anyhow!("cannot read the answer: {e}"), None))?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}
