//! prometheus-wasm: end-to-end tests of multi-worker services, with steps written as
//! WebAssembly components.
//!
//! Data flows one way: [`config`] → [`koii`] → [`workers`] → [`model`] → [`store`] →
//! [`plugin`] → [`runner`] → [`report`], wired together by [`cli`]. A module imports only
//! modules to its left; the leaves ([`bounded_read`], [`cut`], [`error`], [`exit`],
//! [`error_text`], [`atomic_file`], [`crash_point`]) may be used by any of them.
//!
//! Where to start:
//! - [`config::load`] reads a test folder's `config.yaml`, `workers.json` and `.env` files;
//! - [`plugin::Package::load`] compiles (or loads from the [`plugin::CodeCache`]) a step
//!   package, [`plugin::RunCtx::from_config`] grants it what the configuration allows;
//! - [`runner::plan_start`] decides fresh or resumed, [`runner::run()`] runs the rounds
//!   through the [`plugin::Steps`] trait and reports [`runner::RunEvent`]s;
//! - [`report`] renders them; every error implements [`error::UserFacing`] and maps to one
//!   of the [`exit`] codes.
//!
//! The API is young: see the README's "Stability" section for what is public and stable.
//!
//! # The runner on its own
//!
//! The runner drives any [`plugin::Steps`] implementation and saves through any
//! [`store::Checkpoint`], so a run can be driven with no component, worker or file:
//!
//! ```
//! use std::sync::Arc;
//!
//! use prometheus_wasm::model::{StepFailure, StepOutcome};
//! use prometheus_wasm::plugin::{StepInfo, StepLog, Steps};
//! use prometheus_wasm::runner::{self, ResumePoint, RunEvent, RunObserver, RunOptions};
//! use prometheus_wasm::store::{Checkpoint, RunState, StateError};
//!
//! /// Steps that always pass: a stand-in for a loaded component.
//! struct Greeter(Vec<StepInfo>);
//!
//! impl Steps for Greeter {
//!     fn manifest(&self) -> &[StepInfo] {
//!         &self.0
//!     }
//!
//!     async fn run_step(
//!         &self,
//!         step: &StepInfo,
//!         _state: &mut RunState,
//!         _log: Arc<dyn StepLog>,
//!     ) -> Result<StepOutcome, StepFailure> {
//!         Ok(StepOutcome::Done(serde_json::json!({ "greeted": step.worker })))
//!     }
//!
//!     async fn post_load(&self, _: &mut RunState, _: Arc<dyn StepLog>) -> Result<(), StepFailure> {
//!         Ok(())
//!     }
//! }
//!
//! /// Keeps every saved state in memory.
//! #[derive(Default)]
//! struct Saved(Vec<RunState>);
//!
//! impl Checkpoint for Saved {
//!     fn save(&mut self, state: &RunState) -> Result<(), StateError> {
//!         self.0.push(state.clone());
//!         Ok(())
//!     }
//! }
//!
//! /// Ignores the events (the terminal report and the report files observe them).
//! struct Quiet;
//!
//! impl RunObserver for Quiet {
//!     fn event(&self, _: &RunEvent) {}
//! }
//!
//! let step = |name: &str, worker: &str| StepInfo {
//!     name: name.into(),
//!     description: format!("{worker} says hello"),
//!     worker: worker.into(),
//!     params: serde_json::json!({}),
//! };
//! let steps = Greeter(vec![step("greet-1", "worker1"), step("greet-2", "worker2")]);
//! let options = RunOptions { max_rounds: 2, reset: false };
//!
//! let (state, resume) = runner::plan_start(None, steps.manifest(), &options)?;
//! assert!(matches!(resume, ResumePoint::Fresh { .. }));
//!
//! let mut saved = Saved::default();
//! let summary = tokio::runtime::Runtime::new()?.block_on(runner::run(
//!     &steps,
//!     &mut saved,
//!     state,
//!     resume,
//!     &options,
//!     Arc::new(Quiet),
//! ))?;
//! assert!(summary.is_passed());
//! assert_eq!(summary.passed, 4); // 2 steps × 2 rounds
//! assert!(saved.0.len() >= 4, "a checkpoint after every step");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs)]

pub mod atomic_file;
pub mod bounded_read;
pub mod check;
pub mod cli;
pub mod config;
pub mod crash_point;
pub mod cut;
pub mod error;
pub mod error_text;
pub mod exit;
pub mod fetch;
pub mod koii;
pub mod migrate;
pub mod model;
pub mod plugin;
pub mod replay;
pub mod report;
pub mod runner;
pub mod scaffold;
pub mod session;
pub mod store;
pub mod timings;
pub mod workers;

pub use error::UserError;
pub use session::{Outcome, Session, Settings};
