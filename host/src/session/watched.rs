//! [`Watched`]: the package's steps, failed when a worker of the run dies.
//!
//! A worker that exits on its own during the run breaks the system under test. The step
//! running at that moment fails with a [`StepFailure::WorkerDied`] that names the worker,
//! its exit status and its last output lines — not with whatever the step saw ("connection
//! refused", a timeout), which is only a consequence — even a step that passed, when the
//! kernel says a worker was dying as it ended. A death published between two steps fails
//! the next step before it starts. Either way the run ends as failed (exit 1) at that
//! step, with the usual summary and reports, and the saved state resumes at that step.
//!
//! Waiting for the news of a dying worker costs nothing when no worker is dying, and
//! never counts as the step's time: the step's end is marked first ([`StepLog::ended`]).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crate::plugin::{StepFailure, StepInfo, StepLog, StepOutcome, Steps, StepsLayer};
use crate::store::state::RunState;
use crate::workers::{DeathWatch, WorkerDeath};

/// How long, at most, to wait for the news of a worker that the kernel says is dying
/// (exiting, a zombie, or just reaped) when a step ended: its exit is reaped, the rest of
/// its group killed and its pipes read to the end first (`workers::fleet`). Waited only
/// when a worker is dying, and after the step's time was taken (`StepLog::ended`): a
/// step where no worker died never waits, and a failing step's time is its own.
const DEATH_NOTICE_PATIENCE: Duration = Duration::from_secs(3);

/// `steps`, failing the step during (or before) which a worker died.
pub(crate) struct Watched<'a, S> {
    /// The package's steps.
    pub steps: &'a S,
    /// News of the run's workers.
    pub deaths: DeathWatch,
}

impl<S: Steps + Sync> StepsLayer for Watched<'_, S> {
    type Inner = S;

    fn inner(&self) -> &S {
        self.steps
    }

    async fn run_step(
        &self,
        step: &StepInfo,
        state: &mut RunState,
        log: Arc<dyn StepLog>,
    ) -> Result<StepOutcome, StepFailure> {
        let work = self.steps.run_step(step, state, log.clone());
        guard(self.deaths.clone(), log, work).await
    }

    async fn post_load(
        &self,
        state: &mut RunState,
        log: Arc<dyn StepLog>,
    ) -> Result<(), StepFailure> {
        let work = self.steps.post_load(state, log.clone());
        guard(self.deaths.clone(), log, work).await
    }
}

/// Runs `work` unless a worker is dead already; stops it when a worker dies meanwhile (the
/// caller discards a failed step's state changes). When `work` ends, passed or failed,
/// while a worker is dying, the step fails with that death: it died while the step ran.
async fn guard<T>(
    mut deaths: DeathWatch,
    log: Arc<dyn StepLog>,
    work: impl Future<Output = Result<T, StepFailure>>,
) -> Result<T, StepFailure> {
    if let Some(death) = deaths.first() {
        return Err(died(death, true, None));
    }
    let result = tokio::select! {
        result = work => result,
        death = deaths.died() => {
            log.ended();
            return Err(died(death, false, None));
        }
    };
    log.ended();
    let death = deaths.settle(DEATH_NOTICE_PATIENCE).await;
    match (result, death) {
        (Ok(value), None) => Ok(value),
        (Ok(_), Some(death)) => Err(died(death, false, None)),
        (Err(failure), Some(death)) => Err(died(death, false, Some(failure))),
        (Err(failure), None) => Err(failure),
    }
}

fn died(death: WorkerDeath, before: bool, step_error: Option<StepFailure>) -> StepFailure {
    StepFailure::WorkerDied {
        death,
        before,
        step_error: step_error.map(Box::new),
    }
}
