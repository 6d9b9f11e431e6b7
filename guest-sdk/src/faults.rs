//! Faults on the test's own workers, applied by the step (WIT interface `faults`): kill,
//! stop, start, restart, pause, resume, and network degradation. Granted only when
//! config.yaml sets `faults_from_steps: true`; without it the first call ends the step with
//! an error naming that key. Each call returns what changed, e.g.
//! `killed worker1 (pid 123)`; an error says why nothing was done.

use serde_json::Value;

use crate::__private::bindings::prometheus::step::faults as wit;
use crate::Error;

fn done(worker: &str, result: Result<String, String>) -> Result<String, Error> {
    result.map_err(|e| Error::msg(format!("fault on worker `{worker}`: {e}")))
}

/// SIGKILL to the worker's processes; returns once it is gone.
pub fn kill(worker: &str) -> Result<String, Error> {
    done(worker, wit::kill(worker))
}

/// SIGTERM, the grace period, then SIGKILL.
pub fn stop(worker: &str) -> Result<String, Error> {
    done(worker, wit::stop(worker))
}

/// Starts a worker that is down (same program, environment and data); returns once it is
/// ready.
pub fn start(worker: &str) -> Result<String, Error> {
    done(worker, wit::start(worker))
}

/// [`stop`] then [`start`].
pub fn restart(worker: &str) -> Result<String, Error> {
    done(worker, wit::restart(worker))
}

/// SIGSTOP: the worker holds every request until [`resume`].
pub fn pause(worker: &str) -> Result<String, Error> {
    done(worker, wit::pause(worker))
}

/// SIGCONT after [`pause`].
pub fn resume(worker: &str) -> Result<String, Error> {
    done(worker, wit::resume(worker))
}

/// Degrades the network to `worker`: `settings` holds the keys of a `network:` fault of
/// config.yaml except `worker` (e.g. `{"latency_ms": 300}`), and optionally `for`
/// (`step`, `round` (the default) or `run`).
pub fn network(worker: &str, settings: &Value) -> Result<String, Error> {
    done(worker, wit::network(worker, &settings.to_string()))
}

/// Ends the network fault on `worker`, if any.
pub fn clear(worker: &str) -> Result<String, Error> {
    done(worker, wit::clear(worker))
}
