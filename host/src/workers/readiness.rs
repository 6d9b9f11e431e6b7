//! Waiting for one worker to be ready: its probe passes (by default, its port accepts TCP
//! connections; or `GET path` answers the expected status, which also catches "port open
//! but not serving yet") before the startup timeout, and it has not exited.
//!
//! Polling is tight at first, because most servers listen within tens of milliseconds: one
//! attempt every [`FIRST_POLL_INTERVAL`] for [`TIGHT_POLL_PHASE`], so a ready worker is
//! noticed within about a millisecond. Then it backs off so that a slow starter is not
//! hammered with connection attempts; a `ready` entry with an `interval` polls at that pace
//! instead.

use std::time::Duration;

use tokio::time::{Instant, sleep_until};

use super::error::{WorkerError, WorkerErrorKind};
use super::output::Stream;
use super::probe::{self, Target};
use super::process::WorkerProcess;
use crate::config::{ReadyCheck, ReadyProbe};

/// Pause between connection attempts during the [`TIGHT_POLL_PHASE`]: a refused connect on
/// loopback costs some 20–50 µs, so polling every millisecond notices a ready worker within
/// ~1 ms for a few percent of one core (measured in docs/performance.md; it was 10 ms,
/// doubling, which cost up to ~20 ms of a run's start).
pub(super) const FIRST_POLL_INTERVAL: Duration = Duration::from_millis(1);

/// How long polling stays at [`FIRST_POLL_INTERVAL`] before backing off: a typical server is
/// ready after 40–80 ms, a Python one on a loaded machine after a few hundred.
const TIGHT_POLL_PHASE: Duration = Duration::from_millis(300);

/// Longest pause between connection attempts: bounds the delay after a slow server becomes
/// ready while keeping a 30 s wait at a few hundred attempts.
const MAX_POLL_INTERVAL: Duration = Duration::from_millis(100);

/// How long to wait, after a worker died, for its pipes to be read to the end, so that
/// the error shows its last words. Short: a grandchild may hold the pipes open forever.
pub(super) const OUTPUT_DRAIN_TIMEOUT: Duration = Duration::from_millis(100);

/// Returns once `worker`'s probe passes; fails if it exits first or the timeout (`ready`'s,
/// else `startup_timeout`, counted from now) runs out. Leaves the process running either way.
pub(super) async fn wait_ready(
    worker: &WorkerProcess,
    ready: &ReadyCheck,
    startup_timeout: Duration,
) -> Result<(), WorkerError> {
    let timeout = ready.timeout.unwrap_or(startup_timeout);
    let deadline = Instant::now() + timeout;
    let mut exit = worker.exit.clone();
    let mut interval = ready.interval.unwrap_or(FIRST_POLL_INTERVAL);
    let target = Target::Local(worker.port);
    let tight_until = Instant::now() + TIGHT_POLL_PHASE;
    loop {
        // Cloned out first: the watch guard must not be held across an await.
        let status = exit.borrow_and_update().clone();
        if let Some(status) = status {
            return Err(exited_at_start(worker, status).await);
        }
        let last_answer = match probe::attempt(&ready.probe, target).await {
            Ok(()) => return Ok(()),
            Err(answer) => answer,
        };
        let now = Instant::now();
        if now >= deadline {
            return Err(match &ready.probe {
                // Today's message for today's probe.
                ReadyProbe::Tcp => not_ready(worker, timeout),
                ReadyProbe::Http { .. } => WorkerError::new(
                    &*worker.name,
                    WorkerErrorKind::ProbeFailed {
                        probe: probe::describe(&ready.probe, target),
                        timeout,
                        last_answer,
                        external: false,
                        stderr: worker.tail.lines(Stream::Stderr),
                        stdout: worker.tail.lines(Stream::Stdout),
                    },
                ),
            });
        }
        let next = (now + interval).min(deadline);
        tokio::select! {
            () = sleep_until(next) => {}
            changed = exit.changed() => {
                if changed.is_err() {
                    // The reaper is gone (runtime shutting down): no exit will be
                    // reported, so just keep the poll rhythm until the deadline.
                    sleep_until(next).await;
                }
            }
        }
        if ready.interval.is_none() && Instant::now() >= tight_until {
            interval = (interval * 2).min(MAX_POLL_INTERVAL);
        }
    }
}

async fn exited_at_start(worker: &WorkerProcess, status: String) -> WorkerError {
    worker.drain.wait(OUTPUT_DRAIN_TIMEOUT).await;
    WorkerError::new(
        &*worker.name,
        WorkerErrorKind::ExitedAtStart {
            port: worker.port,
            status,
            stderr: worker.tail.lines(Stream::Stderr),
            stdout: worker.tail.lines(Stream::Stdout),
        },
    )
}

fn not_ready(worker: &WorkerProcess, timeout: Duration) -> WorkerError {
    WorkerError::new(
        &*worker.name,
        WorkerErrorKind::NotReady {
            port: worker.port,
            timeout,
            stderr: worker.tail.lines(Stream::Stderr),
            stdout: worker.tail.lines(Stream::Stdout),
        },
    )
}
