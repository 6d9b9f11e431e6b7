//! [`WorkerDeath`] and [`DeathWatch`]: the news that a ready worker exited on its own while
//! the run was going on, for whoever must fail the step that was running.
//!
//! The fleet publishes the first such death only: once one worker of the system under test
//! is gone, what follows is consequence, and the first one is what the user must fix.
//! Exits caused by `stop`, `kill_now` or `Drop` are never published.

use std::fmt;
use std::os::unix::fs::FileExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::watch;

use super::error::exit_tail;
use super::fleet::{Roster, lock};
use super::process::WorkerProcess;

/// `PF_EXITING` in `/proc/<pid>/stat`'s flags: set when the process starts to exit, before
/// it closes its files (and sockets) — so a step that saw its connection refused can tell
/// at once whether the worker is on its way out.
const PF_EXITING: u64 = 0x4;

/// Whether `worker`'s process is exiting, a zombie, or gone (reaped). Asked after every
/// step for every worker: its `/proc/<pid>/stat`, opened at spawn, is re-read with one
/// `pread` (opening it again cost four system calls per worker per step).
fn is_exiting(worker: &WorkerProcess) -> bool {
    let Some(file) = &worker.stat else {
        return match std::fs::read(format!("/proc/{}/stat", worker.pid)) {
            Ok(stat) => stat_says_exiting(&stat),
            Err(_) => true,
        };
    };
    // A stat line is at most ~1.1 KB (a 16-byte name and 52 numbers).
    let mut buf = [0u8; 4096];
    // Reading from 0 makes the kernel write the line anew; a reaped process's file
    // answers ESRCH.
    match file.read_at(&mut buf, 0) {
        Ok(n) => stat_says_exiting(&buf[..n]),
        Err(_) => true,
    }
}

/// Whether a `/proc/<pid>/stat` line says the process is exiting or a zombie.
fn stat_says_exiting(stat: &[u8]) -> bool {
    // After the command name, which may hold spaces and parentheses (and any bytes):
    // state, ppid, pgrp, session, tty_nr, tpgid, flags.
    let Some(end) = stat.iter().rposition(|&b| b == b')') else {
        return false;
    };
    let rest = String::from_utf8_lossy(&stat[end + 1..]);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let state = fields.first().copied().unwrap_or("");
    let flags: u64 = fields.get(6).and_then(|f| f.parse().ok()).unwrap_or(0);
    matches!(state, "Z" | "X" | "x") || flags & PF_EXITING != 0
}

/// A worker that died during the run: who, how, and its last words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerDeath {
    /// The worker's name.
    pub worker: String,
    /// How it exited, e.g. `exit status: 3` or `signal: 9 (SIGKILL)`.
    pub status: String,
    /// Its last stderr lines, oldest first.
    pub stderr: Vec<String>,
    /// Its last stdout lines, oldest first.
    pub stdout: Vec<String>,
}

impl WorkerDeath {
    /// `; last stderr lines:` and the lines (stdout when stderr is empty), or `; it
    /// printed nothing`: what explains the death, to append to a message.
    pub fn last_lines(&self) -> String {
        exit_tail(&self.stderr, &self.stdout)
    }
}

impl fmt::Display for WorkerDeath {
    /// `worker `w` died (exit status: 3); last stderr lines: …`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "worker `{}` died ({}){}",
            self.worker,
            self.status,
            self.last_lines()
        )
    }
}

/// Tells whether, and which, worker died during the run. Cheap to clone; outlives the
/// fleet (it then never reports a death again).
#[derive(Debug, Clone)]
pub struct DeathWatch {
    pub(super) news: watch::Receiver<Option<WorkerDeath>>,
    /// The fleet's workers (their group leaders): whether one is exiting is known from the
    /// kernel at once, before the death is reaped, drained and published.
    pub(super) workers: Roster,
    /// Raised once the fleet stops: exits from then on are not deaths.
    pub(super) stopping: Arc<AtomicBool>,
}

impl DeathWatch {
    /// The first worker that died so far, if any.
    pub fn first(&self) -> Option<WorkerDeath> {
        self.news.borrow().clone()
    }

    /// Whether a worker has died or is dying right now, even though the news of it is not
    /// published yet (its exit is being reaped, its last lines drained): its process is
    /// exiting, a zombie, or already reaped. Cheap (one small `/proc` read per worker), so
    /// it is asked after every step.
    pub fn dying(&self) -> bool {
        if self.first().is_some() {
            return true;
        }
        if self.stopping.load(Ordering::SeqCst) {
            return false;
        }
        // A worker a fault killed or stopped on purpose is not dying: its exit is expected.
        lock(&self.workers).iter().any(|worker| {
            !worker.on_purpose.load(Ordering::SeqCst)
                && (worker.exit.borrow().is_some() || is_exiting(worker))
        })
    }

    /// The death of a worker that died or is dying now ([`DeathWatch::dying`]), once its
    /// news is published (at most `patience`); `None` at once when no worker is dying, so
    /// that a run where no worker died never waits here.
    pub async fn settle(&mut self, patience: Duration) -> Option<WorkerDeath> {
        if let Some(death) = self.first() {
            return Some(death);
        }
        if !self.dying() {
            return None;
        }
        self.died_within(patience).await
    }

    /// Waits until a worker dies and returns the first death. Never resolves if none dies.
    pub async fn died(&mut self) -> WorkerDeath {
        // The guard is dropped before any other await (it is not Send).
        let death = match self.news.wait_for(Option::is_some).await {
            Ok(death) => death.clone(),
            Err(_) => None,
        };
        match death {
            Some(death) => death,
            // The fleet is gone without a death: none will come.
            None => std::future::pending().await,
        }
    }

    /// Like [`DeathWatch::died`], giving up after `patience`.
    pub async fn died_within(&mut self, patience: Duration) -> Option<WorkerDeath> {
        tokio::time::timeout(patience, self.died()).await.ok()
    }
}

#[cfg(test)]
mod stat_tests {
    use super::stat_says_exiting;

    #[test]
    fn a_stat_line_is_read_after_the_last_parenthesis_whatever_the_name_holds() {
        // flags 0x400100: no PF_EXITING; 0x400104: exiting.
        assert!(!stat_says_exiting(b"12 (a) Z (b) S 1 12 12 0 -1 4194560 0"));
        assert!(stat_says_exiting(b"12 (x) Z 1 12 12 0 -1 4194560 0"));
        assert!(stat_says_exiting(b"12 (\xff\xfe) R 1 12 12 0 -1 4194564 0"));
        assert!(!stat_says_exiting(
            b"12 (\xff\xfe) S 1 12 12 0 -1 4194560 0"
        ));
        assert!(!stat_says_exiting(b"garbage"));
    }
}
