//! [`Keyring`]: the keypairs of every worker, loaded from the files that workers.json's
//! `keypairs` point at (through environment variables), before any worker starts.
//!
//! Imports [`crate::config`] and sibling koii modules. Start from [`Keyring::load`].

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::config::TestConfig;

use super::keypair::{Keypair, KeypairError};

/// Which of a worker's keypairs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum KeyKind {
    /// `staking`: the key a Koii node stakes with.
    Staking,
    /// `main` (older files call it `public`): the node's main wallet.
    Main,
}

impl KeyKind {
    /// Both kinds, in the order they are shown.
    pub const ALL: [KeyKind; 2] = [KeyKind::Staking, KeyKind::Main];

    /// The kind of a `keypairs` key of workers.json: `staking`, `main` or `public`.
    pub fn from_config_key(key: &str) -> Option<Self> {
        match key {
            "staking" => Some(KeyKind::Staking),
            "main" | "public" => Some(KeyKind::Main),
            _ => None,
        }
    }

    /// `staking` or `main`.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyKind::Staking => "staking",
            KeyKind::Main => "main",
        }
    }
}

impl fmt::Display for KeyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The keypairs of one worker; either may be absent.
#[derive(Debug, Clone, Default)]
pub struct WorkerKeys {
    /// `staking`.
    pub staking: Option<Keypair>,
    /// `main` (or `public`).
    pub main: Option<Keypair>,
}

impl WorkerKeys {
    /// The keypair of `kind`.
    pub fn get(&self, kind: KeyKind) -> Option<&Keypair> {
        match kind {
            KeyKind::Staking => self.staking.as_ref(),
            KeyKind::Main => self.main.as_ref(),
        }
    }

    fn slot(&mut self, kind: KeyKind) -> &mut Option<Keypair> {
        match kind {
            KeyKind::Staking => &mut self.staking,
            KeyKind::Main => &mut self.main,
        }
    }
}

/// Why a worker's keypair cannot be loaded: names the workers file, the worker, the
/// `keypairs` key, the variable and the path; never the file's content.
#[derive(Debug, thiserror::Error)]
#[error("{}: worker `{worker}`: keypair `{key}`: {kind}", workers_file.display())]
pub struct KeyError {
    /// The workers file.
    pub workers_file: PathBuf,
    /// The worker.
    pub worker: String,
    /// The `keypairs` key as written (`staking`, `main`, `public`, ...).
    pub key: String,
    /// What is wrong (boxed: errors stay small on the `Ok` path).
    #[source]
    pub kind: Box<KeyErrorKind>,
}

/// What is wrong with a keypair entry.
#[derive(Debug, thiserror::Error)]
pub enum KeyErrorKind {
    /// The key is not `staking`, `main` or `public`.
    #[error("unknown kind of keypair")]
    UnknownKind,
    /// `main` and its older name `public` are both set.
    #[error("`main` and its older name `public` are both set")]
    Duplicate,
    /// The variable is unset or empty.
    #[error("variable {variable} is not set")]
    Unset {
        /// The variable.
        variable: String,
    },
    /// The file does not exist.
    #[error("keypair file {} (from {variable}) does not exist", path.display())]
    NotFound {
        /// The variable.
        variable: String,
        /// The resolved path.
        path: PathBuf,
    },
    /// The file cannot be read or parsed.
    #[error("keypair file {} (from {variable}): {source}", path.display())]
    Bad {
        /// The variable.
        variable: String,
        /// The resolved path.
        path: PathBuf,
        /// Why.
        #[source]
        source: KeypairError,
    },
}

impl KeyError {
    /// What the user can do about it.
    pub fn hint(&self) -> String {
        match &*self.kind {
            KeyErrorKind::UnknownKind | KeyErrorKind::Duplicate => {
                "`keypairs` takes `staking` and `main` (or its older name `public`)".into()
            }
            KeyErrorKind::Unset { variable } => format!(
                "set {variable} to the path of a keypair file (in the environment or tests/.env; \
                 `prometheus-wasm keygen TESTS_DIR` writes the file and the line), or remove `{}` from the worker's `keypairs`",
                self.key
            ),
            KeyErrorKind::NotFound { .. } => "a relative path is taken from the directory above \
                 the tests directory; `prometheus-wasm keygen TESTS_DIR` creates the missing files \
                 (or `prometheus-wasm keygen FILE`, or `solana-keygen new -o FILE`, one file), or \
                 point the variable at an existing one"
                .into(),
            KeyErrorKind::Bad { .. } => "a keypair file is a JSON array of 64 numbers: the \
                 32-byte ed25519 seed, then its public key (as `solana-keygen` writes it)"
                .into(),
        }
    }
}

/// The keypairs of every worker.
#[derive(Debug, Clone, Default)]
pub struct Keyring {
    workers: BTreeMap<String, WorkerKeys>,
}

impl Keyring {
    /// Loads every worker's keypairs: for each `keypairs` entry, the variable it names (in
    /// the run's environment, `.env` included) holds the path of a keypair file. A relative
    /// path is taken from the directory above the tests directory, where the Python
    /// framework is run from. Workers without `keypairs` have none; that is not an error.
    pub fn load(config: &TestConfig) -> Result<Self, KeyError> {
        let project_dir = config
            .tests_dir
            .parent()
            .unwrap_or(&config.tests_dir)
            .to_path_buf();
        let mut workers = BTreeMap::new();
        for worker in &config.workers {
            let mut keys = WorkerKeys::default();
            for (key, variable) in &worker.keypairs {
                let error = |kind| KeyError {
                    workers_file: config.workers_config.clone(),
                    worker: worker.name.clone(),
                    key: key.clone(),
                    kind: Box::new(kind),
                };
                let kind = KeyKind::from_config_key(key)
                    .ok_or_else(|| error(KeyErrorKind::UnknownKind))?;
                let slot = keys.slot(kind);
                if slot.is_some() {
                    return Err(error(KeyErrorKind::Duplicate));
                }
                let keypair = load_one(&project_dir, &config.env, variable).map_err(error)?;
                *slot = Some(keypair);
            }
            workers.insert(worker.name.clone(), keys);
        }
        Ok(Self { workers })
    }

    /// A keyring with the given keypairs (tests, tools).
    pub fn from_workers(workers: BTreeMap<String, WorkerKeys>) -> Self {
        Self { workers }
    }

    /// The keypair of `kind` of `worker`.
    pub fn get(&self, worker: &str, kind: KeyKind) -> Option<&Keypair> {
        self.workers.get(worker).and_then(|keys| keys.get(kind))
    }

    /// The keypairs of `worker` (none for an unknown worker).
    pub fn worker(&self, worker: &str) -> Option<&WorkerKeys> {
        self.workers.get(worker)
    }

    /// Every spelling of every private key, for the report's redactor.
    pub fn secret_values(&self) -> Vec<String> {
        self.workers
            .values()
            .flat_map(|keys| KeyKind::ALL.map(|kind| keys.get(kind)))
            .flatten()
            .flat_map(Keypair::secret_spellings)
            .collect()
    }
}

fn load_one(
    project_dir: &Path,
    env: &BTreeMap<String, String>,
    variable: &str,
) -> Result<Keypair, KeyErrorKind> {
    let value = env
        .get(variable)
        .filter(|value| !value.trim().is_empty())
        .ok_or_else(|| KeyErrorKind::Unset {
            variable: variable.to_string(),
        })?;
    let path = project_dir.join(value.trim());
    if !path.is_file() {
        return Err(KeyErrorKind::NotFound {
            variable: variable.to_string(),
            path,
        });
    }
    Keypair::read(&path).map_err(|source| KeyErrorKind::Bad {
        variable: variable.to_string(),
        path,
        source,
    })
}

#[cfg(test)]
#[path = "keyring_tests.rs"]
mod tests;
