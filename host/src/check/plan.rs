//! [`Plan`]: what a run of a test folder would do, resolved from its configuration.

use std::path::PathBuf;

use crate::config::{TestConfig, WorkerKind};
use crate::koii::{KeyKind, Keyring};
use crate::plugin::NetworkPolicy;

use super::data_file::{DataFileError, count_documents};
use crate::bounded_read::{DATA_FILE_MAX, MIB};

/// A worker as it would be started.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerPlan {
    /// Its name.
    pub name: String,
    /// Its port.
    pub port: u16,
    /// Its URL.
    pub url: String,
    /// Program and arguments; empty for an external worker.
    pub command: Vec<String>,
    /// True for a worker the runner does not start (`"external": true`).
    pub external: bool,
    /// Its readiness probe in words, with its timeout when set: `GET /health expecting 200`.
    pub ready: String,
    /// An external worker's reset hook in words (`POST /reset`), if it has one.
    pub reset: Option<String>,
    /// Names of the variables the test sets for it: `env` literals, then `env_vars` as
    /// `SERVER_VAR <- ENV_VAR`. Never their values.
    pub variables: Vec<String>,
    /// Its keypairs.
    pub keys: Vec<KeyPlan>,
}

/// One loaded keypair.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyPlan {
    /// `staking` or `main`.
    pub kind: KeyKind,
    /// The variable that names its file.
    pub variable: String,
    /// Its base58 public key.
    pub public_key: String,
}

/// A collection of the `mongodb:` block and what seeds it.
#[derive(Debug, Clone, PartialEq)]
pub struct CollectionPlan {
    /// Its name.
    pub name: String,
    /// The data file, resolved; `None` when the collection has none.
    pub data_file: Option<PathBuf>,
    /// Documents in the data file; `None` without a file (or when an optional one is missing).
    pub documents: Option<usize>,
    /// Its `required_count`.
    pub required_count: u64,
}

/// How many rounds the run will have.
#[derive(Debug, Clone, PartialEq)]
pub enum Rounds {
    /// `max_rounds` of config.yaml.
    Fixed(u32),
    /// Counted at run time: documents of `collection` for the task, + 1.
    Derived {
        /// `rounds_collection`.
        collection: String,
        /// Documents its data file seeds, if it has one.
        seeded: Option<usize>,
    },
}

/// The resolved plan of a test folder.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// config.yaml.
    pub config_path: PathBuf,
    /// `task_id`.
    pub task_id: String,
    /// The workers, in workers.json order.
    pub workers: Vec<WorkerPlan>,
    /// `mongodb.database`.
    pub database: String,
    /// The collections, in file order.
    pub collections: Vec<CollectionPlan>,
    /// The rounds.
    pub rounds: Rounds,
    /// Origins steps may send HTTP requests to, without duplicates.
    pub origins: Vec<String>,
    /// Non-fatal findings.
    pub warnings: Vec<String>,
}

impl Plan {
    /// Resolves the plan; reads (only) the data files.
    pub fn build(
        config: &TestConfig,
        keys: &Keyring,
        policy: &NetworkPolicy,
    ) -> Result<Self, DataFileError> {
        let workers = config
            .workers
            .iter()
            .map(|w| {
                let mut variables: Vec<String> = match w.data.get("env") {
                    Some(serde_json::Value::Object(env)) => env.keys().cloned().collect(),
                    _ => Vec::new(),
                };
                variables.extend(w.env_vars.iter().map(|(server, env)| {
                    if server == env {
                        server.clone()
                    } else {
                        format!("{server} <- {env}")
                    }
                }));
                let keys = w
                    .keypairs
                    .iter()
                    .filter_map(|(key, variable)| {
                        let kind = KeyKind::from_config_key(key)?;
                        Some(KeyPlan {
                            kind,
                            variable: variable.clone(),
                            public_key: keys.get(&w.name, kind)?.public_key().to_string(),
                        })
                    })
                    .collect();
                WorkerPlan {
                    name: w.name.clone(),
                    port: w.port,
                    url: w.url.clone(),
                    command: if w.is_external() {
                        Vec::new()
                    } else {
                        std::iter::once(w.program.clone())
                            .chain(w.args.iter().cloned())
                            .collect()
                    },
                    external: w.is_external(),
                    ready: match w.ready.timeout {
                        Some(t) => format!("{} (timeout {}s)", w.ready.probe, t.as_secs_f64()),
                        None => w.ready.probe.to_string(),
                    },
                    reset: match &w.kind {
                        WorkerKind::External { reset: Some(hook) } => {
                            Some(format!("{} {}", hook.method, hook.path))
                        }
                        _ => None,
                    },
                    variables,
                    keys,
                }
            })
            .collect();
        let mut warnings = config.warnings.clone();
        let mut collections = Vec::new();
        for (name, collection) in &config.mongodb.collections {
            let data_file = collection
                .data_file
                .as_ref()
                .map(|file| config.data_dir.join(file));
            let documents = match &data_file {
                // Anything at the path is read (and a FIFO or device refused by name), not
                // only regular files, which would report a FIFO as missing.
                Some(path) if path.exists() => {
                    let limit = config
                        .limits
                        .store_max_mb
                        .map_or(DATA_FILE_MAX, |mb| mb.saturating_mul(MIB));
                    Some(count_documents(name, path, limit)?)
                }
                Some(path) if collection.required_count > 0 => {
                    return Err(DataFileError::Missing {
                        collection: name.clone(),
                        path: path.clone(),
                        required: collection.required_count,
                    });
                }
                Some(path) => {
                    warnings.push(format!(
                        "{}: data file of collection `{name}` does not exist; it will not be seeded",
                        path.display()
                    ));
                    None
                }
                None => None,
            };
            if let Some(count) = documents
                && (count as u64) < collection.required_count
            {
                warnings.push(format!(
                    "collection `{name}` needs {} documents but its data file has {count}: every run will seed it again",
                    collection.required_count
                ));
            }
            collections.push(CollectionPlan {
                name: name.clone(),
                data_file,
                documents,
                required_count: collection.required_count,
            });
        }
        let rounds = match config.max_rounds {
            Some(n) => Rounds::Fixed(n),
            None => Rounds::Derived {
                collection: config.rounds_collection.clone(),
                seeded: collections
                    .iter()
                    .find(|c| c.name == config.rounds_collection)
                    .and_then(|c| c.documents),
            },
        };
        let mut origins: Vec<String> = Vec::new();
        for origin in policy.origins() {
            let origin = origin.to_string();
            if !origins.contains(&origin) {
                origins.push(origin);
            }
        }
        Ok(Self {
            config_path: config.config_path.clone(),
            task_id: config.task_id.clone(),
            workers,
            database: config.mongodb.database.clone(),
            collections,
            rounds,
            origins,
            warnings,
        })
    }
}
