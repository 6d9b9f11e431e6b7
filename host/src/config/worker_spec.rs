//! [`WorkerSpec`]: one worker server ready to spawn — port, URL, argv, working directory and
//! its full environment — resolved from a workers-file entry and the test configuration; or,
//! for an `"external": true` entry, a worker the runner only reaches at its `url`
//! ([`WorkerKind::External`], resolved by [`super::external`]).
//!
//! Imports only sibling config modules. Start from [`WorkerSpec`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::env::{ExpandError, expand};
use super::error::{ConfigError, ConfigErrorKind, ConfigFile};
use super::external::build_external;
use super::worker_probe::{ReadyCheck, ResetHook};
use super::workers_file::{WorkerEntry, locate};

/// `env_vars` key whose value is used literally instead of looked up (the reference's quirk).
pub(crate) const LITERAL_ENV_VAR: &str = "DATA_DIR";

/// Interpreter for `.py` entrypoints (the reference runs them with its own Python).
pub const PYTHON: &str = "python3";

/// One worker server, resolved: everything needed to start it and to answer `worker.get`.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerSpec {
    /// The worker's key in `workers.json`.
    pub name: String,
    /// Who starts it: the runner ([`WorkerKind::Local`]) or somebody else.
    pub kind: WorkerKind,
    /// How the runner tells it is ready: `ready` of its entry, else TCP for a local worker
    /// and `GET /health` for an external one.
    pub ready: ReadyCheck,
    /// The port it listens on: its `port`, else `base_port` + its index in the file; for an
    /// external worker, the port of its `url`.
    pub port: u16,
    /// `http://localhost:{port}`, from the effective port; an external worker's `url`
    /// without a trailing `/`.
    pub url: String,
    /// Absolute path of its SQLite database (`<data_dir>/database_<name>.db` by default);
    /// empty for an external worker, whose storage the runner does not know.
    pub database_path: PathBuf,
    /// The program to run (argv\[0\]): `python3` for a `.py` entrypoint, the entrypoint's
    /// absolute path otherwise, or the first element of `command`; empty for an external
    /// worker.
    pub program: String,
    /// The program's arguments.
    pub args: Vec<String>,
    /// Working directory: the tests directory.
    pub cwd: PathBuf,
    /// The complete environment to start it with (after `env_clear`): the run's environment,
    /// the entry's `env` literals, the `env_vars` mappings, then `PORT`, `DATABASE_PATH` and
    /// `PYTHONUNBUFFERED=1`. For an external worker, only the entry's `env` literals and
    /// `env_vars` mappings: nothing is started with it, `worker.env` reads it.
    pub env: BTreeMap<String, String>,
    /// The entry's `env_vars` as written: server variable -> environment variable. Their
    /// values in [`WorkerSpec::env`] are secrets.
    pub env_vars: BTreeMap<String, String>,
    /// The entry's `keypairs`: key kind (`staking`, `main`, `public`) -> environment variable
    /// holding the keypair file's path. Not loaded or checked here.
    pub keypairs: BTreeMap<String, String>,
    /// What `worker.get(key)` answers: `name`, `base_dir`, `port`, `url`, `database_path`,
    /// `server_entrypoint` (when not using `command`), then every key of the entry except
    /// `env_vars` and `keypairs` as written; `port` and `url` always hold the effective values.
    pub data: Map<String, Value>,
}

/// Who starts a worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkerKind {
    /// The runner starts it, waits for it, stops it, and deletes its database for a fresh
    /// run.
    Local,
    /// Started by somebody else (Compose, Kubernetes, a staging host); the runner only waits
    /// until it is ready and, for a fresh run, calls its `reset` hook if it has one.
    External {
        /// The HTTP call that empties its state before a fresh run; without one the state
        /// is the user's to reset.
        reset: Option<ResetHook>,
    },
}

impl WorkerSpec {
    /// True for a worker the runner does not start.
    pub fn is_external(&self) -> bool {
        matches!(self.kind, WorkerKind::External { .. })
    }
}

/// What every worker is resolved against.
#[derive(Debug)]
pub(crate) struct WorkerContext<'a> {
    /// Absolute tests directory (the reference's `base_dir`).
    pub tests_dir: &'a Path,
    pub base_port: u16,
    /// Absolute data directory.
    pub data_dir: &'a Path,
    /// The run's layered environment.
    pub env: &'a BTreeMap<String, String>,
    /// config.yaml's `server_entrypoint`, already absolute.
    pub server_entrypoint: Option<&'a Path>,
    /// The workers file as shown in errors.
    pub display_path: &'a Path,
    /// The workers file's text, to locate errors in it.
    pub text: &'a str,
}

impl WorkerContext<'_> {
    /// The directory above the tests, against which entrypoints are resolved (as the
    /// reference does).
    fn project_dir(&self) -> &Path {
        self.tests_dir.parent().unwrap_or(self.tests_dir)
    }
}

/// Resolves the entry at `index` (0-based, file order).
pub(crate) fn build_worker(
    entry: WorkerEntry,
    index: usize,
    ctx: &WorkerContext<'_>,
) -> Result<WorkerSpec, ConfigError> {
    if entry.external {
        return build_external(entry, ctx);
    }
    let error = |kind| {
        ConfigError::new(ConfigFile::Workers, ctx.display_path, kind).for_worker(&entry.name)
    };
    if entry.reset.is_some() {
        return Err(error(ConfigErrorKind::InvalidValue {
            key: "reset".into(),
            message: "only an external worker takes a reset hook; the runner deletes a local \
                      worker's database (data_dir/*.db) itself before a fresh run"
                .into(),
        })
        .at(locate(ctx.text, &entry.name, "reset")));
    }
    let port = match entry.port {
        Some(port) => port,
        None => u16::try_from(usize::from(ctx.base_port) + index).map_err(|_| {
            error(ConfigErrorKind::InvalidValue {
                key: "port".into(),
                message: format!(
                    "base_port {} + index {index} is above 65535; set `port` or lower base_port",
                    ctx.base_port
                ),
            })
        })?,
    };
    let url = format!("http://localhost:{port}");
    let database_path = match &entry.database_path {
        Some(path) => ctx.tests_dir.join(path),
        None => ctx.data_dir.join(format!("database_{}.db", entry.name)),
    };

    let mut env = worker_env(&entry, ctx).map_err(error)?;
    env.insert("PORT".into(), port.to_string());
    env.insert("DATABASE_PATH".into(), database_path.display().to_string());
    env.insert("PYTHONUNBUFFERED".into(), "1".into());

    let (program, args, entrypoint) = match &entry.command {
        Some(command) => {
            let (program, args) = expand_command(command, &env, ctx.tests_dir).map_err(error)?;
            (program, args, None)
        }
        None => {
            let path = match &entry.server_entrypoint {
                Some(path) => ctx.project_dir().join(path),
                None => match ctx.server_entrypoint {
                    Some(path) => path.to_path_buf(),
                    None => ctx.project_dir().join("main.py"),
                },
            };
            if !path.is_file() {
                return Err(error(ConfigErrorKind::EntrypointNotFound { path }));
            }
            let shown = path.display().to_string();
            let is_python = path
                .extension()
                .is_some_and(|ext| ext.eq_ignore_ascii_case("py"));
            if is_python {
                (PYTHON.to_string(), vec![shown], Some(path))
            } else {
                (shown, Vec::new(), Some(path))
            }
        }
    };

    let mut data = Map::new();
    data.insert("name".into(), entry.name.clone().into());
    data.insert(
        "base_dir".into(),
        ctx.tests_dir.display().to_string().into(),
    );
    data.insert("port".into(), port.into());
    data.insert("url".into(), url.clone().into());
    data.insert(
        "database_path".into(),
        database_path.display().to_string().into(),
    );
    if let Some(path) = &entrypoint {
        data.insert(
            "server_entrypoint".into(),
            path.display().to_string().into(),
        );
    }
    data.extend(entry.data);
    data.insert("port".into(), port.into());
    data.insert("url".into(), url.clone().into());

    let ready = entry.ready.unwrap_or_default().resolve(false);
    Ok(WorkerSpec {
        name: entry.name,
        kind: WorkerKind::Local,
        ready,
        port,
        url,
        database_path,
        program,
        args,
        cwd: ctx.tests_dir.to_path_buf(),
        env,
        env_vars: entry.env_vars.into_iter().collect(),
        keypairs: entry.keypairs,
        data,
    })
}

/// The run's environment, the entry's `env` literals, then its `env_vars` mappings (every
/// mapped variable must be set and non-empty).
pub(crate) fn worker_env(
    entry: &WorkerEntry,
    ctx: &WorkerContext<'_>,
) -> Result<BTreeMap<String, String>, ConfigErrorKind> {
    let mut env = ctx.env.clone();
    env.extend(entry.env.iter().map(|(k, v)| (k.clone(), v.clone())));
    let mut missing = Vec::new();
    for (server_var, env_var) in &entry.env_vars {
        if server_var == LITERAL_ENV_VAR {
            env.insert(server_var.clone(), env_var.clone());
            continue;
        }
        match ctx.env.get(env_var).filter(|value| !value.is_empty()) {
            Some(value) => {
                env.insert(server_var.clone(), value.clone());
            }
            None => missing.push((server_var.clone(), env_var.clone())),
        }
    }
    if missing.is_empty() {
        Ok(env)
    } else {
        Err(ConfigErrorKind::MissingEnvVars { missing })
    }
}

/// Most bytes a worker's `command` may hold after expansion, all elements together.
const COMMAND_EXPANDED_MAX: usize = 2 << 20;

/// Expands `${VAR}` in every element from the worker's environment; a relative program
/// containing `/` is made absolute against the tests directory, a bare name is left for
/// PATH lookup.
fn expand_command(
    command: &[String],
    env: &BTreeMap<String, String>,
    tests_dir: &Path,
) -> Result<(String, Vec<String>), ConfigErrorKind> {
    let lookup = |name: &str| env.get(name).cloned();
    let argv = command
        .iter()
        .map(|element| expand(element, lookup))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| match e {
            ExpandError::Unset(variable) => ConfigErrorKind::UnsetVariable { variable },
            ExpandError::Malformed(text) => ConfigErrorKind::InvalidValue {
                key: "command".into(),
                message: format!("malformed `{text}`; write ${{NAME}} or ${{NAME:-default}}"),
            },
            ExpandError::TooLong => ConfigErrorKind::InvalidValue {
                key: "command".into(),
                message: format!("an element {}", ExpandError::too_long_message()),
            },
        })?;
    // Each element is capped by `expand`; the whole command is capped too, since a long
    // list of `${BIG}` elements would otherwise multiply the cap.
    let total: usize = argv.iter().map(String::len).sum();
    if total > COMMAND_EXPANDED_MAX {
        return Err(ConfigErrorKind::InvalidValue {
            key: "command".into(),
            message: format!(
                "is {total} bytes after `${{...}}` expansion, more than the most, {} (what \
                 Linux accepts for a program's arguments); shorten it",
                crate::bounded_read::human(COMMAND_EXPANDED_MAX as u64)
            ),
        });
    }
    let mut argv = argv.into_iter();
    let program = argv.next().unwrap_or_default();
    if program.is_empty() {
        return Err(ConfigErrorKind::InvalidValue {
            key: "command".into(),
            message: "the program (first element) is empty after expansion".into(),
        });
    }
    let program = if program.contains('/') && Path::new(&program).is_relative() {
        tests_dir.join(&program).display().to_string()
    } else {
        program
    };
    Ok((program, argv.collect()))
}
