//! [`load`]: reads `config.yaml`, the `.env` layers and the workers file into a
//! [`TestConfig`], applying the reference runner's defaults and relative-path rules.
//!
//! Imports only sibling config modules; pure apart from reading those files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::config_file::ParsedConfig;
use super::env::layer_env;
use super::error::{ConfigError, ConfigErrorKind, ConfigFile};
use super::external::check_port_conflicts;
use super::faults::check_fault_workers;
use super::overrides::{Override, parse_with};
use super::test_config::{
    CollectionConfig, DEFAULT_BASE_PORT, DEFAULT_DATA_DIR, DEFAULT_ROUNDS_COLLECTION,
    DEFAULT_STARTUP_TIMEOUT, DEFAULT_TASK_ID, DEFAULT_WORKERS_CONFIG, MongoConfig, TestConfig,
};
use super::worker_spec::{WorkerContext, build_worker};
use super::workers_file::parse_workers;
use crate::bounded_read::{self, CONFIG_FILE_MAX, DOTENV_FILE_MAX, WORKERS_FILE_MAX};

/// Loads the test configuration at `config_path`. `process_env` is the environment the run
/// starts from (pass `std::env::vars().collect()`); it is never modified.
///
/// Relative paths: `data_dir` and `workers_config` against the directory of `config.yaml`,
/// `server_entrypoint` (in either file) against the directory above it. Errors name the
/// file as `config_path` spells it, with line:column where known.
pub fn load(
    config_path: &Path,
    process_env: &BTreeMap<String, String>,
) -> Result<TestConfig, ConfigError> {
    load_with(config_path, process_env, &[])
}

/// [`load`] with `--set` overrides applied to config.yaml's document before it is read
/// (`overrides.rs`); their typo warnings join the config's.
pub fn load_with(
    config_path: &Path,
    process_env: &BTreeMap<String, String>,
    overrides: &[Override],
) -> Result<TestConfig, ConfigError> {
    let text = read_text(config_path, ConfigFile::Config, config_path)?;
    let absolute = config_path
        .canonicalize()
        .map_err(|e| ConfigError::new(ConfigFile::Config, config_path, ConfigErrorKind::Io(e)))?;
    let tests_dir = absolute
        .parent()
        .expect("a canonical file path has a parent")
        .to_path_buf();
    let display_dir = config_path.parent().unwrap_or(Path::new(""));
    let ParsedConfig {
        known,
        limits,
        faults,
        raw,
        warnings,
    } = parse_with(&text, config_path, overrides)?;

    let relative_to_tests = |path: Option<String>, default: &str| {
        tests_dir.join(path.unwrap_or_else(|| default.to_string()))
    };
    let project_dir = tests_dir.parent().unwrap_or(&tests_dir);
    let data_dir = relative_to_tests(known.data_dir, DEFAULT_DATA_DIR);
    let workers_rel = known
        .workers_config
        .unwrap_or_else(|| DEFAULT_WORKERS_CONFIG.to_string());
    let workers_config = tests_dir.join(&workers_rel);
    let workers_display = display_dir.join(&workers_rel);
    let server_entrypoint = known.server_entrypoint.map(|path| project_dir.join(path));
    let mongodb = known.mongodb.map_or_else(MongoConfig::default, |m| {
        let defaults = MongoConfig::default();
        MongoConfig {
            database: m.database.unwrap_or(defaults.database),
            uri: m.uri,
            collections: m
                .collections
                .unwrap_or_default()
                .into_iter()
                .map(|(name, c)| {
                    let c = c.unwrap_or_default();
                    let collection = CollectionConfig {
                        data_file: c.data_file,
                        required_count: c.required_count.unwrap_or(0),
                    };
                    (name, collection)
                })
                .collect(),
        }
    });
    let startup_timeout = known
        .startup_timeout
        .map_or(DEFAULT_STARTUP_TIMEOUT, std::time::Duration::from_secs_f64);

    let layered = layer_env(process_env, &tests_dir, display_dir)?;
    let workers_text = read_text(&workers_config, ConfigFile::Workers, &workers_display)?;
    let entries = parse_workers(&workers_text, &workers_display)?;
    let base_port = known.base_port.unwrap_or(DEFAULT_BASE_PORT);
    let ctx = WorkerContext {
        tests_dir: &tests_dir,
        base_port,
        data_dir: &data_dir,
        env: &layered.vars,
        server_entrypoint: server_entrypoint.as_deref(),
        display_path: &workers_display,
        text: &workers_text,
    };
    let workers = entries
        .into_iter()
        .enumerate()
        .map(|(index, entry)| build_worker(entry, index, &ctx))
        .collect::<Result<Vec<_>, _>>()?;
    check_port_conflicts(&workers, &ctx)?;
    let faults_at = super::location::find_key(&text, &["faults"]).map(|span| span.key);
    check_fault_workers(&faults, &workers, faults_at, config_path)?;

    Ok(TestConfig {
        config_path: absolute.clone(),
        task_id: known.task_id.unwrap_or_else(|| DEFAULT_TASK_ID.to_string()),
        base_port,
        max_rounds: known.max_rounds,
        rounds_collection: known
            .rounds_collection
            .unwrap_or_else(|| DEFAULT_ROUNDS_COLLECTION.to_string()),
        data_dir,
        workers_config,
        server_entrypoint,
        middle_server_url: known.middle_server_url,
        allowed_hosts: known.allowed_hosts.unwrap_or_default(),
        startup_timeout,
        mongodb,
        limits,
        faults,
        raw,
        env: layered.vars,
        dotenv_names: layered.from_files,
        workers,
        warnings,
        tests_dir,
    })
}

/// Reads a UTF-8 file, a missing one reported as [`ConfigErrorKind::NotFound`] under
/// `display`.
/// Bounded: a FIFO, a device or a file past its kind's cap is refused before parsing.
fn read_text(path: &Path, file: ConfigFile, display: &Path) -> Result<String, ConfigError> {
    let (limit, what) = match file {
        ConfigFile::Config => (CONFIG_FILE_MAX, "config file"),
        ConfigFile::Workers => (WORKERS_FILE_MAX, "workers file"),
        ConfigFile::DotEnv => (DOTENV_FILE_MAX, ".env file"),
        // Plans are read by `plan_file` with their own cap; the same one holds here.
        ConfigFile::Plan => (crate::bounded_read::PLAN_FILE_MAX, "plan file"),
    };
    bounded_read::read_text(path, limit, what)
        .map_err(|e| ConfigError::new(file, PathBuf::from(display), ConfigErrorKind::from_read(e)))
}
