//! Command-line arguments.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

pub use super::run_flags::{OutputArgs, SelectArgs};

use crate::config::LimitsConfig;
use crate::plugin::Budgets;

/// Largest `--state-max-mb` and `--store-max-mb` accepted (64 GiB), as in config.yaml: it
/// keeps the byte counts from overflowing.
const MAX_MIB: u64 = 64 << 10;

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
    Run(Box<RunArgs>),
    /// List the steps of a step package (its manifest).
    List(ListArgs),
    /// Show what a step package is and asks for: manifest, WIT contract, imports
    /// (capabilities), size and sha256.
    Inspect(InspectArgs),
    /// Write the capability lock of a plan (plan.lock beside it) and print its pins.
    Lock(LockArgs),
    /// Show a package's identity (name, version…), or write it into the component.
    Metadata(super::metadata::MetadataArgs),
    /// Publish a step package to an OCI registry (a Wasm OCI artifact).
    Push(super::push::PushArgs),
    /// Fetch a step package from an OCI registry into the package store (and a file).
    Pull(super::pull::PullArgs),
    /// Create a test folder with a working step package, ready to run.
    New(NewArgs),
    /// Validate a test folder and print the resolved plan, starting nothing.
    Check(Box<super::check::CheckArgs>),
    /// Sign a JSON payload with a keypair file, as Koii's create_signature does.
    Sign(super::sign::SignArgs),
    /// Open a signature: check it against a public key and print the signed payload.
    Verify(super::sign::VerifyArgs),
    /// Make Koii keypair files: at the paths given, or for every `keypairs` entry of a
    /// test folder's workers.json (new variables go into its .env). Never overwrites a key.
    Keygen(super::keygen::KeygenArgs),
    /// Turn a prometheus-test tests/ folder into a Python step package (TESTS_DIR/wasm/)
    /// and list what could not be carried over.
    Migrate(super::migrate::MigrateArgs),
    /// Re-run one recorded step (a failed one from CI) without workers, a database or a
    /// network, every host call answered from the run's recording.
    Replay(super::replay::ReplayArgs),

    /// Internal: the watchdog `run` starts to kill the workers' process groups if the
    /// runner dies (reads group ids on stdin). Not for users.
    #[command(name = "__watchdog", hide = true)]
    Watchdog,
}

/// Options of `run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The step package (a WebAssembly component exporting the prometheus:step world), a
    /// plan file (.yaml) taking steps from several packages, or a test folder holding
    /// plan.yaml or steps.wasm.
    pub steps: PathBuf,

    /// Which part of the test to run.
    #[command(flatten)]
    pub select: SelectArgs,

    /// Override a key of config.yaml for this run: dot keys into the document
    /// (`limits.fuel=1000000`, `mongodb.database=t2`), values read as YAML (numbers,
    /// booleans, lists); repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,

    /// Accept a plan's packages asking for capabilities its lock does not grant, and
    /// rewrite the lock.
    #[arg(long)]
    pub update_lock: bool,

    /// Refuse a plan's packages asking for capabilities its lock does not grant, the
    /// folder's own unpinned package too (as `CI=true` does); without it, outside CI, the
    /// lock follows that package and says what changed.
    #[arg(long, conflicts_with = "update_lock")]
    pub locked: bool,

    /// Bound on the compiled-code cache, in MiB; least recently used entries are evicted
    /// [default: $PROMETHEUS_WASM_CACHE_MAX_MIB, else 1024].
    #[arg(long, value_name = "MIB")]
    pub cache_max_mib: Option<u64>,

    /// Start a fresh run: ignore the saved state, delete the data dir's *.db files.
    #[arg(long)]
    pub reset: bool,

    /// Keep this run apart from other runs of the same folder: a temporary data_dir
    /// (removed if the run passes, kept if not) and free ports for the workers, so runs
    /// can go in parallel.
    #[arg(long)]
    pub isolated: bool,

    /// The test configuration [default: config.yaml beside the step package].
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// How long a worker may take to accept connections, in seconds
    /// [default: `startup_timeout` of config.yaml, else 30].
    #[arg(long, value_name = "SECS", value_parser = positive_seconds)]
    pub startup_timeout: Option<f64>,

    /// The per-step budgets.
    #[command(flatten)]
    pub budgets: BudgetArgs,

    /// Size of the run state (test_state.json) for the whole run, in MiB
    /// [default: `limits.state_max_mb`, else 64].
    #[arg(long, value_name = "MIB", value_parser = clap::value_parser!(u64).range(1..=MAX_MIB))]
    pub state_max_mb: Option<u64>,

    /// Size of the embedded store's documents for the whole run, in MiB
    /// [default: `limits.store_max_mb`, else 256].
    #[arg(long, value_name = "MIB", value_parser = clap::value_parser!(u64).range(1..=MAX_MIB))]
    pub store_max_mb: Option<u64>,

    /// Which steps' host calls are written to data_dir/recording.jsonl, for
    /// `prometheus-wasm replay`: all, failed or off.
    #[arg(long, value_name = "WHICH", default_value = "failed")]
    pub record: crate::plugin::RecordMode,

    /// Size of the run's recording, in MiB [default: `limits.recording_max_mb`, else 64].
    #[arg(long, value_name = "MIB", value_parser = clap::value_parser!(u64).range(1..=MAX_MIB))]
    pub recording_max_mb: Option<u64>,

    /// The seed of every random decision of the test's network faults (which connections
    /// are reset or answered with an error, each jitter) [default: a random seed, printed
    /// in the banner so that a run can be repeated with it].
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,

    /// Where compiled components are cached
    /// [default: $PROMETHEUS_WASM_CACHE_DIR, $XDG_CACHE_HOME/prometheus-wasm or ~/.cache/prometheus-wasm].
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,

    /// Compile the package without reading or writing the cache.
    #[arg(long)]
    pub no_cache: bool,

    /// Fetching url/oci packages.
    #[command(flatten)]
    pub fetch: super::fetch_args::FetchArgs,

    /// How much the terminal shows.
    #[command(flatten)]
    pub output: OutputArgs,

    /// Also write a JUnit XML report (one suite per round, one case per step, with its
    /// log and host calls) of the whole run, resumed invocations included, to FILE.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,

    /// Also write a JSON report of the whole run (docs/report-format.md) to FILE.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,

    /// At the end, print where the run's time went: load, preflight, seeding, workers
    /// ready, post-load, steps (each split into instantiate, prepare, execute, host calls
    /// and checkpoint), stop and reports. Not with -q; the JSON report always has them.
    #[arg(long)]
    pub timings: bool,

    /// Also write a self-contained HTML page of the whole run (summary, timeline per
    /// worker and round, failures with their log and host calls) to FILE.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,

    /// MongoDB server to use [default: $MONGO_URI, else `mongodb.uri` of config.yaml,
    /// else the embedded store under data_dir].
    #[arg(long, value_name = "URI")]
    pub mongo_uri: Option<String>,

    /// Also mask the value of this variable (environment, .env or a worker's `env`) in
    /// every output and report; repeatable. Names with KEY, TOKEN, SECRET, PASSWORD or a
    /// PASS ending, and what workers.json maps, are masked without it.
    #[arg(long = "secret", value_name = "NAME")]
    pub secrets: Vec<String>,
}

/// The budgets every guest call runs under — steps, post-load, and instantiation and
/// `manifest` while a package loads — for every command that loads a package.
#[derive(Debug, Clone, Default, Args)]
pub struct BudgetArgs {
    /// Wall-clock limit of one guest call (a step's prepare + execute, post-load, loading
    /// a package's manifest), host calls included, in seconds
    /// [default: `limits.step_timeout` of config.yaml, else 300].
    #[arg(long, value_name = "SECS", value_parser = positive_seconds)]
    pub step_timeout: Option<f64>,

    /// Linear memory of one step (or manifest) instance, in MiB
    /// [default: `limits.memory_mb`, else 512].
    #[arg(long, value_name = "MIB", value_parser = clap::value_parser!(u64).range(1..))]
    pub memory_mb: Option<u64>,

    /// Fuel (guest instructions, roughly) of one step or manifest call: a deterministic
    /// limit [default: `limits.fuel`, else none].
    #[arg(long, value_name = "UNITS", value_parser = clap::value_parser!(u64).range(1..))]
    pub fuel: Option<u64>,

    /// Captured stdout, and stderr, of one step, in KiB [default: `limits.output_max_kb`, else 1024].
    #[arg(long, value_name = "KIB", value_parser = clap::value_parser!(u64).range(1..))]
    pub output_max_kb: Option<u64>,
}

impl BudgetArgs {
    /// The budgets these flags set (`None` where not given).
    pub fn limits(&self) -> LimitsConfig {
        LimitsConfig {
            step_timeout: self.step_timeout.map(Duration::from_secs_f64),
            memory_mb: self.memory_mb,
            fuel: self.fuel,
            output_max_kb: self.output_max_kb,
            ..LimitsConfig::default()
        }
    }

    /// `limits` (of config.yaml; the defaults for commands without one) with the flags on
    /// top.
    pub fn budgets(&self, limits: &LimitsConfig) -> Budgets {
        Budgets::from_config(&self.limits().or(limits))
    }
}

/// A positive number of seconds that fits a `Duration`.
fn positive_seconds(text: &str) -> Result<f64, String> {
    let secs: f64 = text
        .parse()
        .map_err(|_| format!("`{text}` is not a number"))?;
    match std::time::Duration::try_from_secs_f64(secs) {
        Ok(d) if !d.is_zero() => Ok(secs),
        _ => Err(format!("{text} is not a positive number of seconds")),
    }
}

/// Options of `list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// The step package.
    pub steps: PathBuf,

    /// Print the manifest as JSON.
    #[arg(long)]
    pub json: bool,

    /// The budgets the package's manifest runs under (config.yaml is not read).
    #[command(flatten)]
    pub budgets: BudgetArgs,
}

/// Options of `inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The step package (a `.wasm` component).
    pub package: PathBuf,

    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,

    /// The budgets the package's manifest runs under (config.yaml is not read).
    #[command(flatten)]
    pub budgets: BudgetArgs,
}

/// Options of `lock`.
#[derive(Debug, Args)]
pub struct LockArgs {
    /// The plan file.
    pub plan: PathBuf,

    /// Where compiled components are cached [default: as for `run`].
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,

    /// Compile the packages without reading or writing the cache.
    #[arg(long)]
    pub no_cache: bool,

    /// Fetch every url/oci package again, show old and new sha256 and version side by
    /// side, and rewrite the plan's pins once confirmed.
    #[arg(long)]
    pub update_pins: bool,

    /// Answer yes to the --update-pins question (for scripts).
    #[arg(long, short = 'y', requires = "update_pins")]
    pub yes: bool,

    /// Fetching url/oci packages.
    #[command(flatten)]
    pub fetch: super::fetch_args::FetchArgs,

    /// The budgets the packages' manifests run under (config.yaml is not read).
    #[command(flatten)]
    pub budgets: BudgetArgs,
}

/// The language of a scaffolded step package.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    /// Rust, with the prometheus-step guest SDK.
    Rust,
    /// Python, with componentize-py.
    Python,
    /// JavaScript, with componentize-qjs.
    Js,
}

/// Options of `new`.
#[derive(Debug, Args)]
pub struct NewArgs {
    /// The folder to create (it must not exist or be empty).
    #[arg(default_value = "tests")]
    pub dir: PathBuf,

    /// The language of the step package.
    #[arg(long, value_enum, default_value_t = Lang::Rust)]
    pub lang: Lang,

    /// The test's name (the package is NAME-steps) [default: the folder's name].
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,

    /// Build the Rust scaffold against this guest-sdk folder of a prometheus-wasm checkout
    /// instead of the copy of the SDK the scaffold gets (`sdk/prometheus-step/`).
    #[arg(long, value_name = "DIR")]
    pub sdk_path: Option<std::path::PathBuf>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::run_flags::ColorChoice;

    #[test]
    fn the_hidden_watchdog_subcommand_is_the_one_the_supervisor_starts() {
        let cli = Cli::try_parse_from(["prometheus-wasm", crate::workers::WATCHDOG_SUBCOMMAND])
            .expect("the watchdog subcommand parses");
        assert!(matches!(cli.command, Command::Watchdog));
    }

    #[test]
    fn selection_and_output_flags_parse() {
        let cli = Cli::try_parse_from([
            "prometheus-wasm",
            "run",
            "t",
            "--step",
            "a*",
            "--step",
            "b",
            "--round",
            "2",
            "-vv",
            "--set",
            "max_rounds=3",
            "--color",
            "never",
        ])
        .expect("parses");
        let Command::Run(args) = cli.command else {
            panic!("run")
        };
        let spec = args.select.spec();
        assert_eq!(spec.patterns, ["a*", "b"]);
        assert_eq!(spec.rounds, Some(2..=2));
        assert_eq!(args.output.verbose, 2);
        assert_eq!(args.output.color, ColorChoice::Never);
        assert_eq!(args.sets, ["max_rounds=3"]);
        assert!(
            Cli::try_parse_from([
                "prometheus-wasm",
                "run",
                "t",
                "--round",
                "1",
                "--rounds",
                "1..2"
            ])
            .is_err()
        );
        assert!(Cli::try_parse_from(["prometheus-wasm", "run", "t", "-q", "-v"]).is_err());
    }
}
