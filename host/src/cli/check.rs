//! `prometheus-wasm check`: the flags made into [`Settings`], the check done by the
//! library ([`Session::check`](crate::session::Session::check)), the resolved plan printed.
//!
//! Checked: config.yaml (with `--set`), workers.json, the environment, keypairs, data
//! files, the network grant, then the plan file or step package: every package loaded
//! (pins checked, compiled, its manifest read), the capability lock compared (never
//! written), each step's worker, the selection, the workers' ports, programs and
//! directories, data_dir and the report paths (created by `run`, only judged here), the
//! step names and rounds.

use std::path::{Path, PathBuf};

use clap::Args;

use crate::cli::args::BudgetArgs;
use crate::cli::stopped;
use crate::cli::{EXIT_PASSED, UserError};
use crate::session::{CacheSettings, LockPolicy, Settings};

/// Options of `check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// A test folder (config.yaml with plan.yaml or steps.wasm), a plan, a step package,
    /// or the config file itself [default: ./tests if it has a config.yaml, else .].
    pub tests_dir: Option<PathBuf>,

    /// The test configuration [default: as for `run`].
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Override a key of config.yaml, as `run --set` does; repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,

    /// Also treat this variable as secret, as `run --secret` does; repeatable.
    #[arg(long = "secret", value_name = "NAME")]
    pub secrets: Vec<String>,

    /// Where compiled components are cached [default: as for `run`].
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,

    /// Compile the packages without reading or writing the cache.
    #[arg(long)]
    pub no_cache: bool,

    /// The budgets the packages' manifests run under [default: config.yaml's `limits`].
    #[command(flatten)]
    pub budgets: BudgetArgs,

    /// Fetching a plan's url/oci packages (into the package store `run` uses).
    #[command(flatten)]
    pub fetch: super::fetch_args::FetchArgs,

    /// Check as `run --update-lock` would: new capabilities are approved (nothing is
    /// written).
    #[arg(long)]
    pub update_lock: bool,

    /// Check as `run --locked` would (as under `CI=true`): a package asking for more than
    /// the lock grants fails, the folder's own too.
    #[arg(long, conflicts_with = "update_lock")]
    pub locked: bool,

    /// The steps `run` would run (`--step`, `--from`, `--to`, `--round`, `--rounds`),
    /// checked against the manifest.
    #[command(flatten)]
    pub select: super::run_flags::SelectArgs,

    /// Check that `run --junit FILE` could write its report there (nothing is created).
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,

    /// Check that `run --json FILE` could write its report there.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,

    /// Check that `run --html FILE` could write its report there.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
}

/// Validates the test folder and prints the plan (names and public keys only; secret
/// values are masked).
pub async fn check(args: CheckArgs) -> Result<u8, UserError> {
    let steps = match &args.tests_dir {
        Some(path) => path.clone(),
        None if Path::new("tests/config.yaml").is_file() => PathBuf::from("tests"),
        None => PathBuf::from("."),
    };
    let settings = Settings {
        steps,
        config: args.config,
        sets: args.sets,
        secrets: args.secrets,
        select: args.select.spec(),
        limits: args.budgets.limits(),
        cache: CacheSettings {
            dir: args.cache_dir,
            disabled: args.no_cache,
            max_mib: None,
        },
        offline: args.fetch.offline,
        registry: args.fetch.registry.options()?,
        lock: Some(LockPolicy::from_flags(args.update_lock, args.locked)),
        junit: args.junit,
        json: args.json,
        html: args.html,
        signals: true,
        ..Settings::default()
    };
    match crate::session::check::check(&settings).await? {
        Ok(text) => {
            print!("{text}");
            println!("ok: the test folder is valid (nothing was started)");
            Ok(EXIT_PASSED)
        }
        Err(stop) => Ok(stopped(stop)),
    }
}
