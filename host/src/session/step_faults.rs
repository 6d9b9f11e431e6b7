//! [`RunFaults`]: the run's side of the `prometheus:step/faults` interface. A step's fault
//! is applied through the same fleet control and proxies as a `faults:` entry of
//! config.yaml, and reported as the same [`RunEvent::FaultApplied`], marked
//! [`FaultWhen::FromStep`] with the step that asked for it.

use std::sync::{Arc, Mutex};

use crate::error::UserFacing as _;
use crate::plugin::faults::{FaultFuture, FaultRequest, StepFaults};
use crate::runner::{FaultWhen, RunEvent, RunObserver};
use crate::workers::{FleetControl, Proxies};

/// Applies the faults steps ask for; set into the grants' `faults` slot once the workers
/// are up.
pub(crate) struct RunFaults {
    control: FleetControl,
    network: Option<Arc<Proxies>>,
    observer: Arc<dyn RunObserver>,
    /// The round and step running now, set by `Faulted` before each step, for the events.
    current: Mutex<(u32, String)>,
}

impl std::fmt::Debug for RunFaults {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunFaults").finish_non_exhaustive()
    }
}

impl RunFaults {
    /// Faults applied through `control` and `network`, reported to `observer`.
    pub(crate) fn new(
        control: FleetControl,
        network: Option<Arc<Proxies>>,
        observer: Arc<dyn RunObserver>,
    ) -> Self {
        Self {
            control,
            network,
            observer,
            current: Mutex::new((0, String::new())),
        }
    }

    /// The step about to run: the faults it applies are reported as its own.
    pub(crate) fn entering(&self, round: u32, step: &str) {
        *self.current.lock().unwrap_or_else(|e| e.into_inner()) = (round, step.to_string());
    }

    fn proxies(&self, worker: &str) -> Result<&Proxies, String> {
        self.network
            .as_deref()
            .ok_or_else(|| format!("worker `{worker}` has no fault proxy in this run"))
    }

    async fn apply_now(&self, request: FaultRequest) -> Result<(String, String), String> {
        match request {
            FaultRequest::Process { action, worker } => {
                let change = self
                    .control
                    .apply(action, &worker)
                    .await
                    .map_err(|e| format!("{e}; {}", e.hint().unwrap_or_default()))?;
                Ok((worker, change.to_string()))
            }
            FaultRequest::Network { fault, lasts } => {
                let worker = fault.worker.clone();
                let text = format!("network {worker}: {}, {lasts}", fault.effects());
                self.proxies(&worker)?.set(fault, lasts)?;
                Ok((worker, text))
            }
            FaultRequest::Clear { worker } => {
                let proxies = self.proxies(&worker)?;
                if proxies.port(&worker).is_none() {
                    return Err(format!("worker `{worker}` has no fault proxy in this run"));
                }
                let text = if proxies.clear(&worker) {
                    format!("network {worker}: restored")
                } else {
                    format!("network {worker}: no fault was in force")
                };
                Ok((worker, text))
            }
        }
    }
}

impl StepFaults for RunFaults {
    fn apply(&self, request: FaultRequest) -> FaultFuture<'_> {
        Box::pin(async move {
            let (worker, text) = self.apply_now(request).await?;
            let (round, step) = self
                .current
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone();
            self.observer.event(&RunEvent::FaultApplied {
                round,
                // Empty in `post-load`, which is no step.
                step: (!step.is_empty()).then_some(step),
                when: FaultWhen::FromStep,
                worker,
                fault: text.clone(),
            });
            Ok(text)
        })
    }
}
