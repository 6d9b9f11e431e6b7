//! `run --timings`: the package's steps and the checkpoint, wrapped so that each step's
//! parts (reported by the plugin through [`StepLog::timed`]) and its save land in the run's
//! [`Timings`]. The phases are marked by `run.rs` itself.
//!
//! Always on: a step costs a few clock reads and one small record more, and the JSON report
//! carries the timings whether or not the terminal shows them.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::plugin::{StepFailure, StepInfo, StepLog, StepLogLayer, StepOutcome, Steps, StepsLayer};
use crate::store::state::{ChangedKey, RunState};
use crate::store::{Checkpoint, StateError};
use crate::timings::{StepClock, StepPart, StepTiming, Timings};

/// `steps`, each run's time and parts recorded in `timings`.
pub(crate) struct TimedSteps<'a, S> {
    /// The package's steps.
    pub steps: &'a S,
    /// Where the steps' times go.
    pub timings: &'a Timings,
}

impl<S: Steps + Sync> StepsLayer for TimedSteps<'_, S> {
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
        let round = state.current_round;
        let timed = Arc::new(TimingLog {
            inner: log,
            clock: Mutex::default(),
        });
        let started = Instant::now();
        let result = self.steps.run_step(step, state, timed.clone()).await;
        let duration = started.elapsed();
        self.timings.step(StepTiming {
            round,
            step: step.name.clone(),
            duration,
            parts: timed.clock().parts(),
        });
        result
    }
}

/// A step's log that also keeps the step's parts.
struct TimingLog {
    inner: Arc<dyn StepLog>,
    clock: Mutex<StepClock>,
}

impl TimingLog {
    fn clock(&self) -> std::sync::MutexGuard<'_, StepClock> {
        // Plain data: a panic elsewhere leaves it usable.
        self.clock.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl StepLogLayer for TimingLog {
    fn inner(&self) -> &dyn StepLog {
        &*self.inner
    }

    fn timed(&self, part: StepPart, took: Duration) {
        self.clock().add(part, took);
        self.inner.timed(part, took);
    }
}

/// `inner`, each step's save and each round end timed into `timings`.
pub(crate) struct TimedCheckpoint<'a, C> {
    /// The real checkpoint.
    pub inner: C,
    /// Where the saves' times go.
    pub timings: &'a Timings,
}

impl<C: Checkpoint> Checkpoint for TimedCheckpoint<'_, C> {
    fn save(&mut self, state: &RunState) -> Result<(), StateError> {
        self.inner.save(state)
    }

    fn save_step(
        &mut self,
        state: &RunState,
        round: u32,
        step: &str,
        changes: &[ChangedKey],
    ) -> Result<(), StateError> {
        let started = Instant::now();
        let saved = self.inner.save_step(state, round, step, changes);
        self.timings.checkpointed(round, step, started.elapsed());
        saved
    }

    fn round_finished(&mut self, state: &RunState, last: bool) -> Result<(), StateError> {
        let started = Instant::now();
        let done = self.inner.round_finished(state, last);
        self.timings.round_ended(started.elapsed());
        done
    }
}
