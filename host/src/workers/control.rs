//! [`FleetControl`]: process faults applied to the fleet's own workers while the run goes
//! on — kill, stop, pause, resume, start, restart — for a test that breaks its system on
//! purpose.
//!
//! Every signal goes to the process group of a worker this fleet spawned and has not seen
//! reaped after a kill: never to another pid. A worker killed or stopped through here is
//! marked first (`on_purpose`), so its exit is not a death that fails the run; a worker
//! that dies any other way still is. `start` runs the worker's launch spec again (same
//! program, environment and data directory) and returns once its probe passes.

use std::sync::atomic::Ordering;

use nix::sys::signal::Signal;
use tokio::time::timeout;

use super::error::{WorkerError, WorkerErrorKind};
use super::fleet::{Crew, lock};
use super::process::{self, WorkerProcess, signal_group};
use super::readiness::{OUTPUT_DRAIN_TIMEOUT, wait_ready};
use super::watchdog::Watchdog;
use crate::config::ProcessAction;

/// How long a kill waits for the kernel to reap the worker (as `Fleet::stop` does): a
/// process in uninterruptible I/O dies only when the I/O returns, and the run must go on.
const KILL_REAP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// What a process action did, for the run's events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessChange {
    /// The worker.
    pub worker: String,
    /// The action.
    pub action: ProcessAction,
    /// The pid (= process group) it acted on; `None` for a `start` of a worker that was down.
    pub pid_before: Option<u32>,
    /// The pid after `start` or `restart`.
    pub pid_after: Option<u32>,
}

impl std::fmt::Display for ProcessChange {
    /// `killed worker1 (pid 123)`, `restarted worker1 (pid 123 → 456)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let verb = match self.action {
            ProcessAction::Kill => "killed",
            ProcessAction::Stop => "stopped",
            ProcessAction::Pause => "paused",
            ProcessAction::Resume => "resumed",
            ProcessAction::Start => "started",
            ProcessAction::Restart => "restarted",
        };
        write!(f, "{verb} {}", self.worker)?;
        match (self.pid_before, self.pid_after) {
            (Some(before), Some(after)) => write!(f, " (pid {before} → {after})"),
            (Some(pid), None) | (None, Some(pid)) => write!(f, " (pid {pid})"),
            (None, None) => Ok(()),
        }
    }
}

/// Applies process faults to a fleet's workers; cheap to clone. Obtained from
/// [`Fleet::control`](super::Fleet::control).
#[derive(Clone)]
pub struct FleetControl {
    crew: Crew,
}

impl std::fmt::Debug for FleetControl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FleetControl").finish_non_exhaustive()
    }
}

impl FleetControl {
    pub(super) fn new(crew: Crew) -> Self {
        FleetControl { crew }
    }

    /// The workers this fleet starts (local workers), in start order.
    pub fn workers(&self) -> Vec<String> {
        self.crew.specs.iter().map(|s| s.name.clone()).collect()
    }

    /// Applies `action` to `worker` and returns what changed. `start` (and the start half
    /// of `restart`) returns once the worker is ready.
    ///
    /// Must be called from a task of the runtime that started the fleet, not from a
    /// blocking thread: a started worker is tied to the thread that forks it (see
    /// `process.rs`).
    ///
    /// # Errors
    /// A [`WorkerError`] naming the worker: not a worker of this fleet, the run is
    /// stopping, the worker is not running (kill, stop, pause, resume, restart) or is
    /// running (start), or it did not become ready after a start.
    pub async fn apply(
        &self,
        action: ProcessAction,
        worker: &str,
    ) -> Result<ProcessChange, WorkerError> {
        let current = self.current(worker)?;
        let running = current.exit.borrow().is_none();
        let change = |pid_before, pid_after| ProcessChange {
            worker: worker.to_string(),
            action,
            pid_before,
            pid_after,
        };
        match action {
            ProcessAction::Start if running => Err(self.refused(
                worker,
                format!("it is running (pid {}); stop or kill it first", current.pid),
            )),
            ProcessAction::Start => {
                let started = self.start(worker).await?;
                Ok(change(None, Some(started)))
            }
            _ if !running => Err(self.refused(
                worker,
                format!(
                    "it is not running (it exited: {}); start it first",
                    current.exit.borrow().clone().unwrap_or_default()
                ),
            )),
            ProcessAction::Kill => {
                self.kill(&current).await;
                Ok(change(Some(current.pid), None))
            }
            ProcessAction::Stop => {
                self.stop(&current).await;
                Ok(change(Some(current.pid), None))
            }
            ProcessAction::Pause => {
                signal_group(&current.name, current.pid, Signal::SIGSTOP);
                Ok(change(Some(current.pid), None))
            }
            ProcessAction::Resume => {
                signal_group(&current.name, current.pid, Signal::SIGCONT);
                Ok(change(Some(current.pid), None))
            }
            ProcessAction::Restart => {
                self.stop(&current).await;
                let started = self.start(worker).await?;
                Ok(change(Some(current.pid), Some(started)))
            }
        }
    }

    /// The current process of `worker`.
    fn current(&self, worker: &str) -> Result<WorkerProcess, WorkerError> {
        if self.crew.stopping.load(Ordering::SeqCst) {
            return Err(self.refused(worker, "the run is stopping its workers".into()));
        }
        lock(&self.crew.workers)
            .iter()
            .find(|w| &*w.name == worker)
            .cloned()
            .ok_or_else(|| {
                self.refused(
                    worker,
                    format!(
                        "it is not a worker the runner started (local workers: {})",
                        self.workers().join(", ")
                    ),
                )
            })
    }

    fn refused(&self, worker: &str, reason: String) -> WorkerError {
        WorkerError::new(worker, WorkerErrorKind::FaultRefused { reason })
    }

    /// SIGKILL to the group, then waits until the worker is reaped and its pipes are read.
    async fn kill(&self, worker: &WorkerProcess) {
        worker.on_purpose.store(true, Ordering::SeqCst);
        signal_group(&worker.name, worker.pid, Signal::SIGKILL);
        self.crew.release(worker.pid);
        self.reaped(worker).await;
    }

    /// SIGTERM (and SIGCONT, should it be paused) to the group, the grace period, then
    /// SIGKILL to what is left of the group, as at the end of a run.
    async fn stop(&self, worker: &WorkerProcess) {
        worker.on_purpose.store(true, Ordering::SeqCst);
        signal_group(&worker.name, worker.pid, Signal::SIGTERM);
        signal_group(&worker.name, worker.pid, Signal::SIGCONT);
        let _ = timeout(self.crew.grace, worker.exited()).await;
        // Children it left in its group had the same grace period.
        signal_group(&worker.name, worker.pid, Signal::SIGKILL);
        self.crew.release(worker.pid);
        self.reaped(worker).await;
    }

    async fn reaped(&self, worker: &WorkerProcess) {
        if timeout(KILL_REAP_TIMEOUT, worker.exited()).await.is_err() {
            tracing::warn!(
                worker = &*worker.name,
                pid = worker.pid,
                "worker not reaped after SIGKILL"
            );
        }
        worker.drain.wait(OUTPUT_DRAIN_TIMEOUT).await;
    }

    /// Spawns `worker` from its launch spec again, replaces its process in the roster, and
    /// waits until its probe passes; returns its new pid. A start that fails leaves no
    /// process behind.
    async fn start(&self, worker: &str) -> Result<u32, WorkerError> {
        let spec = self
            .crew
            .specs
            .iter()
            .find(|s| s.name == worker)
            .expect("a worker of the roster has a spec");
        let watchdog = self.crew.watchdog.as_deref().map(Watchdog::fd);
        let started = process::spawn(spec, &self.crew.sink, watchdog)?;
        {
            let mut workers = lock(&self.crew.workers);
            if self.crew.stopping.load(Ordering::SeqCst) {
                // The fleet stopped while we spawned: nobody else will stop this one.
                drop(workers);
                self.kill(&started).await;
                return Err(self.refused(worker, "the run is stopping its workers".into()));
            }
            if let Some(slot) = workers.iter_mut().find(|w| &*w.name == worker) {
                *slot = started.clone();
            }
        }
        if let Err(error) = wait_ready(&started, &spec.ready, self.crew.startup_timeout).await {
            self.kill(&started).await;
            return Err(error);
        }
        self.crew.watch_exit(started.clone());
        Ok(started.pid)
    }
}
