//! [`Faulted`]: the package's steps with the test's `faults:` schedule applied at their
//! boundaries — at a round's start (before its first step), before a step, after a step
//! that completed — each applied fault reported as a [`RunEvent::FaultApplied`].
//!
//! A fault that cannot be applied (the worker is not in the state its action needs, or it
//! did not come back after a `start`) fails the step it is attached to with
//! [`StepFailure::FaultFailed`]: the test did not run the way it was written. Faults are
//! tied to the boundaries a run passes: a run resumed in the middle of a round does not
//! replay the faults of the steps it skips (its workers were started afresh), and a
//! selective run applies those of the steps it runs.

use crate::error::UserFacing as _;
use std::sync::{Arc, Mutex};

use crate::config::FaultScope;
use crate::config::{FaultAction, FaultMoment, FaultSpec};
use crate::plugin::{
    FaultNotes, StepFailure, StepInfo, StepLog, StepLogLayer, StepOutcome, Steps, StepsLayer,
};
use crate::runner::{FaultWhen, RunEvent, RunObserver};
use crate::store::state::RunState;
use crate::workers::{FleetControl, Proxies};

use super::step_faults::RunFaults;

/// Checks the test's `faults:` against the package's steps and the rounds, before
/// anything starts (unknown step: a did-you-mean; `start` of a running worker; a round
/// never reached).
pub(crate) fn check_schedule(
    config: &crate::config::TestConfig,
    manifest: &[StepInfo],
) -> Result<(), super::UserError> {
    let names: Vec<&str> = manifest.iter().map(|s| s.name.as_str()).collect();
    crate::config::check_fault_steps(
        &config.faults,
        &names,
        config.max_rounds,
        &config.config_path,
    )
    .map_err(super::UserError::from)
}

/// The faults in rounds past `max_rounds`, said once the number of rounds is known: when
/// it is counted in `rounds_collection` ([`check_schedule`] refuses them before anything
/// starts when config.yaml's `max_rounds` sets it). One warning line per fault, naming
/// the file and its `faults[i]`: a fault that silently never happens is a test that
/// silently tests less.
pub(crate) fn unreached(faults: &[FaultSpec], max_rounds: u32) -> Vec<String> {
    faults
        .iter()
        .filter(|fault| fault.at.round > max_rounds)
        .map(|fault| {
            let file = match &fault.origin {
                crate::config::FaultOrigin::Config => "config.yaml".to_string(),
                crate::config::FaultOrigin::Plan(path) => path.display().to_string(),
            };
            format!(
                "{file}: faults[{}] is in round {}, which this run never reaches (the test has \
                 {max_rounds} round(s), counted in rounds_collection): it will not be applied",
                fault.index, fault.at.round
            )
        })
        .collect()
}

/// `steps` with `schedule` applied around them.
pub(crate) struct Faulted<'a, S> {
    /// The package's steps.
    pub steps: &'a S,
    /// The test's faults, as checked against the package.
    pub schedule: &'a [FaultSpec],
    /// The fleet's process actions.
    pub control: FleetControl,
    /// The workers' fault proxies, when a network fault is possible.
    pub network: Option<Arc<Proxies>>,
    /// Where the applied faults are reported.
    pub observer: Arc<dyn RunObserver>,
    /// The faults steps apply themselves, when config.yaml grants them.
    pub from_steps: Option<Arc<RunFaults>>,
}

impl<S: Steps + Sync> Faulted<'_, S> {
    /// Applies, in file order, the faults of `round` at `moment`, reporting each (and
    /// noting it in `applied`); the first that fails ends the step.
    async fn apply(
        &self,
        round: u32,
        moment: &FaultMoment,
        step: &str,
        when: FaultWhen,
        applied: &FaultLog,
    ) -> Result<(), StepFailure> {
        for fault in self
            .schedule
            .iter()
            .filter(|f| f.at.round == round && &f.at.moment == moment)
        {
            let done = match &fault.action {
                FaultAction::Process { action, worker } => self
                    .control
                    .apply(*action, worker)
                    .await
                    .map(|change| change.to_string())
                    .map_err(|e| format!("{e}; {}", e.hint().unwrap_or_default())),
                FaultAction::Network(network) => match &self.network {
                    Some(proxies) => proxies.set(network.clone(), fault.lasts).map(|()| {
                        format!(
                            "network {}: {}, {}",
                            network.worker,
                            network.effects(),
                            fault.lasts
                        )
                    }),
                    None => Err(format!(
                        "worker `{}` has no fault proxy in this run",
                        network.worker
                    )),
                },
            };
            match done {
                Ok(text) => {
                    applied.note(format!("{when}: {text}"));
                    self.observer.event(&RunEvent::FaultApplied {
                        round,
                        step: (when != FaultWhen::RoundStart).then(|| step.to_string()),
                        when,
                        worker: fault.action.worker().to_string(),
                        fault: text,
                    });
                }
                Err(error) => {
                    return Err(StepFailure::FaultFailed {
                        fault: fault.describe(),
                        error,
                    });
                }
            }
        }
        Ok(())
    }
}

impl<S> Faulted<'_, S> {
    /// Ends the network faults that last `scope`, reporting each restored link.
    fn expire(&self, round: u32, step: &str, scope: FaultScope) {
        let Some(proxies) = &self.network else {
            return;
        };
        for worker in proxies.expire(scope) {
            self.observer.event(&RunEvent::FaultApplied {
                round,
                step: Some(step.to_string()),
                when: FaultWhen::Ended,
                fault: format!("network {worker}: restored"),
                worker,
            });
        }
    }
}

impl<S: Steps + Sync> StepsLayer for Faulted<'_, S> {
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
        if let Some(from_steps) = &self.from_steps {
            from_steps.entering(round, &step.name);
        }
        let log = Arc::new(FaultLog {
            inner: log,
            applied: Mutex::default(),
            seed: self.network.as_ref().map(|p| p.seed()),
        });
        let first = self
            .manifest()
            .first()
            .is_some_and(|first| first.name == step.name);
        if first {
            // A new round: what lasted until the last one's end is over.
            self.expire(round, &step.name, FaultScope::Round);
            self.apply(
                round,
                &FaultMoment::RoundStart,
                &step.name,
                FaultWhen::RoundStart,
                &log,
            )
            .await?;
        }
        self.apply(
            round,
            &FaultMoment::Before(step.name.clone()),
            &step.name,
            FaultWhen::Before,
            &log,
        )
        .await?;
        let outcome = self.steps.run_step(step, state, log.clone()).await;
        // The faults after the step are not the step's time.
        StepLog::ended(&*log);
        self.expire(round, &step.name, FaultScope::Step);
        let outcome = outcome?;
        self.apply(
            round,
            &FaultMoment::After(step.name.clone()),
            &step.name,
            FaultWhen::After,
            &log,
        )
        .await?;
        Ok(outcome)
    }
}

/// The step's log, keeping the faults applied before it for its recording.
struct FaultLog {
    inner: Arc<dyn StepLog>,
    applied: Mutex<Vec<String>>,
    /// The run's seed, when it has fault proxies.
    seed: Option<u64>,
}

impl FaultLog {
    fn note(&self, fault: String) {
        self.applied
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(fault);
    }
}

impl StepLogLayer for FaultLog {
    fn inner(&self) -> &dyn StepLog {
        &*self.inner
    }

    fn faults(&self) -> FaultNotes {
        let mut notes = self.inner.faults();
        notes.seed = notes.seed.or(self.seed);
        notes.applied.extend(
            self.applied
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .cloned(),
        );
        notes
    }
}
