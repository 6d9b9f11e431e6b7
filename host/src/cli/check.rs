//! `prometheus-wasm check`: validates a test folder and prints the resolved plan, starting
//! nothing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::anyhow;
use clap::Args;

use crate::check::{Plan, render};
use crate::cli::{EXIT_PASSED, UserError};
use crate::config::{self, MIN_SECRET_LEN, Secrets};
use crate::koii::Keyring;
use crate::plugin::Budgets;
use crate::plugin::http::HttpCtx;
use crate::report::Redactor;

/// Options of `check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The tests directory (holding config.yaml) or the config file itself
    /// [default: ./tests if it has a config.yaml, else .].
    pub tests_dir: Option<PathBuf>,

    /// Also treat this variable as secret, as `run --secret` does; repeatable.
    #[arg(long = "secret", value_name = "NAME")]
    pub secrets: Vec<String>,
}

fn config_path(args: &CheckArgs) -> PathBuf {
    match &args.tests_dir {
        Some(path) if path.is_dir() => path.join("config.yaml"),
        Some(path) => path.clone(),
        None if Path::new("tests/config.yaml").is_file() => PathBuf::from("tests/config.yaml"),
        None => PathBuf::from("config.yaml"),
    }
}

/// The variables treated as secret, by name and reason; never a value.
fn render_secrets(secrets: &Secrets) -> String {
    let mut out = String::new();
    if secrets.variables.is_empty() {
        out.push_str("secrets: none (nothing to mask besides keypairs)\n");
    } else {
        out.push_str("secrets (masked in every output and report):\n");
    }
    for v in &secrets.variables {
        let short = if v.is_masked() {
            String::new()
        } else {
            format!("; shorter than {MIN_SECRET_LEN} characters: not masked")
        };
        out.push_str(&format!("  {} ({}{short})\n", v.name, v.reason));
    }
    for name in &secrets.unknown {
        out.push_str(&format!(
            "warning: --secret {name}: no variable {name} in the environment, the .env files or a worker's env\n"
        ));
    }
    out
}

/// Validates config.yaml, workers.json, the environment, keypairs and data files, and
/// prints the plan (names and public keys only; secret values are masked).
pub fn check(args: CheckArgs) -> Result<u8, UserError> {
    let path = config_path(&args);
    let process_env: BTreeMap<String, String> = std::env::vars().collect();
    let config = config::load(&path, &process_env).map_err(UserError::usage_from)?;
    let keys = Keyring::load(&config).map_err(UserError::usage_from)?;
    let secrets = config.secrets(&args.secrets);
    let redactor = Redactor::new(secrets.values().into_iter().chain(keys.secret_values()));
    let http = HttpCtx::from_config(&config, &Budgets::default())
        .map_err(|e| UserError::usage_from(e).redacted(&redactor))?;
    let plan = Plan::build(&config, &keys, http.policy())
        .map_err(|e| UserError::usage(anyhow!(e), None).redacted(&redactor))?;
    let text = format!("{}{}", render(&plan), render_secrets(&secrets));
    print!("{}", redactor.scrub(&text));
    println!("ok: the test folder is valid (nothing was started)");
    Ok(EXIT_PASSED)
}
