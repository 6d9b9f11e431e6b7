//! [`Keyring`]: the keypairs of every worker, loaded from the files that workers.json's
//! `keypairs` point at (through environment variables), before any worker starts.
//!
//! Imports [`crate::config`] and sibling koii modules. Start from [`Keyring::load`].

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::config::TestConfig;
use crate::error::UserFacing;

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

impl UserFacing for KeyError {
    fn hint(&self) -> Option<String> {
        Some(match &*self.kind {
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
        })
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
mod tests {
    use crate::error::UserFacing;
    use std::collections::BTreeMap;
    use std::fs;

    use super::*;
    use crate::config;

    /// A project with two workers; `worker1` has `keypairs`, `worker2` none.
    fn project(keypairs: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let root = tempfile::tempdir().expect("tempdir");
        let tests = root.path().join("tests");
        fs::create_dir_all(&tests).expect("mkdir");
        fs::write(root.path().join("main.py"), "").expect("main.py");
        fs::write(tests.join("config.yaml"), "max_rounds: 1\n").expect("config");
        fs::write(
            tests.join("workers.json"),
            format!(r#"{{"worker1": {{"keypairs": {keypairs}}}, "worker2": {{}}}}"#),
        )
        .expect("workers");
        (root, tests.join("config.yaml"))
    }

    fn key_file(dir: &Path, name: &str, seed: u8) -> String {
        let bytes = ed25519_dalek::SigningKey::from_bytes(&[seed; 32]).to_keypair_bytes();
        fs::write(
            dir.join(name),
            serde_json::to_string(&bytes.to_vec()).expect("json"),
        )
        .expect("key");
        name.to_string()
    }

    fn load(config_path: &Path, env: &[(&str, &str)]) -> Result<Keyring, KeyError> {
        let env: BTreeMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Keyring::load(&config::load(config_path, &env).expect("config loads"))
    }

    #[test]
    fn keypairs_load_from_paths_in_variables_relative_to_the_project() {
        let (root, config) = project(r#"{"staking": "W1_STAKING", "public": "W1_MAIN"}"#);
        let staking = key_file(root.path(), "staking.json", 1);
        let main = key_file(root.path(), "main.json", 2);
        let keyring =
            load(&config, &[("W1_STAKING", &staking), ("W1_MAIN", &main)]).expect("loads");
        let expected = Keypair::from_seed(&[2; 32]);
        assert_eq!(
            keyring
                .get("worker1", KeyKind::Main)
                .map(Keypair::public_key),
            Some(expected.public_key())
        );
        assert!(keyring.get("worker1", KeyKind::Staking).is_some());
        assert!(keyring.get("worker2", KeyKind::Staking).is_none());
        assert_eq!(keyring.secret_values().len(), 6);
    }

    #[test]
    fn keypair_errors_name_worker_variable_and_path() {
        let (root, config) = project(r#"{"staking": "W1_STAKING"}"#);
        let unset = load(&config, &[]).expect_err("unset").to_string();
        assert!(
            unset.contains("worker `worker1`: keypair `staking`: variable W1_STAKING is not set"),
            "{unset}"
        );

        let missing = load(&config, &[("W1_STAKING", "keys/none.json")]).expect_err("missing");
        let text = missing.to_string();
        assert!(text.contains("(from W1_STAKING) does not exist"), "{text}");
        assert!(
            text.contains(&root.path().join("keys/none.json").display().to_string()),
            "{text}"
        );
        assert!(
            missing.hint().unwrap_or_default().contains("solana-keygen"),
            "{:?}",
            missing.hint()
        );

        fs::write(root.path().join("bad.json"), "[\"hunter2-secret\"]").expect("bad");
        let bad = load(&config, &[("W1_STAKING", "bad.json")])
            .expect_err("bad")
            .to_string();
        assert!(
            bad.contains("bad.json (from W1_STAKING): it is not a keypair"),
            "{bad}"
        );
        assert!(!bad.contains("hunter2"), "{bad}");
    }

    #[test]
    fn unknown_or_duplicate_kinds_are_refused() {
        let (_root, config) = project(r#"{"stacking": "X"}"#);
        assert!(matches!(
            *load(&config, &[]).expect_err("unknown").kind,
            KeyErrorKind::UnknownKind
        ));
        let (root, config) = project(r#"{"main": "A", "public": "B"}"#);
        let a = key_file(root.path(), "a.json", 1);
        let error = load(&config, &[("A", &a), ("B", &a)]).expect_err("duplicate");
        assert!(matches!(*error.kind, KeyErrorKind::Duplicate), "{error}");
    }
}
