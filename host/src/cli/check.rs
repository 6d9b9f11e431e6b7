//! `prometheus-wasm check`: validates a test folder and prints the resolved plan, starting
//! nothing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::anyhow;
use clap::Args;

use crate::check::{Plan, render};
use crate::cli::{EXIT_PASSED, UserError};
use crate::config;
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
}

fn config_path(args: &CheckArgs) -> PathBuf {
    match &args.tests_dir {
        Some(path) if path.is_dir() => path.join("config.yaml"),
        Some(path) => path.clone(),
        None if Path::new("tests/config.yaml").is_file() => PathBuf::from("tests/config.yaml"),
        None => PathBuf::from("config.yaml"),
    }
}

/// Validates config.yaml, workers.json, the environment, keypairs and data files, and
/// prints the plan (names and public keys only; secret values are masked).
pub fn check(args: CheckArgs) -> Result<u8, UserError> {
    let path = config_path(&args);
    let process_env: BTreeMap<String, String> = std::env::vars().collect();
    let config = config::load(&path, &process_env).map_err(UserError::usage_from)?;
    let keys = Keyring::load(&config).map_err(UserError::usage_from)?;
    let http = HttpCtx::from_config(&config, &Budgets::default()).map_err(UserError::usage_from)?;
    let plan = Plan::build(&config, &keys, http.policy())
        .map_err(|e| UserError::usage(anyhow!(e), None))?;
    let redactor = Redactor::new(
        config
            .secret_values()
            .into_iter()
            .chain(keys.secret_values()),
    );
    print!("{}", redactor.redact(&render(&plan)));
    println!("ok: the test folder is valid (nothing was started)");
    Ok(EXIT_PASSED)
}
