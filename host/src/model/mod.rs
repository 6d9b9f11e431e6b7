//! The values a run is made of, shared by the layers that make them and the layers that
//! show them: how a step ended ([`StepOutcome`], [`StepFailure`]), what it wrote
//! ([`LogLevel`]) and which host calls it made ([`HostCall`]).
//!
//! `plugin` produces these values, the runner carries them in its
//! [`RunEvent`](crate::runner::RunEvent)s and `report` renders them, so they live below all
//! three: `report` reads the run from events alone and never imports `plugin`. Imports only
//! `workers` (for [`WorkerDeath`](crate::workers::WorkerDeath)); no wasmtime type.
//!
//! Not to be confused with [`report::model`](crate::report::model), the whole-run report the
//! report files are written from.

mod call;
mod names;
mod step;

pub use call::{CALL_TEXT_MAX_BYTES, CallKind, HostCall};
pub use names::{MAX_STEP_NAME_BYTES, MAX_WORKER_NAME_BYTES};
pub use step::{LogLevel, Phase, StepFailure, StepOutcome};
