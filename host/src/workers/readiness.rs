//! Waiting for one worker to be ready: its probe passes (by default, its port accepts TCP
//! connections; or `GET path` answers the expected status, which also catches "port open
//! but not serving yet") before the startup timeout, and it has not exited.
//!
//! Polling is tight at first, because most servers listen within tens of milliseconds: one
//! attempt every millisecond for 300 ms ([`LOCAL_POLL`]), so a ready worker is
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

/// How often a readiness probe is repeated: every `first` for `tight_for`, then doubling up
/// to `max`. A `ready` entry's `interval` replaces it with a fixed pace.
#[derive(Debug, Clone, Copy)]
pub(super) struct PollPolicy {
    /// The pause between attempts at first.
    first: Duration,
    /// How long the pause stays at `first` before it doubles.
    tight_for: Duration,
    /// The longest pause.
    max: Duration,
}

/// A local worker the runner started: a refused connect on loopback costs some 20–50 µs,
/// so polling every millisecond for the first 300 ms (a typical server is ready after
/// 40–80 ms, a Python one on a loaded machine after a few hundred) notices a ready worker
/// within ~1 ms for a few percent of one core (docs/performance.md; it was 10 ms,
/// doubling, which cost up to ~20 ms of a run's start). Then at most every 100 ms: a 30 s
/// wait stays at a few hundred attempts.
pub(super) const LOCAL_POLL: PollPolicy = PollPolicy {
    first: Duration::from_millis(1),
    tight_for: Duration::from_millis(300),
    max: Duration::from_millis(100),
};

/// An external worker (another host, a container): already running in the usual case,
/// and a probe is a request over a real network, so no tight phase — 10 ms, doubling — and
/// a remote server that restarts gets a probe twice a second, not ten times.
pub(super) const EXTERNAL_POLL: PollPolicy = PollPolicy {
    first: Duration::from_millis(10),
    tight_for: Duration::ZERO,
    max: Duration::from_millis(500),
};

impl PollPolicy {
    /// The pauses of one wait starting now; `fixed` (a `ready` entry's `interval`) wins.
    pub(super) fn start(self, fixed: Option<Duration>) -> Pacer {
        Pacer {
            interval: fixed.unwrap_or(self.first),
            fixed: fixed.is_some(),
            tight_until: Instant::now() + self.tight_for,
            max: self.max,
        }
    }
}

/// The pauses of one readiness wait (see [`PollPolicy`]).
#[derive(Debug)]
pub(super) struct Pacer {
    interval: Duration,
    fixed: bool,
    tight_until: Instant,
    max: Duration,
}

impl Pacer {
    /// The pause before the next attempt; the one after it grows once the tight phase is
    /// over (never with a fixed pace).
    pub(super) fn next(&mut self) -> Duration {
        let pause = self.interval;
        if !self.fixed && Instant::now() >= self.tight_until {
            self.interval = (self.interval * 2).min(self.max);
        }
        pause
    }
}

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
    let mut pacer = LOCAL_POLL.start(ready.interval);
    let target = Target::Local(worker.port);
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
        let next = (now + pacer.next()).min(deadline);
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

#[cfg(test)]
mod pacing_tests {
    use super::*;

    fn pauses(mut pacer: Pacer, n: usize) -> Vec<u64> {
        (0..n).map(|_| pacer.next().as_millis() as u64).collect()
    }

    #[test]
    fn a_local_worker_is_polled_every_millisecond_at_first() {
        assert_eq!(pauses(LOCAL_POLL.start(None), 5), [1, 1, 1, 1, 1]);
    }

    #[test]
    fn an_external_worker_backs_off_from_10_ms_to_half_a_second() {
        assert_eq!(
            pauses(EXTERNAL_POLL.start(None), 8),
            [10, 20, 40, 80, 160, 320, 500, 500]
        );
    }

    #[test]
    fn a_ready_interval_is_kept_as_given() {
        let fixed = Some(Duration::from_millis(250));
        assert_eq!(pauses(EXTERNAL_POLL.start(fixed), 3), [250, 250, 250]);
        assert_eq!(pauses(LOCAL_POLL.start(fixed), 3), [250, 250, 250]);
    }
}
