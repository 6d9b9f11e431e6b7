//! [`Fleet`]: the running workers of one test run, started together and stopped together.
//!
//! Lifecycle: [`Fleet::start`] checks the ports, spawns every worker, waits for all of them
//! concurrently and, if one fails, stops the others before it returns the error. The run
//! then ends with [`Fleet::stop`] (SIGTERM, grace, SIGKILL). Whatever happens in between —
//! an error, a panic, a cancelled future — dropping the `Fleet` SIGKILLs every process
//! group it still owns, so no worker outlives the run. If the runner itself dies, the
//! watchdog the fleet started (`watchdog.rs`) kills the groups.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use nix::sys::signal::Signal;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::{Instant, timeout_at};

use super::death::{DeathWatch, WorkerDeath};
use super::error::{WorkerError, WorkerErrorKind};
use super::output::OutputSink;
use super::output::Stream;
use super::preflight::preflight;
use super::process::{self, WorkerProcess, signal_group};
use super::readiness::{OUTPUT_DRAIN_TIMEOUT, wait_ready};
use super::spec::{LaunchSpec, SupervisorOptions};
use super::watchdog::Watchdog;

/// How long `stop` waits for the kernel to finish off SIGKILLed workers. SIGKILL cannot be
/// ignored, but a process stuck in uninterruptible I/O (a dead NFS mount) dies only when
/// the I/O returns; the run must end anyway.
const REAP_TIMEOUT: Duration = Duration::from_secs(5);

/// After a worker died on its own and the rest of its group was killed, how long to wait
/// for its pipes to reach EOF before its death is told without its last lines: only a
/// process that left the group (`setsid`) and kept the pipes can hold them open that long.
const DEATH_DRAIN_TIMEOUT: Duration = Duration::from_secs(2);

/// The fleet's current worker processes, in start order: shared with its [`DeathWatch`]
/// and [`FleetControl`](super::FleetControl), since a fault the test asks for replaces a
/// worker's process (`start`, `restart`).
pub(super) type Roster = Arc<Mutex<Vec<WorkerProcess>>>;

/// Locks `roster`; a panic elsewhere while it was held leaves the list intact (every
/// change is one push, replace or take), so a poisoned lock is used as it is.
pub(super) fn lock(roster: &Roster) -> MutexGuard<'_, Vec<WorkerProcess>> {
    roster.lock().unwrap_or_else(|e| e.into_inner())
}

/// What the fleet and its control share: the workers, what started them, and where their
/// news goes.
#[derive(Clone)]
pub(super) struct Crew {
    pub workers: Roster,
    /// What each worker was started from, to start it again (same program, env, data).
    pub specs: Arc<[LaunchSpec]>,
    pub grace: Duration,
    pub startup_timeout: Duration,
    pub sink: Arc<dyn OutputSink>,
    /// Set once stopping or killing began: exits from then on are expected, not reported.
    pub stopping: Arc<AtomicBool>,
    /// The first worker that died on its own during the run.
    pub deaths: Arc<watch::Sender<Option<WorkerDeath>>>,
    /// Kills the groups if the runner dies; `None` when the options ask for none.
    pub watchdog: Option<Arc<Watchdog>>,
}

impl Crew {
    /// Tells the watchdog a group was SIGKILLed by us, so it forgets the group id.
    pub fn release(&self, pgid: u32) {
        if let Some(watchdog) = &self.watchdog {
            watchdog.release(pgid);
        }
    }

    /// Watches a ready worker and tells the sink if it exits on its own (not on purpose).
    pub fn watch_exit(&self, worker: WorkerProcess) {
        let sink = Arc::clone(&self.sink);
        let stopping = Arc::clone(&self.stopping);
        let deaths = Arc::clone(&self.deaths);
        tokio::spawn(async move {
            let Some(status) = worker.exited().await else {
                return;
            };
            // `stop`, `kill_now` and the fault actions raise their flag before they
            // signal, so an exit they caused always sees it.
            if stopping.load(Ordering::SeqCst) || worker.on_purpose.load(Ordering::SeqCst) {
                return;
            }
            // What it left running in its group (a server it started, a child holding
            // its pipes) goes too: the system under test is broken and the run ends at
            // this death, and only then do its pipes reach EOF, so that every line it
            // printed is read before the news of its death is told.
            signal_group(&worker.name, worker.pid, Signal::SIGKILL);
            worker.drain.wait(DEATH_DRAIN_TIMEOUT).await;
            let death = WorkerDeath {
                worker: worker.name.to_string(),
                status: status.clone(),
                stderr: worker.tail.lines(Stream::Stderr),
                stdout: worker.tail.lines(Stream::Stdout),
            };
            deaths.send_if_modified(|first| {
                let news = first.is_none();
                first.get_or_insert(death);
                news
            });
            sink.exited(&worker.name, &status);
        });
    }
}

/// The running workers of one test run. Start with [`Fleet::start`], end with
/// [`Fleet::stop`]; dropping it kills what is left.
pub struct Fleet {
    crew: Crew,
}

impl Fleet {
    /// Starts all workers concurrently; returns when every worker passes its readiness probe
    /// (by default: its port accepts TCP connections).
    ///
    /// Before anything is spawned, every port must be free (on 127.0.0.1 and `[::1]`) and
    /// used by one worker only. Each worker then runs `program args` in `cwd` with exactly
    /// `env`, in its own process group, its output going line by line to `sink`.
    ///
    /// With `options.watchdog` set, a watchdog process is started first; it kills every
    /// worker's process group if the runner dies without stopping them (see
    /// `watchdog.rs`).
    ///
    /// # Errors
    /// A [`WorkerError`] naming the worker when [`preflight`](super::preflight) refuses the
    /// specs (nothing is spawned then), when the watchdog cannot be started (named after
    /// the first worker), when a program cannot be spawned, or when a worker exits before it
    /// listens or does not listen within `options.startup_timeout`. In the last three cases
    /// the workers already started are stopped first (SIGTERM, `options.grace`, SIGKILL),
    /// and the error is that of the first failed worker in `specs` order, among those that
    /// failed by then.
    ///
    /// Call it from a task of a tokio runtime, not from `spawn_blocking` or
    /// `block_in_place`: workers are killed when the thread that spawned them exits (see
    /// `process.rs`).
    pub async fn start(
        specs: Vec<LaunchSpec>,
        options: SupervisorOptions,
        sink: Arc<dyn OutputSink>,
    ) -> Result<Fleet, WorkerError> {
        preflight(&specs)?;
        let watchdog = match &options.watchdog {
            // No worker, nothing to guard.
            _ if specs.is_empty() => None,
            None => None,
            Some(command) => Some(Arc::new(Watchdog::spawn(command).map_err(|source| {
                let first = specs.first().map_or("", |spec| spec.name.as_str());
                WorkerError::new(
                    first,
                    WorkerErrorKind::Watchdog {
                        program: command.program.clone(),
                        source,
                    },
                )
            })?)),
        };
        // From here on, `fleet` owns every spawned worker: an early return or a cancelled
        // future drops it, and `Drop` kills them.
        let fleet = Fleet {
            crew: Crew {
                workers: Arc::new(Mutex::new(Vec::with_capacity(specs.len()))),
                specs: specs.clone().into(),
                grace: options.grace,
                startup_timeout: options.startup_timeout,
                sink,
                stopping: Arc::new(AtomicBool::new(false)),
                deaths: Arc::new(watch::channel(None).0),
                watchdog,
            },
        };
        // Spawned here, on the thread polling this future, never on a blocking thread.
        for spec in &specs {
            let watchdog = fleet.crew.watchdog.as_deref().map(Watchdog::fd);
            match process::spawn(spec, &fleet.crew.sink, watchdog) {
                Ok(worker) => lock(&fleet.crew.workers).push(worker),
                Err(error) => {
                    fleet.stop().await;
                    return Err(error);
                }
            }
        }

        let mut pending = JoinSet::new();
        let started = lock(&fleet.crew.workers).clone();
        for (index, worker) in started.iter().enumerate() {
            let worker = worker.clone();
            let limit = options.startup_timeout;
            let ready = specs[index].ready.clone();
            pending.spawn(async move { (index, wait_ready(&worker, &ready, limit).await) });
        }
        let mut failures = Vec::new();
        while let Some(joined) = pending.join_next().await {
            let (index, result) = joined.expect("readiness tasks neither panic nor get aborted");
            match result {
                Ok(()) => fleet.crew.watch_exit(started[index].clone()),
                Err(error) => {
                    failures.push((index, error));
                    break;
                }
            }
        }
        if failures.is_empty() {
            return Ok(fleet);
        }
        // Other workers may have failed at the same moment; prefer the first one listed,
        // which is what a user reading workers.json top-down would fix first.
        while let Some(joined) = pending.try_join_next() {
            if let Ok((index, Err(error))) = joined {
                failures.push((index, error));
            }
        }
        pending.abort_all();
        fleet.stop().await;
        let (_, error) = failures
            .into_iter()
            .min_by_key(|(index, _)| *index)
            .expect("at least one failure was recorded");
        Err(error)
    }

    /// The name and pid of every worker still owned, in start order. The pid is also the
    /// worker's process group id. Empty after [`Fleet::kill_now`].
    pub fn pids(&self) -> Vec<(String, u32)> {
        lock(&self.crew.workers)
            .iter()
            .map(|worker| (worker.name.to_string(), worker.pid))
            .collect()
    }

    /// Tells whether, and which, worker died on its own during the run (not through
    /// `stop`, `kill_now` or `Drop`).
    pub fn deaths(&self) -> DeathWatch {
        DeathWatch {
            news: self.crew.deaths.subscribe(),
            workers: Arc::clone(&self.crew.workers),
            stopping: Arc::clone(&self.crew.stopping),
        }
    }

    /// A handle that applies process faults to the fleet's workers while the run goes on
    /// (kill, stop, pause, resume, start, restart); it does nothing once the fleet stops.
    pub fn control(&self) -> super::FleetControl {
        super::FleetControl::new(self.crew.clone())
    }

    /// Stops every worker: SIGTERM to each process group, then waits up to the grace
    /// period for the workers to exit, all at once; then SIGKILL to every group, which
    /// also ends grandchildren still running; then reaps. Exits from here on are not
    /// reported to the sink. Returns when every worker is reaped (or after a bounded wait
    /// for those stuck in the kernel) and its last output lines have been forwarded.
    pub async fn stop(self) {
        self.stop_or_kill(std::future::pending()).await;
    }

    /// [`Fleet::stop`], except that the grace period ends as soon as `hurry` resolves
    /// (a second Ctrl-C): the groups get SIGKILL at once. Returns whether it hurried.
    pub async fn stop_or_kill(self, hurry: impl Future<Output = ()>) -> bool {
        self.crew.stopping.store(true, Ordering::SeqCst);
        let workers = gone_on_purpose_left_out(std::mem::take(&mut *lock(&self.crew.workers)));
        if workers.is_empty() {
            return false;
        }
        for worker in &workers {
            signal_group(&worker.name, worker.pid, Signal::SIGTERM);
            // A worker paused by a fault would hold the SIGTERM until the grace ends.
            signal_group(&worker.name, worker.pid, Signal::SIGCONT);
        }
        // All got SIGTERM at the same moment, so waiting for them one after the other
        // against one deadline is the same as waiting for them concurrently.
        let deadline = Instant::now() + self.crew.grace;
        let grace = async {
            for worker in &workers {
                let _ = timeout_at(deadline, worker.exited()).await;
            }
        };
        let hurried = tokio::select! {
            () = grace => false,
            () = hurry => true,
        };
        // Unconditionally: a worker that exited on SIGTERM may leave children behind in
        // its group, and they had the same grace period as the worker itself.
        for worker in &workers {
            signal_group(&worker.name, worker.pid, Signal::SIGKILL);
            self.crew.release(worker.pid);
        }
        let deadline = Instant::now() + REAP_TIMEOUT;
        for worker in &workers {
            if timeout_at(deadline, worker.exited()).await.is_err() {
                tracing::warn!(
                    worker = &*worker.name,
                    pid = worker.pid,
                    "worker not reaped after SIGKILL"
                );
            }
        }
        let deadline = Instant::now() + OUTPUT_DRAIN_TIMEOUT;
        for worker in &workers {
            let left = deadline.saturating_duration_since(Instant::now());
            worker.drain.wait(left).await;
        }
        hurried
    }

    /// SIGKILLs every process group at once, without waiting: the last resort on a second
    /// Ctrl-C or an error path, also run by `Drop`. Reaping is left to the supervisor's
    /// tasks (or to the runtime's orphan reaper). The fleet owns no worker afterwards, so
    /// a later `stop` returns at once.
    pub fn kill_now(&mut self) {
        self.crew.stopping.store(true, Ordering::SeqCst);
        let workers = gone_on_purpose_left_out(std::mem::take(&mut *lock(&self.crew.workers)));
        for worker in workers {
            signal_group(&worker.name, worker.pid, Signal::SIGKILL);
            self.crew.release(worker.pid);
        }
    }
}

/// `workers` without those a fault killed or stopped on purpose and that were reaped: their
/// groups were SIGKILLed and released then, and their ids may belong to another process
/// by now, which must never get a signal from the run.
fn gone_on_purpose_left_out(workers: Vec<WorkerProcess>) -> Vec<WorkerProcess> {
    workers
        .into_iter()
        .filter(|w| !(w.on_purpose.load(Ordering::SeqCst) && w.exit.borrow().is_some()))
        .collect()
}

impl Drop for Fleet {
    fn drop(&mut self) {
        self.kill_now();
    }
}

impl std::fmt::Debug for Fleet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fleet")
            .field("workers", &self.pids())
            .field("grace", &self.crew.grace)
            .finish_non_exhaustive()
    }
}
