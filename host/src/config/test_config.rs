//! [`TestConfig`]: the whole test configuration as plain values — `config.yaml` resolved
//! against its directory, the run's environment and the resolved workers — plus the
//! defaults of the reference runner.
//!
//! Imports only sibling config modules.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Duration;

use indexmap::IndexMap;
use serde_json::Value;

use super::faults::FaultSpec;
use super::limits::LimitsConfig;
use super::worker_spec::WorkerSpec;

/// Default `task_id`.
pub const DEFAULT_TASK_ID: &str = "test-task-123";
/// Default `base_port`: worker `i` listens on `base_port + i`.
pub const DEFAULT_BASE_PORT: u16 = 5000;
/// Default `rounds_collection`, counted to find `max_rounds` when it is not set.
pub const DEFAULT_ROUNDS_COLLECTION: &str = "todos";
/// Default data directory, relative to the tests directory.
pub const DEFAULT_DATA_DIR: &str = "data";
/// Default workers file, relative to the tests directory.
pub const DEFAULT_WORKERS_CONFIG: &str = "workers.json";
/// Default `mongodb.database`.
pub const DEFAULT_DATABASE: &str = "builder247";
/// Default `startup_timeout`: how long a worker may take to accept connections.
pub const DEFAULT_STARTUP_TIMEOUT: Duration = Duration::from_secs(30);
/// Shortest value redacted as a secret: shorter ones ("1", "yes", "dev") would blank out
/// ordinary words everywhere while hiding nothing worth hiding; `check` lists such
/// variables as not masked.
pub const MIN_SECRET_LEN: usize = 4;

/// A test's configuration, loaded by [`super::load()`].
#[derive(Debug, Clone, PartialEq)]
pub struct TestConfig {
    /// Absolute path of `config.yaml`.
    pub config_path: PathBuf,
    /// Its directory (the reference's `base_dir`); relative paths start here.
    pub tests_dir: PathBuf,
    /// `task_id`, default [`DEFAULT_TASK_ID`]; a YAML number is taken as written.
    pub task_id: String,
    /// `base_port`, default [`DEFAULT_BASE_PORT`].
    pub base_port: u16,
    /// `max_rounds`; `None` means count `rounds_collection` documents + 1.
    pub max_rounds: Option<u32>,
    /// `rounds_collection`, default [`DEFAULT_ROUNDS_COLLECTION`].
    pub rounds_collection: String,
    /// Absolute `data_dir` (relative to the tests directory), default `<tests_dir>/data`.
    pub data_dir: PathBuf,
    /// Absolute workers file (relative to the tests directory), default `workers.json`.
    pub workers_config: PathBuf,
    /// Absolute `server_entrypoint` (relative to the directory ABOVE the tests, as the
    /// reference resolves it), if set.
    pub server_entrypoint: Option<PathBuf>,
    /// `middle_server_url`, if set.
    pub middle_server_url: Option<String>,
    /// `allowed_hosts`: hosts steps may reach besides the workers; empty by default.
    pub allowed_hosts: Vec<String>,
    /// `startup_timeout` (seconds in YAML), default [`DEFAULT_STARTUP_TIMEOUT`].
    pub startup_timeout: Duration,
    /// The `mongodb:` block with its defaults.
    pub mongodb: MongoConfig,
    /// The `limits:` block: per-step budgets, `None` where the runner's default applies.
    pub limits: LimitsConfig,
    /// The `faults:` schedule: faults injected on purpose at step boundaries, checked
    /// against the workers (the steps are checked once the package is loaded).
    pub faults: Vec<FaultSpec>,
    /// The whole `config.yaml` as a JSON object (an empty object for an empty file), unknown
    /// keys included, values as written; read it with [`TestConfig::get`].
    pub raw: Value,
    /// The run's environment: the process environment, the project's `.env` filling unset
    /// names, then the tests' `.env` overriding.
    pub env: BTreeMap<String, String>,
    /// Names in [`TestConfig::env`] whose value came from a `.env` file.
    pub dotenv_names: BTreeSet<String>,
    /// The workers, in workers-file order.
    pub workers: Vec<WorkerSpec>,
    /// Non-fatal findings, each `file:line:column: message` (e.g. a likely typo of a key).
    pub warnings: Vec<String>,
}

/// The `mongodb:` block of `config.yaml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MongoConfig {
    /// `database`, default [`DEFAULT_DATABASE`].
    pub database: String,
    /// `uri` of a MongoDB server, if set.
    pub uri: Option<String>,
    /// `collections`, in file order; none by default.
    pub collections: IndexMap<String, CollectionConfig>,
}

impl Default for MongoConfig {
    fn default() -> Self {
        MongoConfig {
            database: DEFAULT_DATABASE.to_string(),
            uri: None,
            collections: IndexMap::new(),
        }
    }
}

/// One entry of `mongodb.collections`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CollectionConfig {
    /// JSON file (relative to `data_dir`) to seed the collection from, if any.
    pub data_file: Option<String>,
    /// Documents for the task that must exist for the database to count as seeded; default 0.
    pub required_count: u64,
}

impl TestConfig {
    /// Whether steps may apply faults themselves (`faults_from_steps: true`): the grant of
    /// the `prometheus:step/faults` interface.
    pub fn faults_from_steps(&self) -> bool {
        self.raw.get("faults_from_steps") == Some(&Value::Bool(true))
    }

    /// The value at a dotted key of [`TestConfig::raw`] (`"mongodb.database"`, `"a.b.0"`
    /// indexes a list); a top-level key that itself contains dots is found first.
    pub fn get(&self, key: &str) -> Option<&Value> {
        if let Some(value) = self.raw.get(key) {
            return Some(value);
        }
        key.split('.')
            .try_fold(&self.raw, |value, part| match value {
                Value::Object(map) => map.get(part),
                Value::Array(items) => items.get(part.parse::<usize>().ok()?),
                _ => None,
            })
    }

    /// The worker named `name`.
    pub fn worker(&self, name: &str) -> Option<&WorkerSpec> {
        self.workers.iter().find(|worker| worker.name == name)
    }
}
