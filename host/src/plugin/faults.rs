//! The `faults` interface: a step breaks the test's own workers on purpose (kill, stop,
//! start, restart, pause, resume, network, clear), granted only when config.yaml sets
//! `faults_from_steps: true`.
//!
//! The plugin does not own the workers: the run hands it a [`StepFaults`] once the fleet
//! is up (`RunCtx::faults`), which applies the fault and reports it as the run's fault
//! event. Every call goes through the recorder, so a replay answers it from the recording
//! and touches no process.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};

use wasmtime::component::HasData;

use crate::config::{FaultScope, NetworkFault, ProcessAction, step_network_fault};
use crate::model::CallKind;
use crate::plugin::bindings::prometheus::step::faults::{Host, Json};
use crate::plugin::ctx::{HostState, RunCtx};
use crate::plugin::record::show::shown_part;
use crate::plugin::record::{Args, Recorder, Shown};

/// The config.yaml key that grants the interface.
pub const GRANT_KEY: &str = "faults_from_steps";

/// Longest worker name a call may pass: a name of workers.json is far shorter; the cap
/// keeps a hostile guest's text out of errors and events.
const MAX_WORKER_ARG_BYTES: usize = 256;

/// A fault a step asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum FaultRequest {
    /// A process action on a worker.
    Process {
        /// What to do.
        action: ProcessAction,
        /// The worker.
        worker: String,
    },
    /// Degrades the network to a worker until `lasts` ends.
    Network {
        /// The fault, checked.
        fault: NetworkFault,
        /// How long it lasts.
        lasts: FaultScope,
    },
    /// Ends the network fault on a worker.
    Clear {
        /// The worker.
        worker: String,
    },
}

/// What a [`StepFaults`] returns: a description of what changed, or why nothing did.
pub type FaultFuture<'a> = Pin<Box<dyn Future<Output = Result<String, String>> + Send + 'a>>;

/// Applies the faults steps ask for, as the run's fault events. Implemented by the run,
/// which owns the workers and the observers.
pub trait StepFaults: fmt::Debug + Send + Sync {
    /// Applies `request`; `Ok` says what changed (`killed worker1 (pid 123)`).
    fn apply(&self, request: FaultRequest) -> FaultFuture<'_>;
}

/// Where the run puts its [`StepFaults`] once the workers are up (the package and its
/// grants are built before). Empty in `check`, `inspect` and a replay.
pub type FaultsSlot = Arc<OnceLock<Arc<dyn StepFaults>>>;

/// A call's answer as recorded: `Err` when the test does not grant faults (the step then
/// traps), else what the guest gets.
type Answer = Result<Result<String, String>, String>;

/// What a guest's `faults` calls see.
pub struct FaultsView<'a> {
    run: &'a RunCtx,
    rec: &'a Recorder,
}

impl<'a> FaultsView<'a> {
    /// A view of the run's grants, its calls going through `rec`.
    pub fn new(run: &'a RunCtx, rec: &'a Recorder) -> Self {
        Self { run, rec }
    }

    /// Checks the grant, then applies `request` (live) or answers from the recording.
    async fn call(
        &self,
        op: &'static str,
        worker: &str,
        request: Result<FaultRequest, String>,
        args: serde_json::Value,
    ) -> wasmtime::Result<Result<String, String>> {
        let summary = format!("{op} {}", shown_part(worker));
        // The outer error is the missing grant: recorded like any answer (so a replay
        // fails the same way), then raised as a trap, not an error value, because a step
        // must not go on as if it had broken nothing, whatever the guest does with errors.
        let live = async {
            if !self.run.faults_granted {
                return Err(format!(
                    "{op} {}: the step called the faults interface, which this test does not grant; \
                     set `{GRANT_KEY}: true` in config.yaml to let steps apply faults",
                    shown_part(worker)
                ));
            }
            Ok(match request {
                Err(error) => Err(error),
                Ok(request) => match self.run.faults.get() {
                    Some(faults) => faults.apply(request).await,
                    None => Err("this run has no workers to apply faults to".to_string()),
                },
            })
        };
        let show = |r: &Answer| {
            let shown = Shown::new(CallKind::Worker, summary);
            Some(match r {
                Ok(Ok(text)) => shown.response(text, false),
                Ok(Err(error)) | Err(error) => shown.response(error, true),
            })
        };
        let bytes = args.to_string().len();
        self.rec
            .call(op, Args::new(bytes, || args), live, show)
            .await?
            .map_err(wasmtime::Error::msg)
    }

    async fn process(
        &self,
        op: &'static str,
        action: ProcessAction,
        worker: String,
    ) -> wasmtime::Result<Result<String, String>> {
        let args = serde_json::json!({ "worker": shown_part(&worker) });
        let request = bounded(&worker).map(|()| FaultRequest::Process {
            action,
            worker: worker.clone(),
        });
        self.call(op, &worker, request, args).await
    }
}

/// Refuses a worker name past [`MAX_WORKER_ARG_BYTES`].
fn bounded(worker: &str) -> Result<(), String> {
    if worker.len() > MAX_WORKER_ARG_BYTES {
        return Err(format!(
            "the worker name is {} bytes, more than the most, {MAX_WORKER_ARG_BYTES}",
            worker.len()
        ));
    }
    Ok(())
}

impl Host for FaultsView<'_> {
    async fn kill(&mut self, worker: String) -> wasmtime::Result<Result<String, String>> {
        self.process("faults.kill", ProcessAction::Kill, worker)
            .await
    }

    async fn stop(&mut self, worker: String) -> wasmtime::Result<Result<String, String>> {
        self.process("faults.stop", ProcessAction::Stop, worker)
            .await
    }

    async fn start(&mut self, worker: String) -> wasmtime::Result<Result<String, String>> {
        self.process("faults.start", ProcessAction::Start, worker)
            .await
    }

    async fn restart(&mut self, worker: String) -> wasmtime::Result<Result<String, String>> {
        self.process("faults.restart", ProcessAction::Restart, worker)
            .await
    }

    async fn pause(&mut self, worker: String) -> wasmtime::Result<Result<String, String>> {
        self.process("faults.pause", ProcessAction::Pause, worker)
            .await
    }

    async fn resume(&mut self, worker: String) -> wasmtime::Result<Result<String, String>> {
        self.process("faults.resume", ProcessAction::Resume, worker)
            .await
    }

    async fn network(
        &mut self,
        worker: String,
        settings: Json,
    ) -> wasmtime::Result<Result<String, String>> {
        let args = serde_json::json!({
            "worker": shown_part(&worker),
            "settings": shown_part(&settings),
        });
        let request = bounded(&worker)
            .and_then(|()| step_network_fault(&worker, &settings))
            .map(|(fault, lasts)| FaultRequest::Network { fault, lasts });
        self.call("faults.network", &worker, request, args).await
    }

    async fn clear(&mut self, worker: String) -> wasmtime::Result<Result<String, String>> {
        let args = serde_json::json!({ "worker": shown_part(&worker) });
        let request = bounded(&worker).map(|()| FaultRequest::Clear {
            worker: worker.clone(),
        });
        self.call("faults.clear", &worker, request, args).await
    }
}

/// The [`HasData`] marker of the `faults` interface.
pub struct FaultsData;

impl HasData for FaultsData {
    type Data<'a> = FaultsView<'a>;
}

pub(crate) fn view(state: &mut HostState) -> FaultsView<'_> {
    FaultsView::new(&state.run, &state.recorder)
}
