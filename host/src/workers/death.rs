//! [`WorkerDeath`] and [`DeathWatch`]: the news that a ready worker exited on its own while
//! the run was going on, for whoever must fail the step that was running.
//!
//! The fleet publishes the first such death only: once one worker of the system under test
//! is gone, what follows is consequence, and the first one is what the user must fix.
//! Exits caused by `stop`, `kill_now` or `Drop` are never published.

use std::fmt;
use std::time::Duration;

use tokio::sync::watch;

use super::error::exit_tail;

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
pub struct DeathWatch(pub(super) watch::Receiver<Option<WorkerDeath>>);

impl DeathWatch {
    /// The first worker that died so far, if any.
    pub fn first(&self) -> Option<WorkerDeath> {
        self.0.borrow().clone()
    }

    /// Waits until a worker dies and returns the first death. Never resolves if none dies.
    pub async fn died(&mut self) -> WorkerDeath {
        // The guard is dropped before any other await (it is not Send).
        let death = match self.0.wait_for(Option::is_some).await {
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
