//! Waiting for one worker to be ready: its port accepts TCP connections before the startup
//! timeout, and it has not exited.
//!
//! Polling starts fast, because most servers listen within tens of milliseconds, and
//! backs off so that a slow starter is not hammered with connection attempts.

use std::time::Duration;

use tokio::time::{Instant, sleep_until};

use super::error::{WorkerError, WorkerErrorKind};
use super::output::Stream;
use super::ports::accepts_connections;
use super::process::WorkerProcess;

/// First pause between connection attempts: a typical server is ready after 40–80 ms, so
/// this costs at most ~10 ms of a run's start.
const FIRST_POLL_INTERVAL: Duration = Duration::from_millis(10);

/// Longest pause between connection attempts: bounds the delay after a slow server becomes
/// ready while keeping a 30 s wait at a few hundred attempts.
const MAX_POLL_INTERVAL: Duration = Duration::from_millis(100);

/// How long to wait, after a worker died, for its pipes to be read to the end, so that
/// the error shows its last words. Short: a grandchild may hold the pipes open forever.
pub(super) const OUTPUT_DRAIN_TIMEOUT: Duration = Duration::from_millis(100);

/// Returns once `worker`'s port accepts connections; fails if it exits first or the
/// `timeout` (counted from now) runs out. Leaves the process running either way.
pub(super) async fn wait_ready(
    worker: &WorkerProcess,
    timeout: Duration,
) -> Result<(), WorkerError> {
    let deadline = Instant::now() + timeout;
    let mut exit = worker.exit.clone();
    let mut interval = FIRST_POLL_INTERVAL;
    loop {
        // Cloned out first: the watch guard must not be held across an await.
        let status = exit.borrow_and_update().clone();
        if let Some(status) = status {
            return Err(exited_at_start(worker, status).await);
        }
        if accepts_connections(worker.port).await {
            return Ok(());
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(not_ready(worker, timeout));
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
        interval = (interval * 2).min(MAX_POLL_INTERVAL);
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
