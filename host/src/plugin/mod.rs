//! Step packages: the wasmtime engine, the compiled-code cache, and one file per WIT
//! interface the host provides.
//!
//! Start from [`Package::load`] and [`RunCtx::from_config`]. The runner sees only the
//! [`Steps`] trait; no wasmtime type leaves this module. Imports config, model and store,
//! never runner or report.

pub mod allocator;
pub mod bindings;
pub mod cache;
mod cache_evict;
pub mod capabilities;
pub mod config;
pub mod ctx;
pub mod engine;
pub mod error;
pub mod faults;
pub mod guard;
pub mod http;
pub mod inspect;
pub mod json;
pub mod limits;
pub mod link;
pub mod lock;
pub mod log;
pub mod manifest;
pub mod mongo;
pub mod output;
pub mod package;
pub mod plan;
pub mod policy;
pub mod record;
pub mod state;
pub mod steps;
pub mod trap;
pub mod worker;

pub use cache::CodeCache;
pub use ctx::{RunCtx, WorkerInfo};
pub use engine::StepEngine;
pub use error::PluginError;
pub use limits::{Budget, BudgetExceeded, Budgets};
pub use link::{PROVIDED_INTERFACES, WIT_PACKAGE};
pub use lock::{LockDiff, LockError, LockFile};
pub use manifest::{MAX_DESCRIPTION_BYTES, MAX_PARAMS_BYTES, MAX_STEPS};
pub use mongo::MongoCtx;
pub use package::{CodeSource, Package};
pub use plan::{Plan, StepOrigin};
pub use policy::NetworkPolicy;
pub use record::{RecordCtx, RecordMode, Recorder};
pub use steps::{FaultNotes, StepInfo, StepLog, StepLogLayer, Steps, StepsLayer};

// The run's values moved to `crate::model` (reports must not import `plugin`); these
// re-exports keep the old `plugin::` paths working for the CLI and tests.
pub use crate::model::{
    CALL_TEXT_MAX_BYTES, CallKind, HostCall, LogLevel, MAX_STEP_NAME_BYTES, MAX_WORKER_NAME_BYTES,
    Phase, StepFailure, StepOutcome,
};
