//! [`Settings`]: everything a run is told besides what its folder holds — what `run`'s flags
//! say on the command line and what [`Session`](super::Session)'s builder methods set.
//! Plain data: nothing here reads a file or starts anything.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use crate::config::LimitsConfig;
use crate::fetch::RegistryOptions;
use crate::plugin::{LogLevel, RecordMode};
use crate::report::{Redactor, TerminalReport, Verbosity};
use crate::runner::SelectSpec;

use super::source::LockPolicy;

/// Where the terminal report goes, how much it says and whether it is coloured.
#[non_exhaustive]
pub struct Output {
    /// The stream the report is written to.
    pub sink: Sink,
    /// How much it says (`-q`, `-v`, `-vv`).
    pub verbosity: Verbosity,
    /// Colour: `None` decides by the stream (a terminal, `NO_COLOR` unset).
    pub color: Option<bool>,
}

/// The stream a run's terminal report is written to.
pub enum Sink {
    /// The process's stdout, written directly (the CLI).
    Stdout,
    /// Through `print!`, which a Rust test harness captures: `cargo test` shows the
    /// report of a failing test only, and all of them with `--nocapture`. Elsewhere it is
    /// stdout.
    Harness,
    /// Any writer (a buffer, a file, a log pipe of an embedding tool).
    Writer(Box<dyn Write + Send>),
    /// Nowhere: the outcome and the report files say what happened.
    Discard,
}

impl Default for Output {
    /// The report through the test harness ([`Sink::Harness`]), normal verbosity, colour
    /// decided by stdout.
    fn default() -> Self {
        Self {
            sink: Sink::Harness,
            verbosity: Verbosity::Normal,
            color: None,
        }
    }
}

impl std::fmt::Debug for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sink = match self.sink {
            Sink::Stdout => "stdout",
            Sink::Harness => "harness",
            Sink::Writer(_) => "writer",
            Sink::Discard => "discard",
        };
        f.debug_struct("Output")
            .field("sink", &sink)
            .field("verbosity", &self.verbosity)
            .field("color", &self.color)
            .finish()
    }
}

impl Output {
    /// The terminal report these settings ask for, masking what `redactor` knows.
    pub(crate) fn report(self, redactor: Redactor) -> TerminalReport {
        let stdout_color = crate::report::style::auto_color();
        let (out, color): (Box<dyn Write + Send>, bool) = match self.sink {
            Sink::Stdout => (Box::new(std::io::stdout()), stdout_color),
            Sink::Harness => (Box::new(HarnessStdout), stdout_color),
            Sink::Writer(writer) => (writer, false),
            Sink::Discard => (Box::new(std::io::sink()), false),
        };
        TerminalReport::new(out, redactor, LogLevel::Info, self.color.unwrap_or(color))
            .with_verbosity(self.verbosity)
    }
}

/// stdout through `print!`, the one path libtest's output capture sees.
struct HarnessStdout;

impl Write for HarnessStdout {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        print!("{}", String::from_utf8_lossy(buf));
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stdout().flush()
    }
}

/// The compiled-code cache of the packages a run loads.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct CacheSettings {
    /// The cache directory (`--cache-dir`); `None`: the user's cache directory.
    pub dir: Option<PathBuf>,
    /// `--no-cache`: compile every package afresh and keep nothing.
    pub disabled: bool,
    /// `--cache-max-mib`: the size the cache is trimmed to.
    pub max_mib: Option<u64>,
}

/// Everything a run is told besides its folder. [`Default`] is `run`'s defaults, except
/// [`Settings::output`] (through the test harness) and [`Settings::signals`] (off: a
/// library does not take over the process's signals).
///
/// Fields are added as `run` gains flags (`#[non_exhaustive]`): start from
/// [`Settings::new`] and assign the fields you set.
///
/// ```
/// let mut settings = prometheus_wasm::Settings::new("tests");
/// settings.reset = true;
/// settings.junit = Some("target/e2e.xml".into());
/// let session = prometheus_wasm::Session::with_settings(settings);
/// assert!(session.settings().reset);
/// ```
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct Settings {
    /// plan.yaml, a folder holding one, or a step package (`.wasm`).
    pub steps: PathBuf,
    /// config.yaml (`--config`); `None`: the one beside the steps.
    pub config: Option<PathBuf>,
    /// `--set KEY=VALUE` overrides of config.yaml, in order.
    pub sets: Vec<String>,
    /// `--secret NAME`: variables whose values are masked in every output.
    pub secrets: Vec<String>,
    /// `--mongo-uri`: the MongoDB server, over `MONGO_URI` and `mongodb.uri`.
    pub mongo_uri: Option<String>,
    /// `--reset`: start afresh (wipe and seed), ignoring a saved state.
    pub reset: bool,
    /// `--step`, `--from`, `--to`, `--round(s)`; empty: the whole test.
    pub select: SelectSpec,
    /// `--seed` of the faults' random decisions; `None`: a fresh one, printed.
    pub seed: Option<u64>,
    /// `--startup-timeout`: over config.yaml's `startup_timeout`.
    pub startup_timeout: Option<Duration>,
    /// Budgets over config.yaml's `limits:` (each `Some` wins).
    pub limits: LimitsConfig,
    /// `--record`: which steps the recording keeps.
    pub record: RecordMode,
    /// The compiled-code cache.
    pub cache: CacheSettings,
    /// `--offline`: only packages already in the package store.
    pub offline: bool,
    /// How registries and `url:` hosts are reached.
    pub registry: RegistryOptions,
    /// How the capability lock meets a package that asks for more; `None`: from the
    /// environment (`CI` set: locked; otherwise the folder's own package may grow).
    pub lock: Option<LockPolicy>,
    /// `--junit`: the JUnit XML report.
    pub junit: Option<PathBuf>,
    /// `--json`: the JSON report.
    pub json: Option<PathBuf>,
    /// `--html`: the HTML report.
    pub html: Option<PathBuf>,
    /// `--timings`: print where the run's time went.
    pub timings: bool,
    /// The terminal report.
    pub output: Output,
    /// Whether SIGINT and SIGTERM stop the run (workers stopped, state kept, exit code
    /// 130/143). Off, a signal ends the process as it would without the run; the
    /// watchdog still kills the workers.
    pub signals: bool,
    /// The command a failure names as the way to rerun a step (the CLI's own command line).
    pub rerun: Option<String>,
    /// Whether the run is kept apart from other runs of the same folder: its own
    /// temporary data_dir and a block of free ports for its workers
    /// ([`Session::isolated`](super::Session::isolated)).
    pub isolated: bool,
    /// Whether the running program is `prometheus-wasm` itself, whose hidden watchdog
    /// subcommand then guards the workers; otherwise (a program linking the library) a
    /// POSIX `sh` watchdog does. Either kills the workers' process groups if the run's
    /// process dies.
    pub own_watchdog: bool,
}

impl Settings {
    /// The settings of a run of `steps` with every default.
    pub fn new(steps: impl Into<PathBuf>) -> Self {
        Self {
            steps: steps.into(),
            ..Self::default()
        }
    }
}
