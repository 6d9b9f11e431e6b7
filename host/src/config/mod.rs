//! Test configuration: reads `config.yaml`, the `.env` layers and `workers.json` into plain
//! values ([`TestConfig`], [`WorkerSpec`]) with the defaults and relative-path rules of the
//! Python `prometheus_test` 0.1.10 runner, keeping unknown keys for steps to read.
//!
//! Pure and synchronous: imports no other module of the crate and no tokio; the process
//! environment comes in as an argument and is never changed. Start from [`load()`].
//!
//! Fixes kept on purpose: a worker's `url` follows its effective `port` (the reference used
//! the default port even when `port` was set).

mod config_file;
mod did_you_mean;
mod env;
mod error;
mod external;
mod faults;
mod json_locate;
mod limits;
mod load;
mod location;
mod overrides;
mod plan_file;
mod plan_locate;
mod plan_package;
mod secrets;
mod test_config;
mod worker_probe;
mod worker_spec;
mod workers_file;
mod yaml_guard;

#[cfg(test)]
mod external_tests;
#[cfg(test)]
mod fixture_tests;
#[cfg(test)]
mod load_tests;

pub(crate) use did_you_mean::closest;
pub use error::{ConfigError, ConfigErrorKind, ConfigFile};
pub use faults::{
    FaultAction, FaultAt, FaultMoment, FaultOrigin, FaultScope, FaultSpec, HttpErrorFault,
    MAX_FAULTS, NetworkFault, ProcessAction, check_fault_steps, check_fault_workers,
    step_network_fault,
};
pub use limits::LimitsConfig;
pub use load::{load, load_with};
pub use location::Location;
pub use overrides::Override;
pub use plan_file::{PlanError, PlanFile, PlanPackage, PlanStep, load_plan, parse_plan};
pub use plan_package::{PackageSource, normalize_pin, redact_url, rewrite_pin};
pub use secrets::{SecretReason, SecretVariable, Secrets, is_secret_name, uri_credentials};
pub use test_config::{
    CollectionConfig, DEFAULT_BASE_PORT, DEFAULT_DATA_DIR, DEFAULT_DATABASE,
    DEFAULT_ROUNDS_COLLECTION, DEFAULT_STARTUP_TIMEOUT, DEFAULT_TASK_ID, DEFAULT_WORKERS_CONFIG,
    MIN_SECRET_LEN, MongoConfig, TestConfig,
};
pub use worker_probe::{
    DEFAULT_HEALTH_PATH, DEFAULT_READY_STATUS, DEFAULT_RESET_METHOD, ReadyCheck, ReadyProbe,
    ResetHook,
};
pub use worker_spec::{PYTHON, WorkerKind, WorkerSpec};
