//! The `run` command's part for external workers (`"external": true` in workers.json):
//! wait until they are ready before anything is seeded or deleted, and, for a fresh run,
//! call their reset hooks — or say plainly that their state was not reset.
//!
//! The runner and the plugin never see this: for them an external worker is a worker.

use std::time::Duration;

use crate::config::{TestConfig, WorkerKind};
use crate::error::UserError;
use crate::report::TerminalReport;
use crate::workers::{ExternalWorker, reset_external, wait_external};

/// The external workers of the test, in workers.json order.
pub(crate) fn external_workers(config: &TestConfig) -> Vec<ExternalWorker> {
    config
        .workers
        .iter()
        .filter_map(|w| match &w.kind {
            WorkerKind::External { reset } => Some(ExternalWorker {
                name: w.name.clone(),
                url: w.url.clone(),
                ready: w.ready.clone(),
                reset: reset.clone(),
            }),
            WorkerKind::Local => None,
        })
        .collect()
}

/// Waits until every external worker is ready (each gets its `ready.timeout`, else
/// `startup_timeout`). A worker that never becomes ready fails the run (exit 1).
pub(crate) async fn wait_ready(
    workers: &[ExternalWorker],
    startup_timeout: Duration,
    report: &TerminalReport,
) -> Result<(), UserError> {
    if workers.is_empty() {
        return Ok(());
    }
    report.note(&format!(
        "waiting for {} external worker(s): {}",
        workers.len(),
        workers
            .iter()
            .map(|w| format!("{} {}", w.name, w.url))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    wait_external(workers, startup_timeout)
        .await
        .map_err(UserError::from)
}

/// Before a fresh run's seeding: calls each external worker's reset hook, in order; the
/// first failure refuses the run before anything is seeded or deleted. Workers without a
/// hook are named as the user's to reset — the runner never claims a reset it did not do.
pub(crate) async fn reset(
    workers: &[ExternalWorker],
    report: &TerminalReport,
) -> Result<(), UserError> {
    for worker in workers {
        match reset_external(worker).await.map_err(UserError::from)? {
            Some(done) => report.note(&format!(
                "reset external worker {}: {} answered {}",
                worker.name, done.request, done.status
            )),
            None => report.warning(&format!(
                "external worker {} was NOT reset: its state is yours to reset before a fresh \
                 run (or give it a \"reset\" hook in workers.json)",
                worker.name
            )),
        }
    }
    Ok(())
}
