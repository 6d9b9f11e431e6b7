//! A whole run as a library call: [`Session`] takes a test folder (or plan.yaml, or a step
//! package) and the [`Settings`] `run`'s flags would give, and runs it from validated
//! inputs to an [`Outcome`] — preparation (the same one `check` does), wipe and seeding,
//! the worker fleet, signals, checkpointing, faults, recording, reports — stopping the
//! workers whatever happens. The `run` command is this, called from the CLI.
//!
//! ```no_run
//! # fn main() -> Result<(), prometheus_wasm::error::UserError> {
//! let outcome = prometheus_wasm::Session::from_folder("tests")
//!     .reset(true)
//!     .set("max_rounds", "2")?
//!     .junit("target/e2e.xml")
//!     .run()?;
//! assert!(outcome.passed(), "{outcome}");
//! # Ok(())
//! # }
//! ```
//!
//! Data flows one way: `prepare` (inputs → a run that can start), then `run` (database,
//! workers, steps through the `faulted`, `timed` and `watched` wrappers, reports). The
//! modules other than [`Session`], [`Settings`] and [`Outcome`] are the crate's own.

pub(crate) mod check;
pub(crate) mod external;
pub(crate) mod faulted;
pub(crate) mod faults;
mod isolation;
pub(crate) mod mongo;
mod outcome;
pub(crate) mod prepare;
pub(crate) mod progress;
pub(crate) mod reports;
pub(crate) mod run;
mod settings;
pub(crate) mod signals;
pub(crate) mod source;
pub(crate) mod start;
pub(crate) mod step_faults;
pub(crate) mod timed;
pub(crate) mod watched;
pub(crate) mod workers;

use std::path::PathBuf;

pub use outcome::Outcome;
pub use settings::{CacheSettings, Output, Settings, Sink};
pub use source::LockPolicy;

use crate::error::UserError;
use crate::report::sanitize::{MESSAGE_MAX_BYTES, cut};
use crate::report::{Redactor, Verbosity};

/// How long a blocking [`Session::run`] waits, at its end, for work still running on
/// blocking threads (an embedded-store call of a step a signal stopped).
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(1);

/// One run of a test, configured by its builder methods and started by [`Session::run`]
/// (or [`Session::run_async`] inside a Tokio runtime).
///
/// Each method sets what the `run` flag of the same name sets; see `prometheus-wasm run
/// --help` and docs/library.md.
#[derive(Debug)]
pub struct Session {
    settings: Settings,
}

impl Session {
    /// A run of the test in `folder` (a folder holding plan.yaml, a plan.yaml, or a step
    /// package), with config.yaml beside it and every default of `run`.
    pub fn from_folder(folder: impl Into<PathBuf>) -> Self {
        Self::with_settings(Settings::new(folder))
    }

    /// A run with every setting given (what the CLI does from its flags).
    pub fn with_settings(settings: Settings) -> Self {
        Self { settings }
    }

    /// The settings so far.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// `--reset`: start afresh (wipe the test's data, seed it, run every round) instead of
    /// resuming a saved state.
    pub fn reset(mut self, reset: bool) -> Self {
        self.settings.reset = reset;
        self
    }

    /// `--set KEY=VALUE`: overrides one key of config.yaml (dotted for nested keys:
    /// `limits.step_timeout`). The key is checked when the run reads config.yaml; an empty
    /// key is refused here.
    pub fn set(mut self, key: &str, value: &str) -> Result<Self, UserError> {
        let text = format!("{key}={value}");
        crate::config::Override::parse(&text).map_err(UserError::from)?;
        self.settings.sets.push(text);
        Ok(self)
    }

    /// `--config`: config.yaml at another path than beside the steps.
    pub fn config(mut self, path: impl Into<PathBuf>) -> Self {
        self.settings.config = Some(path.into());
        self
    }

    /// `--secret NAME`: the value of variable `name` is masked in every output.
    pub fn secret(mut self, name: impl Into<String>) -> Self {
        self.settings.secrets.push(name.into());
        self
    }

    /// `--mongo-uri`: the MongoDB server of the run (its password is masked).
    pub fn mongo_uri(mut self, uri: impl Into<String>) -> Self {
        self.settings.mongo_uri = Some(uri.into());
        self
    }

    /// `--step PATTERN`: runs only the steps whose name matches (repeatable; `*` globs).
    pub fn step(mut self, pattern: impl Into<String>) -> Self {
        self.settings.select.patterns.push(pattern.into());
        self
    }

    /// `--rounds A..B`: runs only these rounds (both included).
    pub fn rounds(mut self, rounds: std::ops::RangeInclusive<u32>) -> Self {
        self.settings.select.rounds = Some(rounds);
        self
    }

    /// `--seed`: the seed of the faults' random decisions, to repeat a run exactly.
    pub fn seed(mut self, seed: u64) -> Self {
        self.settings.seed = Some(seed);
        self
    }

    /// `--locked` (`true`): refuse a package that asks for more than the lock grants, as
    /// CI does; `false`: let the folder's own package grow the lock, as local runs do.
    pub fn locked(mut self, locked: bool) -> Self {
        self.settings.lock = Some(if locked {
            LockPolicy::Locked
        } else {
            LockPolicy::FollowOwn
        });
        self
    }

    /// `--junit`: writes the JUnit XML report there at the end.
    pub fn junit(mut self, path: impl Into<PathBuf>) -> Self {
        self.settings.junit = Some(path.into());
        self
    }

    /// `--json`: writes the JSON report there at the end.
    pub fn json(mut self, path: impl Into<PathBuf>) -> Self {
        self.settings.json = Some(path.into());
        self
    }

    /// `--html`: writes the HTML report there at the end.
    pub fn html(mut self, path: impl Into<PathBuf>) -> Self {
        self.settings.html = Some(path.into());
        self
    }

    /// `--quiet` (`true`): the terminal report shows failures and the summary only.
    pub fn quiet(mut self, quiet: bool) -> Self {
        self.settings.output.verbosity = if quiet {
            Verbosity::Quiet
        } else {
            Verbosity::Normal
        };
        self
    }

    /// Where the terminal report goes (default: through the test harness, see
    /// [`Sink::Harness`]).
    pub fn output(mut self, sink: Sink) -> Self {
        self.settings.output.sink = sink;
        self
    }

    /// Whether SIGINT and SIGTERM stop the run cleanly, as in the CLI (default: off).
    pub fn handle_signals(mut self, handle: bool) -> Self {
        self.settings.signals = handle;
        self
    }

    /// Keeps this run apart from every other run of the same folder, so that parallel
    /// `#[test]`s (cargo's default) can each run it: data_dir is a temporary directory of
    /// the run's own (state, journals, workers' databases, the embedded store; removed
    /// when the run passes, kept with a warning naming it when it does not, so that its
    /// recordings can be replayed) and the workers listen on a block of free ports (`base_port`),
    /// both as `--set` overrides after the others. Not moved: a worker whose workers.json
    /// entry fixes its `port`, external workers, a MongoDB server's database (set
    /// `mongodb.database` per test) and report paths. Ports are checked free when picked;
    /// another program may still take one before the worker binds it, which fails the
    /// run naming the worker and port.
    pub fn isolated(mut self) -> Self {
        self.settings.isolated = true;
        self
    }

    /// Runs the test on a Tokio runtime of its own and returns how it ended. Blocks; must
    /// not be called from inside a Tokio runtime (use [`Session::run_async`] there).
    ///
    /// `Err` is a run that could not start or could not go on (bad configuration, a
    /// worker that did not start, a failed post-load): nothing was tested, or what ran is
    /// in the reports. A run whose steps failed is `Ok` with
    /// [`Outcome::passed`] false.
    pub fn run(self) -> Result<Outcome, UserError> {
        let runtime = runtime()?;
        let result = runtime.block_on(self.run_async());
        // Work left on blocking threads (an embedded-store call of a step a signal
        // stopped) notices its cancellation within a document; do not let it hold up the
        // caller.
        runtime.shutdown_timeout(SHUTDOWN_GRACE);
        result
    }

    /// Checks the test as [`Session::run`] would before it starts anything — the same
    /// preparation: inputs, packages and lock, workers' ports and programs, data_dir,
    /// report paths, selection — starting nothing and writing nothing (`prometheus-wasm
    /// check`). Returns the resolved plan as text, secrets masked. Blocks, as
    /// [`Session::run`] does.
    pub fn check(self) -> Result<String, UserError> {
        let runtime = runtime()?;
        runtime.block_on(self.check_async())
    }

    /// [`Session::check`] on the caller's Tokio runtime. A signal that stops it (with
    /// [`Session::handle_signals`]) is an error carrying the signal's exit code.
    pub async fn check_async(self) -> Result<String, UserError> {
        match check::check(&self.settings).await? {
            Ok(text) => Ok(text),
            Err(stop) => Err(UserError {
                code: stop.exit_code(),
                error: format!("{} received: stopped", stop.name()).into(),
                hint: None,
            }),
        }
    }

    /// [`Session::run`] on the caller's Tokio runtime (multi-threaded, with I/O and time
    /// enabled).
    pub async fn run_async(self) -> Result<Outcome, UserError> {
        // Warnings of the layers below the report reach it (no-op when already installed).
        crate::report::warnings::install();
        run::run(self.settings).await
    }
}

/// A multi-threaded Tokio runtime with I/O and time, for the blocking entry points.
fn runtime() -> Result<tokio::runtime::Runtime, UserError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| UserError::usage(format!("cannot start the async runtime: {e}"), None))
}

impl UserError {
    /// The same error with every secret of `redactor` masked in its message (the whole
    /// cause chain) and its hint, both cut to a message's size.
    pub fn redacted(self, redactor: &Redactor) -> Self {
        // Cut first: a message quoting a guest's text can be megabytes.
        let message = redactor
            .redact(&cut(&self.message(), MESSAGE_MAX_BYTES))
            .into_owned();
        Self {
            code: self.code,
            error: message.into(),
            hint: self
                .hint
                .map(|hint| redactor.redact(&cut(&hint, MESSAGE_MAX_BYTES)).into_owned()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_without_a_plan_is_a_usage_error_naming_what_was_looked_for() {
        let dir = tempfile::tempdir().expect("tempdir");
        let error = Session::from_folder(dir.path())
            .output(Sink::Discard)
            .run()
            .expect_err("nothing to run");
        assert_eq!(error.code, crate::exit::USAGE);
        let message = error.to_string();
        assert!(
            message.contains(&dir.path().display().to_string()),
            "{message}"
        );
        assert!(message.contains("plan.yaml"), "{message}");
        assert!(format!("{error:#}").contains("\n  hint: "), "{error:#}");
    }

    #[test]
    fn set_refuses_what_run_would_refuse_and_keeps_the_rest_in_order() {
        assert!(Session::from_folder("tests").set("", "1").is_err());
        let session = Session::from_folder("tests")
            .set("max_rounds", "2")
            .and_then(|s| s.set("limits.step_timeout", "5"))
            .expect("valid overrides");
        assert_eq!(
            session.settings().sets,
            ["max_rounds=2", "limits.step_timeout=5"]
        );
    }

    #[test]
    fn the_library_leaves_signals_to_its_process_and_guards_workers_with_sh() {
        let settings = Session::from_folder("tests").settings;
        assert!(!settings.signals);
        assert!(!settings.own_watchdog);
        assert!(matches!(settings.output.sink, Sink::Harness));
    }
}
