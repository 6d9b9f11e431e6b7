//! `prometheus-wasm migrate TESTS_DIR`: writes a Python step package from a
//! prometheus-test folder (`migrate/`), prints what could not be carried over.

use std::path::PathBuf;

use clap::Args;

use crate::cli::{EXIT_PASSED, UserError};
use crate::migrate;
use crate::report::sanitize::sanitize_line;

/// Options of `migrate`.
#[derive(Debug, Args)]
#[command(
    after_help = "Writes TESTS_DIR/wasm/: src/ (your modules, unchanged, and a generated \
entry module), helpers/ (the prometheus_test compatibility layer and requests), build.sh, \
plan.yaml and MIGRATION.txt. Then: TESTS_DIR/wasm/build.sh && prometheus-wasm run TESTS_DIR/wasm/plan.yaml\n\n\
Exit codes: 0 the package was written (places that could not be carried over are listed), \
2 nothing was written."
)]
pub struct MigrateArgs {
    /// The prometheus-test folder: config.yaml, workers.json, .env, steps.py and the
    /// modules steps.py imports.
    pub tests_dir: PathBuf,

    /// Rewrite an existing TESTS_DIR/wasm/ (its .venv and steps.wasm are kept).
    #[arg(long)]
    pub force: bool,
}

/// Runs `migrate`; returns the exit code.
pub fn migrate(args: MigrateArgs) -> Result<u8, UserError> {
    let suite = migrate::analyse(&args.tests_dir).map_err(UserError::from)?;
    let written = migrate::write(&suite, args.force).map_err(UserError::from)?;
    // Paths and names come from the suite: printed through the sanitizer `run` uses, so a
    // folder named with escape sequences or a newline cannot drive the terminal.
    let shown = |p: &std::path::Path| sanitize_line(&p.display().to_string()).into_owned();
    println!("wrote {}", shown(&written.dir));
    println!(
        "  steps: {} ({})",
        sanitize_line(&suite.steps_module),
        match &suite.steps_source {
            migrate::StepsSource::Variable => "the module-level `steps` list".to_owned(),
            migrate::StepsSource::Function(name) => format!("built by {name}()"),
        }
    );
    let copied: Vec<String> = written.copied.iter().map(|p| shown(p)).collect();
    println!("  copied unchanged: {}", copied.join(", "));
    if !written.generated_inits.is_empty() {
        let inits: Vec<String> = written.generated_inits.iter().map(|p| shown(p)).collect();
        println!("  generated (empty package markers): {}", inits.join(", "));
    }
    if let Some(p) = &suite.post_load {
        println!(
            "  post-load: {}.{}",
            sanitize_line(&p.module),
            sanitize_line(&p.name)
        );
    }
    if suite.findings.is_empty() {
        println!("{}", migrate::NOTHING_FOUND);
    } else {
        println!("could not be carried over ({}):", suite.findings.len());
        for line in migrate::finding_lines(&suite.findings) {
            println!("  {}", sanitize_line(&line));
        }
    }
    // The list comes from reading the source: say what was looked at, never "everything".
    println!("{}", migrate::CHECKED);
    // A command to copy: each path quoted as one shell word, so pasting it runs only it.
    let word = |p: std::path::PathBuf| {
        let text = p.display().to_string();
        let quoted = shlex::try_quote(&text).map_or(text.clone(), |q| q.into_owned());
        sanitize_line(&quoted).into_owned()
    };
    println!(
        "next: {} && prometheus-wasm run {}",
        word(written.dir.join("build.sh")),
        word(written.dir.join("plan.yaml"))
    );
    Ok(EXIT_PASSED)
}
