//! Command-line arguments.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Runs end-to-end tests of multi-worker services, with steps written as WebAssembly
/// components.
///
/// Exit codes: 0 passed, 1 test failed, 2 usage or configuration error,
/// 130/143 interrupted by SIGINT/SIGTERM (workers are stopped first).
#[derive(Debug, Parser)]
#[command(name = "prometheus-wasm", version, about, long_about)]
pub struct Cli {
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start the workers and run every step of every round, resuming a saved run.
    Run(RunArgs),
    /// List the steps of a step package (its manifest).
    List(ListArgs),
}

/// Options of `run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The step package: a WebAssembly component exporting the prometheus:step world.
    pub steps: PathBuf,

    /// Start a fresh run: ignore the saved state, delete the data dir's *.db files.
    #[arg(long)]
    pub reset: bool,

    /// The test configuration [default: config.yaml beside the step package].
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// How long a worker may take to accept connections, in seconds
    /// [default: `startup_timeout` of config.yaml, else 30].
    #[arg(long, value_name = "SECS")]
    pub startup_timeout: Option<f64>,

    /// Wall-clock limit for one step's guest code, in seconds [default: 300].
    #[arg(long, value_name = "SECS")]
    pub step_timeout: Option<f64>,

    /// Where compiled components are cached
    /// [default: $PROMETHEUS_WASM_CACHE_DIR, $XDG_CACHE_HOME/prometheus-wasm or ~/.cache/prometheus-wasm].
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,

    /// Compile the package without reading or writing the cache.
    #[arg(long)]
    pub no_cache: bool,

    /// Show debug-level step log lines too.
    #[arg(short, long)]
    pub verbose: bool,

    /// MongoDB server to use [default: $MONGO_URI, else `mongodb.uri` of config.yaml,
    /// else the embedded store under data_dir].
    #[arg(long, value_name = "URI")]
    pub mongo_uri: Option<String>,
}

/// Options of `list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// The step package.
    pub steps: PathBuf,

    /// Print the manifest as JSON.
    #[arg(long)]
    pub json: bool,
}
