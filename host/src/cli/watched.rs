//! [`Watched`]: the package's steps, failed when a worker of the run dies.
//!
//! A worker that exits on its own during the run breaks the system under test. The step
//! running at that moment fails with a [`StepFailure::WorkerDied`] that names the worker,
//! its exit status and its last output lines — not with whatever the step saw ("connection
//! refused", a timeout), which is only a consequence. A death between two steps fails the
//! next step before it starts. Either way the run ends as failed (exit 1) at that step,
//! with the usual summary and reports, and the saved state resumes at that step.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crate::plugin::{StepFailure, StepInfo, StepLog, StepOutcome, Steps};
use crate::store::state::RunState;
use crate::workers::{DeathWatch, WorkerDeath};

/// After a step failed, how long to wait for news that a worker died. The step often
/// notices first (its connection is refused the moment the worker is gone), while the
/// supervisor reports the death once the exit is reaped and the last output lines are
/// read (at most 100 ms later). Waited only when a step failed, so passing runs never pay.
const DEATH_NOTICE_WINDOW: Duration = Duration::from_millis(500);

/// `steps`, failing the step during (or before) which a worker died.
pub(super) struct Watched<'a, S> {
    /// The package's steps.
    pub steps: &'a S,
    /// News of the run's workers.
    pub deaths: DeathWatch,
}

impl<S: Steps + Sync> Steps for Watched<'_, S> {
    fn manifest(&self) -> &[StepInfo] {
        self.steps.manifest()
    }

    async fn run_step(
        &self,
        step: &StepInfo,
        state: &mut RunState,
        log: Arc<dyn StepLog>,
    ) -> Result<StepOutcome, StepFailure> {
        guard(self.deaths.clone(), self.steps.run_step(step, state, log)).await
    }

    async fn post_load(
        &self,
        state: &mut RunState,
        log: Arc<dyn StepLog>,
    ) -> Result<(), StepFailure> {
        guard(self.deaths.clone(), self.steps.post_load(state, log)).await
    }
}

/// Runs `work` unless a worker is dead already; stops it when a worker dies meanwhile (the
/// caller discards a failed step's state changes).
async fn guard<T>(
    mut deaths: DeathWatch,
    work: impl Future<Output = Result<T, StepFailure>>,
) -> Result<T, StepFailure> {
    if let Some(death) = deaths.first() {
        return Err(died(death, true, None));
    }
    let result = tokio::select! {
        result = work => result,
        death = deaths.died() => return Err(died(death, false, None)),
    };
    match result {
        Ok(value) => match deaths.first() {
            Some(death) => Err(died(death, false, None)),
            None => Ok(value),
        },
        Err(failure) => match deaths.died_within(DEATH_NOTICE_WINDOW).await {
            Some(death) => Err(died(death, false, Some(failure))),
            None => Err(failure),
        },
    }
}

fn died(death: WorkerDeath, before: bool, step_error: Option<StepFailure>) -> StepFailure {
    StepFailure::WorkerDied {
        death,
        before,
        step_error: step_error.map(Box::new),
    }
}
