//! [`HostCall`]: one call a step made through the host's interfaces (HTTP, MongoDB, state
//! writes, worker reads, signing), as shown to people: `-vv` prints each one, a failed step
//! shows its last few, and the reports carry them.
//!
//! The interfaces report calls through [`StepLog::call`](crate::plugin::StepLog::call); the runner
//! forwards them as [`RunEvent::HostCalled`](crate::runner::RunEvent::HostCalled). Texts
//! are already cut to [`CALL_TEXT_MAX_BYTES`] and have secrets masked where they are built,
//! so a consumer prints or stores them as they are.

use std::time::Duration;

/// How much of one request or response text a [`HostCall`] keeps (4 KiB); the rest is
/// dropped and the cut marked.
pub const CALL_TEXT_MAX_BYTES: usize = 4096;

/// The host interface a call went through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallKind {
    /// `http.send` to a worker or an allowed host.
    Http,
    /// A MongoDB operation.
    Mongo,
    /// `state.set`, `state.get`.
    State,
    /// `worker.*` reads and `worker.sign`/`verify`.
    Worker,
    /// `config.get`.
    Config,
}

impl CallKind {
    /// The name shown in traces and reports: `http`, `mongo`, `state`, `worker`.
    pub fn as_str(self) -> &'static str {
        match self {
            CallKind::Http => "http",
            CallKind::Mongo => "mongo",
            CallKind::State => "state",
            CallKind::Worker => "worker",
            CallKind::Config => "config",
        }
    }
}

/// One host call of a step, for people to read.
#[derive(Debug, Clone, PartialEq)]
pub struct HostCall {
    /// Which interface.
    pub kind: CallKind,
    /// One line: `POST http://127.0.0.1:5001/task -> 200 OK`, `insert_one todos -> ok`.
    pub summary: String,
    /// The request as sent (for HTTP: headers, blank line, body), cut and masked; empty
    /// when the call has none worth showing.
    pub request: String,
    /// The answer (for HTTP: status line, headers, blank line, body), cut and masked; for
    /// a failed call, the error.
    pub response: String,
    /// Whether the call failed (an error value returned to the guest).
    pub failed: bool,
    /// How long the host took to answer.
    pub duration: Duration,
}
