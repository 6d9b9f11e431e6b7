//! The seam between the runner and a loaded step package: plain values and one trait.
//!
//! The runner drives any [`Steps`] implementation; the real one runs WebAssembly
//! components ([`crate::plugin::Package`]), tests use scripted fakes. Nothing here names a
//! wasmtime type.

use std::future::Future;
use std::sync::Arc;

use serde_json::Value;

use crate::model::{HostCall, LogLevel, StepFailure, StepOutcome};
use crate::store::state::RunState;

/// One step as a package's manifest declares it (the WIT `step-info`).
#[derive(Debug, Clone, PartialEq)]
pub struct StepInfo {
    /// Unique name in the package; recorded as `last_completed_step`.
    pub name: String,
    /// One line for the step banner.
    pub description: String,
    /// The workers.json key of the worker the step runs against.
    pub worker: String,
    /// Parameters passed to `prepare` and `execute` (a JSON object).
    pub params: Value,
}

/// Receives what a step writes while it runs (log lines, captured stdout/stderr), as it
/// happens, so the terminal can show it under the step's banner.
///
/// A log that wraps another implements [`StepLogLayer`] instead, so that every hook reaches
/// the wrapped log unless the layer changes it. A hook added here is added to
/// [`StepLogLayer`] and its blanket impl too: that is the one place that forwards.
pub trait StepLog: Send + Sync {
    /// One line written by the step.
    fn line(&self, level: LogLevel, message: &str);

    /// One host call the step made, after it returned. Most receivers ignore calls.
    fn call(&self, call: &HostCall) {
        let _ = call;
    }

    /// The step was written to the run's recording at `path` (a failed step, or every
    /// step with `--record all`), before the step's end is reported.
    fn recorded(&self, path: &std::path::Path) {
        let _ = path;
    }

    /// The step's own work ended now: what a wrapper does after it (waiting for news of a
    /// worker that died meanwhile) is not the step's time. The step's reported duration
    /// ends at the first call; without one, when `run_step` returns.
    fn ended(&self) {}

    /// A part of the step took `took` (`run --timings`): the store and instantiation,
    /// each export, each host call. Most receivers ignore it.
    fn timed(&self, part: crate::timings::StepPart, took: std::time::Duration) {
        let _ = (part, took);
    }

    /// The faults applied on purpose before this step and the seed of the network
    /// faults' decisions, for its recording: a replay shows under which faults the
    /// recorded answers were given.
    fn faults(&self) -> FaultNotes {
        FaultNotes::default()
    }
}

/// A [`StepLog`] around another ([`inner`](StepLogLayer::inner)): each hook goes on to the
/// inner log unless the layer overrides it. Wrappers (timings, faults) override the one
/// hook they add to and cannot forget to forward the others.
pub trait StepLogLayer: Send + Sync {
    /// The wrapped log.
    fn inner(&self) -> &dyn StepLog;

    /// [`StepLog::line`].
    fn line(&self, level: LogLevel, message: &str) {
        self.inner().line(level, message);
    }

    /// [`StepLog::call`].
    fn call(&self, call: &HostCall) {
        self.inner().call(call);
    }

    /// [`StepLog::recorded`].
    fn recorded(&self, path: &std::path::Path) {
        self.inner().recorded(path);
    }

    /// [`StepLog::ended`].
    fn ended(&self) {
        self.inner().ended();
    }

    /// [`StepLog::timed`].
    fn timed(&self, part: crate::timings::StepPart, took: std::time::Duration) {
        self.inner().timed(part, took);
    }

    /// [`StepLog::faults`].
    fn faults(&self) -> FaultNotes {
        self.inner().faults()
    }
}

impl<L: StepLogLayer> StepLog for L {
    fn line(&self, level: LogLevel, message: &str) {
        StepLogLayer::line(self, level, message);
    }
    fn call(&self, call: &HostCall) {
        StepLogLayer::call(self, call);
    }
    fn recorded(&self, path: &std::path::Path) {
        StepLogLayer::recorded(self, path);
    }
    fn ended(&self) {
        StepLogLayer::ended(self);
    }
    fn timed(&self, part: crate::timings::StepPart, took: std::time::Duration) {
        StepLogLayer::timed(self, part, took);
    }
    fn faults(&self) -> FaultNotes {
        StepLogLayer::faults(self)
    }
}

/// What a step's recording keeps about the faults of its run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FaultNotes {
    /// The seed of the run's network fault decisions, when the run has fault proxies.
    pub seed: Option<u64>,
    /// The faults applied before the step, in order: `before x: killed worker1 (pid 123)`.
    pub applied: Vec<String>,
}

/// A loaded step package, ready to run steps.
pub trait Steps {
    /// The package's steps in round order.
    fn manifest(&self) -> &[StepInfo];

    /// Runs `step`: `prepare`, then `execute` with its result, in one fresh instance.
    ///
    /// `state` is the run state as of the last completed step, with `current_round` set;
    /// the guest's `state.set` calls change it in place. The caller discards those changes
    /// when the step fails.
    fn run_step(
        &self,
        step: &StepInfo,
        state: &mut RunState,
        log: Arc<dyn StepLog>,
    ) -> impl Future<Output = Result<StepOutcome, StepFailure>> + Send;

    /// Runs the package's `post-load` export once, after a fresh start.
    fn post_load(
        &self,
        state: &mut RunState,
        log: Arc<dyn StepLog>,
    ) -> impl Future<Output = Result<(), StepFailure>> + Send;
}

/// [`Steps`] around other steps ([`inner`](StepsLayer::inner)): the manifest is always the
/// inner one, and `run_step` and `post_load` go on to the inner steps unless the layer
/// overrides them. The run's wrappers (faults, timings, the worker-death watch) override
/// what they add to and cannot forget to forward the rest.
pub trait StepsLayer: Sync {
    /// The wrapped steps.
    type Inner: Steps + Sync;

    /// The wrapped steps.
    fn inner(&self) -> &Self::Inner;

    /// [`Steps::run_step`].
    fn run_step(
        &self,
        step: &StepInfo,
        state: &mut RunState,
        log: Arc<dyn StepLog>,
    ) -> impl Future<Output = Result<StepOutcome, StepFailure>> + Send {
        self.inner().run_step(step, state, log)
    }

    /// [`Steps::post_load`].
    fn post_load(
        &self,
        state: &mut RunState,
        log: Arc<dyn StepLog>,
    ) -> impl Future<Output = Result<(), StepFailure>> + Send {
        self.inner().post_load(state, log)
    }
}

impl<L: StepsLayer> Steps for L {
    fn manifest(&self) -> &[StepInfo] {
        self.inner().manifest()
    }

    fn run_step(
        &self,
        step: &StepInfo,
        state: &mut RunState,
        log: Arc<dyn StepLog>,
    ) -> impl Future<Output = Result<StepOutcome, StepFailure>> + Send {
        StepsLayer::run_step(self, step, state, log)
    }

    fn post_load(
        &self,
        state: &mut RunState,
        log: Arc<dyn StepLog>,
    ) -> impl Future<Output = Result<(), StepFailure>> + Send {
        StepsLayer::post_load(self, state, log)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::time::Duration;

    use super::*;
    use crate::model::CallKind;
    use crate::timings::StepPart;

    /// Names each hook it receives.
    #[derive(Default)]
    struct Heard(Mutex<Vec<&'static str>>);

    impl Heard {
        fn heard(&self, hook: &'static str) {
            self.0.lock().expect("lock").push(hook);
        }
    }

    impl StepLog for Heard {
        fn line(&self, _: LogLevel, _: &str) {
            self.heard("line");
        }
        fn call(&self, _: &HostCall) {
            self.heard("call");
        }
        fn recorded(&self, _: &std::path::Path) {
            self.heard("recorded");
        }
        fn ended(&self) {
            self.heard("ended");
        }
        fn timed(&self, _: StepPart, _: Duration) {
            self.heard("timed");
        }
        fn faults(&self) -> FaultNotes {
            self.heard("faults");
            FaultNotes::default()
        }
    }

    /// A layer that overrides nothing.
    struct Pass(Heard);

    impl StepLogLayer for Pass {
        fn inner(&self) -> &dyn StepLog {
            &self.0
        }
    }

    #[test]
    fn a_layer_forwards_every_hook_it_does_not_override() {
        let layer = Pass(Heard::default());
        let log: &dyn StepLog = &layer;
        log.line(LogLevel::Info, "x");
        log.call(&HostCall {
            kind: CallKind::Http,
            summary: String::new(),
            request: String::new(),
            response: String::new(),
            failed: false,
            duration: Duration::ZERO,
        });
        log.recorded(std::path::Path::new("r"));
        log.ended();
        log.timed(StepPart::Execute, Duration::ZERO);
        let _ = log.faults();
        assert_eq!(
            *layer.0.0.lock().expect("lock"),
            ["line", "call", "recorded", "ended", "timed", "faults"]
        );
    }

    /// Steps that name each call they receive.
    struct Answering {
        manifest: Vec<StepInfo>,
        heard: Heard,
    }

    impl Steps for Answering {
        fn manifest(&self) -> &[StepInfo] {
            &self.manifest
        }

        async fn run_step(
            &self,
            step: &StepInfo,
            _: &mut RunState,
            _: Arc<dyn StepLog>,
        ) -> Result<StepOutcome, StepFailure> {
            self.heard.heard("run_step");
            Ok(StepOutcome::Done(Value::String(step.name.clone())))
        }

        async fn post_load(
            &self,
            _: &mut RunState,
            _: Arc<dyn StepLog>,
        ) -> Result<(), StepFailure> {
            self.heard.heard("post_load");
            Ok(())
        }
    }

    /// A steps layer that overrides nothing.
    struct PassSteps(Answering);

    impl StepsLayer for PassSteps {
        type Inner = Answering;

        fn inner(&self) -> &Answering {
            &self.0
        }
    }

    #[tokio::test]
    async fn a_steps_layer_forwards_what_it_does_not_override() {
        let step = StepInfo {
            name: "s1".into(),
            description: String::new(),
            worker: "worker1".into(),
            params: Value::Null,
        };
        let layer = PassSteps(Answering {
            manifest: vec![step.clone()],
            heard: Heard::default(),
        });
        let log: Arc<dyn StepLog> = Arc::new(Heard::default());
        let mut state = RunState::default();
        assert_eq!(Steps::manifest(&layer)[0].name, "s1");
        let outcome = Steps::run_step(&layer, &step, &mut state, log.clone()).await;
        assert!(matches!(outcome, Ok(StepOutcome::Done(Value::String(s))) if s == "s1"));
        Steps::post_load(&layer, &mut state, log)
            .await
            .expect("post-load");
        assert_eq!(
            *layer.0.heard.0.lock().expect("lock"),
            ["run_step", "post_load"]
        );
    }
}
