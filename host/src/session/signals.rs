//! SIGINT and SIGTERM: turned into a value the run can select on, so that workers are
//! always stopped before the runner exits. Every command that loads a package selects on
//! them too ([`StopSignals::until`]): guest code yields to the executor often enough
//! (`plugin::guard`) that a signal takes effect within a fraction of a second, and one that
//! arrived while something finished is still reported ([`StopSignals::pending`]).

use std::future::Future;
use std::task::{Context, Poll, Waker};

use tokio::signal::unix::{SignalKind, signal};

use crate::error::UserError;
use crate::exit::{INTERRUPTED as EXIT_INTERRUPTED, TERMINATED as EXIT_TERMINATED};

/// A termination request received by the runner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// SIGINT (Ctrl-C).
    Interrupt,
    /// SIGTERM (e.g. a CI timeout).
    Terminate,
}

impl Stop {
    /// The exit code for this stop.
    pub fn exit_code(self) -> u8 {
        match self {
            Stop::Interrupt => EXIT_INTERRUPTED,
            Stop::Terminate => EXIT_TERMINATED,
        }
    }

    /// The signal's name.
    pub fn name(self) -> &'static str {
        match self {
            Stop::Interrupt => "SIGINT",
            Stop::Terminate => "SIGTERM",
        }
    }
}

/// Installs the handlers for a command, as a usage error when that fails.
pub fn install_signals() -> Result<StopSignals, UserError> {
    StopSignals::install()
        .map_err(|e| UserError::usage(format!("cannot install signal handlers: {e}"), None))
}

/// Listens for SIGINT and SIGTERM from the moment it is created.
pub struct StopSignals {
    /// SIGINT's and SIGTERM's streams; `None` when the run leaves signals to the process.
    handlers: Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>,
}

impl StopSignals {
    /// Installs the handlers (the default action, exiting at once, is replaced).
    pub fn install() -> std::io::Result<Self> {
        Ok(Self {
            handlers: Some((
                signal(SignalKind::interrupt())?,
                signal(SignalKind::terminate())?,
            )),
        })
    }

    /// No handlers: nothing is ever received (a library run that leaves the process's
    /// signals alone).
    pub fn none() -> Self {
        Self { handlers: None }
    }

    /// Resolves at the next SIGINT or SIGTERM.
    pub async fn recv(&mut self) -> Stop {
        let Some((int, term)) = &mut self.handlers else {
            return std::future::pending().await;
        };
        tokio::select! {
            _ = int.recv() => Stop::Interrupt,
            _ = term.recv() => Stop::Terminate,
        }
    }

    /// A signal that arrived and was not received yet, without waiting: checked after work
    /// that finished on its own, so that a signal is never dropped.
    pub fn pending(&mut self) -> Option<Stop> {
        let (int, term) = self.handlers.as_mut()?;
        let mut cx = Context::from_waker(Waker::noop());
        if let Poll::Ready(Some(())) = int.poll_recv(&mut cx) {
            return Some(Stop::Interrupt);
        }
        if let Poll::Ready(Some(())) = term.poll_recv(&mut cx) {
            return Some(Stop::Terminate);
        }
        None
    }

    /// Runs `work` until it finishes or a signal arrives, whichever is first; a signal wins
    /// a tie, and one that arrived while `work` finished is returned too. Dropping `work`
    /// on a signal stops it (a guest call drops its instance).
    pub async fn until<T>(&mut self, work: impl Future<Output = T>) -> Result<T, Stop> {
        let result = tokio::select! {
            biased;
            stop = self.recv() => return Err(stop),
            result = work => result,
        };
        match self.pending() {
            Some(stop) => Err(stop),
            None => Ok(result),
        }
    }
}
