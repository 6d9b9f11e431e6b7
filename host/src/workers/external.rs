//! External workers: servers somebody else runs (Compose, Kubernetes, a staging host). The
//! runner never starts or stops them; it waits until each passes its readiness probe and,
//! before a fresh run, calls its reset hook when it has one.
//!
//! Start from [`wait_external`] and [`reset_external`]. Like the rest of `workers`, this
//! takes plain values (config's probe and hook types) and knows nothing of the run.

use std::time::Duration;

use tokio::task::JoinSet;
use tokio::time::{Instant, sleep_until};

use super::error::{WorkerError, WorkerErrorKind};
use super::probe::{self, Target};
use super::readiness::EXTERNAL_POLL;
use crate::config::{ReadyCheck, ResetHook};

/// How long a reset hook may take when its entry gives no `timeout`: emptying a database
/// can take a while, but a hung endpoint must not hang the run.
pub const DEFAULT_RESET_TIMEOUT: Duration = Duration::from_secs(30);

/// A worker the runner does not start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalWorker {
    /// Its name in workers.json.
    pub name: String,
    /// Its base URL, without a trailing `/`.
    pub url: String,
    /// Its readiness probe.
    pub ready: ReadyCheck,
    /// The call that empties its state before a fresh run, if any.
    pub reset: Option<ResetHook>,
}

/// Waits, concurrently, until every external worker passes its probe; each gets its
/// `ready.timeout`, else `default_timeout`, from now.
///
/// # Errors
/// [`WorkerErrorKind::ProbeFailed`] for the first worker (in `workers` order) that did not
/// become ready, with its probe and last answer.
pub async fn wait_external(
    workers: &[ExternalWorker],
    default_timeout: Duration,
) -> Result<(), WorkerError> {
    let mut pending = JoinSet::new();
    for (index, worker) in workers.iter().enumerate() {
        let worker = worker.clone();
        pending.spawn(async move { (index, wait_one(&worker, default_timeout).await) });
    }
    let mut failures = Vec::new();
    while let Some(joined) = pending.join_next().await {
        let (index, result) = joined.expect("probe tasks neither panic nor get aborted");
        if let Err(error) = result {
            failures.push((index, error));
        }
    }
    // All ran to their end, so the first listed failure is the one a user reading
    // workers.json top-down would fix first.
    match failures.into_iter().min_by_key(|(index, _)| *index) {
        Some((_, error)) => Err(error),
        None => Ok(()),
    }
}

async fn wait_one(worker: &ExternalWorker, default_timeout: Duration) -> Result<(), WorkerError> {
    let timeout = worker.ready.timeout.unwrap_or(default_timeout);
    let deadline = Instant::now() + timeout;
    let target = Target::Url(&worker.url);
    let mut pacer = EXTERNAL_POLL.start(worker.ready.interval);
    loop {
        // An attempt never outlives the deadline by more than its own bound.
        let last_answer = match probe::attempt(&worker.ready.probe, target).await {
            Ok(()) => return Ok(()),
            Err(answer) => answer,
        };
        let now = Instant::now();
        if now >= deadline {
            return Err(WorkerError::new(
                &worker.name,
                WorkerErrorKind::ProbeFailed {
                    probe: probe::describe(&worker.ready.probe, target),
                    timeout,
                    last_answer,
                    external: true,
                    stderr: Vec::new(),
                    stdout: Vec::new(),
                },
            ));
        }
        sleep_until((now + pacer.next()).min(deadline)).await;
    }
}

/// What a reset hook answered, for the run's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResetDone {
    /// The call in words: `POST http://w1:8080/reset`.
    pub request: String,
    /// The status line: `200 OK`.
    pub status: String,
}

/// Calls `worker`'s reset hook, if it has one (`Ok(None)` when not). Any 2xx answer is
/// success.
///
/// # Errors
/// [`WorkerErrorKind::ResetFailed`] with the call and what came back (status and the start
/// of the body, or the connection error).
pub async fn reset_external(worker: &ExternalWorker) -> Result<Option<ResetDone>, WorkerError> {
    let Some(hook) = &worker.reset else {
        return Ok(None);
    };
    let request = format!("{} {}{}", hook.method, worker.url, hook.path);
    let failed = |answer: String| {
        WorkerError::new(
            &worker.name,
            WorkerErrorKind::ResetFailed {
                request: request.clone(),
                answer,
            },
        )
    };
    let method = reqwest::Method::from_bytes(hook.method.as_bytes())
        .map_err(|_| failed(format!("`{}` is not an HTTP method", hook.method)))?;
    let response = probe::client()
        .request(method, format!("{}{}", worker.url, hook.path))
        .timeout(hook.timeout.unwrap_or(DEFAULT_RESET_TIMEOUT))
        .send()
        .await
        .map_err(|e| failed(crate::error_text::error_chain(&e)))?;
    if !response.status().is_success() {
        return Err(failed(probe::answer(response).await));
    }
    Ok(Some(ResetDone {
        status: response.status().to_string(),
        request,
    }))
}
