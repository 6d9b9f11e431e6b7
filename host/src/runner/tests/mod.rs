//! Runner tests: a scripted [`Steps`] fake (done, skip, err, trap), an in-memory
//! [`Checkpoint`] that records every saved state, and an observer recording events.

mod plan_tests;
mod resume_tests;
mod run_tests;
mod select_tests;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::json;

use super::*;
use crate::model::{LogLevel, Phase, StepFailure, StepOutcome};
use crate::plugin::{StepInfo, StepLog, Steps};
use crate::store::{Checkpoint, RunState, Scope, StateError};

/// The steps most tests run.
const ABC: &[&str] = &["a", "b", "c"];

/// What a scripted step does.
#[derive(Debug, Clone)]
enum Action {
    Done,
    Skip(&'static str),
    Err(&'static str),
    /// Fails like `Err`, after telling the log the step was written to a recording.
    ErrRecorded(&'static str),
    Trap(&'static str),
}

/// Steps named in `names`, each doing [`Action::Done`] unless scripted otherwise for a
/// round. Every call logs a line, sets `<step>` = round in the round scope and bumps the
/// global `calls`, so the tests can see which writes were kept.
struct FakeSteps {
    manifest: Vec<StepInfo>,
    script: HashMap<(u32, String), Action>,
    post_load: Option<Action>,
    /// (round as seen in the state, step) per call, in order.
    calls: Mutex<Vec<(u32, String)>>,
}

impl FakeSteps {
    fn new(names: &[&str]) -> Self {
        let manifest = names
            .iter()
            .map(|name| StepInfo {
                name: (*name).to_owned(),
                description: format!("does {name}"),
                worker: "worker1".to_owned(),
                params: json!({}),
            })
            .collect();
        FakeSteps {
            manifest,
            script: HashMap::new(),
            post_load: None,
            calls: Mutex::new(Vec::new()),
        }
    }

    fn with(mut self, round: u32, step: &str, action: Action) -> Self {
        self.script.insert((round, step.to_owned()), action);
        self
    }

    fn calls(&self) -> Vec<(u32, String)> {
        self.calls.lock().unwrap().clone()
    }
}

fn act(action: &Action, phase: Phase) -> Result<(), StepFailure> {
    match action {
        Action::Err(message) | Action::ErrRecorded(message) => Err(StepFailure::Failed {
            phase,
            message: (*message).to_owned(),
        }),
        Action::Trap(message) => Err(StepFailure::Trapped {
            phase,
            message: (*message).to_owned(),
            backtrace: None,
        }),
        Action::Done | Action::Skip(_) => Ok(()),
    }
}

impl Steps for FakeSteps {
    fn manifest(&self) -> &[StepInfo] {
        &self.manifest
    }

    async fn run_step(
        &self,
        step: &StepInfo,
        state: &mut RunState,
        log: Arc<dyn StepLog>,
    ) -> Result<StepOutcome, StepFailure> {
        let round = state.current_round;
        self.calls.lock().unwrap().push((round, step.name.clone()));
        log.line(LogLevel::Info, &format!("running {}", step.name));
        // Written before the outcome is known: a failed step's writes must be dropped.
        state.set(&step.name, json!(round), Scope::Round).unwrap();
        let calls = state.get("calls").and_then(|v| v.as_u64()).unwrap_or(0);
        state.set("calls", json!(calls + 1), Scope::Global).unwrap();
        tokio::task::yield_now().await;
        let action = self.script.get(&(round, step.name.clone()));
        let action = action.cloned().unwrap_or(Action::Done);
        if let Action::ErrRecorded(_) = action {
            log.recorded(std::path::Path::new("/data/recording.jsonl"));
        }
        act(&action, Phase::Execute)?;
        Ok(match action {
            Action::Skip(reason) => StepOutcome::Skipped(reason.to_owned()),
            _ => StepOutcome::Done(json!({"step": step.name})),
        })
    }

    async fn post_load(
        &self,
        state: &mut RunState,
        log: Arc<dyn StepLog>,
    ) -> Result<(), StepFailure> {
        log.line(LogLevel::Debug, "post-load ran");
        state
            .set("post_loaded", json!(true), Scope::Global)
            .unwrap();
        act(
            self.post_load.as_ref().unwrap_or(&Action::Done),
            Phase::PostLoad,
        )
    }
}

/// Records every saved state; fails the save numbered `fail_at` (0-based) when set.
#[derive(Default)]
struct MemoryCheckpoint {
    saved: Vec<RunState>,
    fail_at: Option<usize>,
}

impl MemoryCheckpoint {
    fn last(&self) -> &RunState {
        self.saved.last().expect("something was saved")
    }
}

impl Checkpoint for MemoryCheckpoint {
    fn save(&mut self, state: &RunState) -> Result<(), StateError> {
        if self.fail_at == Some(self.saved.len()) {
            return Err(StateError::Write {
                path: "/data/test_state.json".into(),
                source: std::io::Error::other("disk full"),
            });
        }
        self.saved.push(state.clone());
        Ok(())
    }
}

#[derive(Default)]
struct Recorder(Mutex<Vec<RunEvent>>);

impl RunObserver for Recorder {
    fn event(&self, event: &RunEvent) {
        self.0.lock().unwrap().push(event.clone());
    }
}

impl Recorder {
    fn events(&self) -> Vec<RunEvent> {
        self.0.lock().unwrap().clone()
    }
}

fn options(max_rounds: u32) -> RunOptions {
    RunOptions {
        max_rounds,
        reset: false,
    }
}

/// What one invocation did.
struct Outcome {
    resume: ResumePoint,
    summary: RunSummary,
    events: Vec<RunEvent>,
}

/// plan_start + run, as the CLI does (without post-load).
async fn invoke(
    steps: &FakeSteps,
    checkpoint: &mut MemoryCheckpoint,
    existing: Option<RunState>,
    options: &RunOptions,
) -> Outcome {
    let (state, resume) = plan_start(existing, steps.manifest(), options).expect("plan");
    let recorder = Arc::new(Recorder::default());
    let summary = run(
        steps,
        checkpoint,
        state,
        resume.clone(),
        options,
        recorder.clone(),
    )
    .await
    .expect("run");
    Outcome {
        resume,
        summary,
        events: recorder.events(),
    }
}

fn calls(list: &[(u32, &str)]) -> Vec<(u32, String)> {
    list.iter().map(|(r, s)| (*r, (*s).to_owned())).collect()
}

fn state_at(round: u32, last: Option<&str>) -> RunState {
    RunState {
        current_round: round,
        last_completed_step: last.map(str::to_owned),
        ..RunState::default()
    }
}
