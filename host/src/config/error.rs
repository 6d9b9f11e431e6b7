//! [`ConfigError`]: everything that stops a test configuration from loading, with the file,
//! the line:column where known, the worker where one is involved, and a [`ConfigError::hint`].
//!
//! Imports only [`super::location`].

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use super::location::Location;
use crate::bounded_read::ReadError;
use crate::error::UserFacing;

/// Which of the configuration files an error is about; it picks the hint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigFile {
    /// The tests' `config.yaml`.
    Config,
    /// The workers file (`workers.json` by default).
    Workers,
    /// A `.env` file (the project's or the tests').
    DotEnv,
    /// A plan file (its `faults:`).
    Plan,
}

/// What went wrong; [`ConfigError`] adds where.
#[derive(Debug, thiserror::Error)]
pub enum ConfigErrorKind {
    /// The file does not exist.
    #[error("file not found")]
    NotFound,
    /// The file exists but could not be read (permissions, not UTF-8, a directory).
    #[error("cannot read file: {0}")]
    Io(io::Error),
    /// The file exists but is refused before parsing: not a regular file (a FIFO, a
    /// device, a directory), larger than its kind's cap, or not UTF-8.
    #[error("{reason}")]
    Unreadable {
        /// What is wrong with it, e.g. `is a FIFO, not a regular file`.
        reason: String,
        /// What to do about it.
        hint: String,
    },
    /// The file is not valid YAML, JSON or `.env` syntax.
    #[error("syntax error: {message}")]
    Syntax {
        /// The parser's message, without its location.
        message: String,
    },
    /// The document parses but its overall shape is wrong (e.g. a list where a mapping of
    /// keys is expected).
    #[error("{message}")]
    InvalidDocument {
        /// What is wrong.
        message: String,
    },
    /// A known key has a value of the wrong type or out of range.
    #[error("invalid `{key}`: {message}")]
    InvalidValue {
        /// The key, dotted for nested keys (`mongodb.collections.todos.required_count`).
        key: String,
        /// What was found and what is expected.
        message: String,
    },
    /// `env_vars` names variables that are unset (or empty) in the layered environment.
    #[error("missing required environment variables: {}", list_missing(.missing))]
    MissingEnvVars {
        /// Pairs of (server variable, environment variable it is read from), in file order.
        missing: Vec<(String, String)>,
    },
    /// A worker's `command` uses `${VAR}` with `VAR` unset and no `:-default`.
    #[error("`command` uses unset variable `{variable}`")]
    UnsetVariable {
        /// The variable's name.
        variable: String,
    },
    /// An external worker's entry also says how to start it.
    #[error(
        "an external worker is not started by the runner, but its entry sets {}",
        .keys.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")
    )]
    ExternalLaunchKeys {
        /// The launch keys present, in `LAUNCH_KEYS` order.
        keys: Vec<String>,
    },
    /// An external worker on this host has the port of a local worker.
    #[error("`url` {url} is on this host, on port {port} of local worker `{local}`")]
    PortConflict {
        /// The shared port.
        port: u16,
        /// The external worker's URL.
        url: String,
        /// The local worker given that port.
        local: String,
    },
    /// The server entrypoint file does not exist.
    #[error("server entrypoint not found at {}", .path.display())]
    EntrypointNotFound {
        /// The absolute path that was looked for.
        path: PathBuf,
    },
}

fn list_missing(missing: &[(String, String)]) -> String {
    missing
        .iter()
        .map(|(server, env)| format!("{server} ({env})"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A configuration error. Displays as `path[:line:column]: [worker `name`: ]message`, a
/// lowercase fragment that reads after "error:"; [`ConfigError::hint`] says what to do.
/// Boxed inside so that `Result<_, ConfigError>` stays one pointer wide on the error side.
#[derive(Debug)]
pub struct ConfigError {
    inner: Box<Inner>,
}

#[derive(Debug)]
struct Inner {
    file: ConfigFile,
    path: PathBuf,
    location: Option<Location>,
    worker: Option<String>,
    kind: ConfigErrorKind,
}

impl ConfigError {
    /// An error about `file` at `path`, without location or worker.
    pub(crate) fn new(file: ConfigFile, path: impl Into<PathBuf>, kind: ConfigErrorKind) -> Self {
        ConfigError {
            inner: Box::new(Inner {
                file,
                path: path.into(),
                location: None,
                worker: None,
                kind,
            }),
        }
    }

    /// The same error at `location`.
    pub(crate) fn at(mut self, location: Option<Location>) -> Self {
        self.inner.location = location;
        self
    }

    /// The same error about worker `name`.
    pub(crate) fn for_worker(mut self, name: &str) -> Self {
        self.inner.worker = Some(name.to_string());
        self
    }

    /// Which file the error is about.
    pub fn file(&self) -> ConfigFile {
        self.inner.file
    }

    /// The file's path as the user would recognise it (relative when they passed a relative
    /// config path).
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Where in the file, when known.
    pub fn location(&self) -> Option<Location> {
        self.inner.location
    }

    /// The worker whose entry is at fault, for workers-file errors.
    pub fn worker(&self) -> Option<&str> {
        self.inner.worker.as_deref()
    }

    /// What went wrong.
    pub fn kind(&self) -> &ConfigErrorKind {
        &self.inner.kind
    }
}

impl UserFacing for ConfigError {
    fn hint(&self) -> Option<String> {
        let path = self.inner.path.display();
        match (&self.inner.kind, self.inner.file) {
            (ConfigErrorKind::NotFound, ConfigFile::Config) => Some(
                "pass the path of the tests' config.yaml (an empty file gives all defaults)"
                    .to_string(),
            ),
            (ConfigErrorKind::NotFound, ConfigFile::Workers) => Some(format!(
                "create {path} with one entry per worker, or set workers_config in config.yaml"
            )),
            (ConfigErrorKind::NotFound | ConfigErrorKind::Io(_), _) => None,
            (ConfigErrorKind::Unreadable { hint, .. }, _) => Some(hint.clone()),
            (ConfigErrorKind::Syntax { .. }, ConfigFile::Config | ConfigFile::Plan) => {
                Some(format!("fix the YAML at that position in {path}"))
            }
            (ConfigErrorKind::Syntax { .. }, ConfigFile::Workers) => {
                Some(format!("fix the JSON at that position in {path}"))
            }
            (ConfigErrorKind::Syntax { .. }, ConfigFile::DotEnv) => Some(
                "write one NAME=value per line; quote values that contain spaces or #".to_string(),
            ),
            (ConfigErrorKind::InvalidDocument { .. }, _) => None,
            (ConfigErrorKind::InvalidValue { key, .. }, _) => {
                let expected = expected_for(key)?;
                Some(format!("set `{key}` to {expected} in {path}"))
            }
            (ConfigErrorKind::MissingEnvVars { missing }, _) => {
                let names: Vec<&str> = missing.iter().map(|(_, env)| env.as_str()).collect();
                Some(format!(
                    "set {} in the tests' .env, the project's .env or the environment",
                    names.join(", ")
                ))
            }
            (ConfigErrorKind::UnsetVariable { variable }, _) => Some(format!(
                "set {variable} in a .env file or the environment, or give a default: ${{{variable}:-value}}"
            )),
            (ConfigErrorKind::ExternalLaunchKeys { keys }, _) => Some(format!(
                "remove {} from the entry in {path} (an external worker's port comes from its \
                 `url`), or remove \"external\": true to have the runner start it",
                keys.join(", ")
            )),
            (ConfigErrorKind::PortConflict { local, .. }, _) => Some(format!(
                "give worker `{local}` another port (`port`, or base_port in config.yaml), or \
                 point `url` at the port the external worker really listens on"
            )),
            (ConfigErrorKind::EntrypointNotFound { .. }, _) => Some(
                "set server_entrypoint (relative to the directory above the tests) in config.yaml \
                 or workers.json, or give the worker a `command`"
                    .to_string(),
            ),
        }
    }
}

impl ConfigErrorKind {
    /// A failed bounded read as the kind of error it is: a missing file stays
    /// [`ConfigErrorKind::NotFound`] (callers with optional files check for it).
    pub(crate) fn from_read(error: ReadError) -> Self {
        match error {
            ReadError::NotFound { .. } => ConfigErrorKind::NotFound,
            ReadError::Io { source, .. } => ConfigErrorKind::Io(source),
            other => ConfigErrorKind::Unreadable {
                reason: other.reason(),
                hint: other.hint().unwrap_or_default(),
            },
        }
    }
}

/// What a known key must hold, by its last (config.yaml) or first (workers file) segment.
fn expected_for(key: &str) -> Option<&'static str> {
    let last = key.rsplit('.').next().unwrap_or(key);
    let first = key.split('.').next().unwrap_or(key);
    let describe = |name: &str| -> Option<&'static str> {
        Some(match name {
            "base_port" | "port" => "a port number from 1 to 65535",
            "max_rounds" => {
                "a whole number of rounds (0 or more), or remove it to count rounds_collection"
            }
            "required_count" => "a whole number (0 or more)",
            "startup_timeout" | "step_timeout" | "http_timeout" | "timeout" | "interval" => {
                "a positive number of seconds"
            }
            "external" => "true or false",
            "url" => "the worker's http:// or https:// base URL, e.g. \"http://worker1:8080\"",
            "ready" => {
                "a probe: {\"tcp\": true} or {\"http\": \"/health\", \"status\": 200}, with optional timeout and interval"
            }
            "tcp" => "true",
            "http" => "a path starting with /, e.g. \"/health\"",
            "status" => "an HTTP status code, e.g. 200",
            "reset" => "a path, or {\"method\": \"POST\", \"path\": \"/reset\"}",
            "method" => "POST, PUT, DELETE, PATCH or GET",
            "path" => "a path starting with /, e.g. \"/reset\"",
            "memory_mb" | "http_max_body_mb" | "state_max_mb" | "store_max_mb"
            | "recording_max_mb" => "a whole number of MiB (1 or more)",
            "output_max_kb" => "a whole number of KiB (1 or more)",
            "fuel" => "a whole number of fuel units (1 or more), or null for no fuel limit",
            "limits" => {
                "a mapping of budgets (step_timeout, memory_mb, fuel, http_timeout, http_max_body_mb, output_max_kb, state_max_mb, store_max_mb, recording_max_mb)"
            }
            "allowed_hosts" => "a list of URLs or host names",
            "command" => "a non-empty list of strings (program, then arguments)",
            "env" => "a mapping of variable names to strings, numbers or booleans",
            "env_vars" => "a mapping of server variable names to environment variable names",
            "keypairs" => "a mapping of key kinds (staking, main) to environment variable names",
            "collections" => "a mapping of collection names to {data_file, required_count}",
            "mongodb" => "a mapping with database, uri and collections",
            "task_id" | "rounds_collection" | "data_dir" | "workers_config"
            | "server_entrypoint" | "middle_server_url" | "database" | "uri" | "data_file"
            | "database_path" => "a string",
            _ => return None,
        })
    };
    describe(last).or_else(|| describe(first))
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &self.inner;
        write!(f, "{}", inner.path.display())?;
        if let Some(location) = inner.location {
            write!(f, ":{location}")?;
        }
        write!(f, ": ")?;
        if let Some(worker) = &inner.worker {
            write!(f, "worker `{worker}`: ")?;
        }
        write!(f, "{}", inner.kind)
    }
}

impl std::error::Error for ConfigError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_puts_file_location_and_worker_first() {
        let error = ConfigError::new(
            ConfigFile::Workers,
            "tests/workers.json",
            ConfigErrorKind::MissingEnvVars {
                missing: vec![("GITHUB_TOKEN".into(), "WORKER1_GITHUB_TOKEN".into())],
            },
        )
        .for_worker("worker1");
        assert_eq!(
            error.to_string(),
            "tests/workers.json: worker `worker1`: missing required environment variables: \
             GITHUB_TOKEN (WORKER1_GITHUB_TOKEN)"
        );
        assert!(error.hint().expect("hint").contains("WORKER1_GITHUB_TOKEN"));
    }

    #[test]
    fn invalid_value_hint_says_what_is_expected() {
        let error = ConfigError::new(
            ConfigFile::Config,
            "config.yaml",
            ConfigErrorKind::InvalidValue {
                key: "mongodb.collections.todos.required_count".into(),
                message: "invalid type: string \"x\", expected u64".into(),
            },
        )
        .at(Some(Location::new(4, 23)));
        assert!(
            error
                .to_string()
                .starts_with("config.yaml:4:23: invalid `mongodb.")
        );
        assert_eq!(
            error.hint().as_deref(),
            Some(
                "set `mongodb.collections.todos.required_count` to a whole number (0 or more) \
                 in config.yaml"
            )
        );
    }
}
