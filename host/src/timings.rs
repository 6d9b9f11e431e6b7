//! Where a run's time goes (`run --timings`, the JSON report's `timings` object): the run
//! split into [`RunPhase`]s, and each step split into [`StepPart`]s.
//!
//! The layers that spend the time measure it: the CLI marks the end of each phase on a
//! [`Timings`] ([`Timings::phase_ended`]), the plugin reports each part of a step through
//! `StepLog::timed`, and the checkpoint's save is timed around it. Reports render the
//! result ([`Timings::snapshot`]); nothing here prints.
//!
//! The phases are disjoint stretches of one clock, so they sum to at most the wall time;
//! a step's parts are disjoint too (host calls are taken out of `prepare` and `execute`),
//! so they sum to at most the step's duration. What is left is the host's own
//! bookkeeping (building the store, parsing the guest's JSON, the recording, events).
//!
//! Recording costs one `Instant::now` per mark and one small record per step: linear in
//! the steps, and bounded by them.
//!
//! A leaf module: it imports nothing of the crate, and every layer may use it.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A stretch of a run, in the order a run goes through them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunPhase {
    /// Reading the configuration, opening the test database, loading (or compiling) the
    /// package and reading its manifest.
    Load,
    /// Every check before data is touched: external workers, ports, programs, data_dir,
    /// report paths, the saved state.
    Preflight,
    /// Emptying and seeding the collections (or checking the required state), the results
    /// journal, the workers' old databases.
    Seeding,
    /// Starting the workers until each one is ready.
    WorkersReady,
    /// The package's `post-load` export (fresh runs only).
    PostLoad,
    /// The rounds and steps, with their checkpoints and round ends.
    Steps,
    /// Stopping the workers and folding the journal into the state file.
    Stop,
    /// Writing the `--junit`, `--json` and `--html` reports.
    Reports,
}

impl RunPhase {
    /// Every phase, in run order.
    pub const ALL: [RunPhase; 8] = [
        RunPhase::Load,
        RunPhase::Preflight,
        RunPhase::Seeding,
        RunPhase::WorkersReady,
        RunPhase::PostLoad,
        RunPhase::Steps,
        RunPhase::Stop,
        RunPhase::Reports,
    ];

    /// The phase's name in the JSON report and the terminal table (`workers_ready`).
    pub fn key(self) -> &'static str {
        match self {
            RunPhase::Load => "load",
            RunPhase::Preflight => "preflight",
            RunPhase::Seeding => "seeding",
            RunPhase::WorkersReady => "workers_ready",
            RunPhase::PostLoad => "post_load",
            RunPhase::Steps => "steps",
            RunPhase::Stop => "stop",
            RunPhase::Reports => "reports",
        }
    }
}

/// A part of one step. The parts are disjoint: `prepare` and `execute` are the time in
/// the guest, their host calls excluded; `host_calls` is the time the host took to answer
/// them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepPart {
    /// Building the step's store and instantiating the component.
    Instantiate,
    /// The `prepare` export (its host calls included when reported; taken out on record).
    Prepare,
    /// The `execute` export (likewise).
    Execute,
    /// One host call (any interface), as the host answered it.
    HostCalls,
    /// Saving the completed step (the journal append and its sync).
    Checkpoint,
}

/// One step's parts. See [`StepPart`] for what each holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StepParts {
    /// [`StepPart::Instantiate`].
    pub instantiate: Duration,
    /// [`StepPart::Prepare`], host calls excluded.
    pub prepare: Duration,
    /// [`StepPart::Execute`], host calls excluded.
    pub execute: Duration,
    /// [`StepPart::HostCalls`], summed.
    pub host_calls: Duration,
    /// [`StepPart::Checkpoint`].
    pub checkpoint: Duration,
}

impl StepParts {
    /// The parts as (JSON key, time), in step order.
    pub fn named(&self) -> [(&'static str, Duration); 5] {
        [
            ("instantiate", self.instantiate),
            ("prepare", self.prepare),
            ("execute", self.execute),
            ("host_calls", self.host_calls),
            ("checkpoint", self.checkpoint),
        ]
    }

    fn add(&mut self, other: &StepParts) {
        self.instantiate += other.instantiate;
        self.prepare += other.prepare;
        self.execute += other.execute;
        self.host_calls += other.host_calls;
        self.checkpoint += other.checkpoint;
    }
}

/// One step's time: its whole duration as the run paid it (from the call into the
/// package to the end of its checkpoint) and its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepTiming {
    /// The round, from 1.
    pub round: u32,
    /// The step's name.
    pub step: String,
    /// From the call into the package to the end of the step's checkpoint (a failed step
    /// has none).
    pub duration: Duration,
    /// Its parts; they sum to at most `duration`.
    pub parts: StepParts,
}

/// Collects a part of a step while it runs: host calls reported during `prepare` or
/// `execute` are taken out of that export's time when it is reported.
#[derive(Debug, Clone, Copy, Default)]
pub struct StepClock {
    parts: StepParts,
    /// Host-call time since the last export was reported.
    pending_calls: Duration,
}

impl StepClock {
    /// Adds `took` to `part`.
    pub fn add(&mut self, part: StepPart, took: Duration) {
        let p = &mut self.parts;
        match part {
            StepPart::Instantiate => p.instantiate += took,
            StepPart::HostCalls => {
                p.host_calls += took;
                self.pending_calls += took;
            }
            StepPart::Prepare | StepPart::Execute => {
                // The export's own time: what its host calls took is already counted.
                let own = took.saturating_sub(self.pending_calls);
                self.pending_calls = Duration::ZERO;
                if part == StepPart::Prepare {
                    p.prepare += own;
                } else {
                    p.execute += own;
                }
            }
            StepPart::Checkpoint => p.checkpoint += took,
        }
    }

    /// The parts so far.
    pub fn parts(&self) -> StepParts {
        self.parts
    }
}

/// The timings of one run, shared by the CLI (phases) and the step wrappers (steps).
#[derive(Debug)]
pub struct Timings {
    started: Instant,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// When the last phase ended (the next one starts there).
    last_mark: Option<Instant>,
    phases: Vec<(RunPhase, Duration)>,
    steps: Vec<StepTiming>,
    round_ends: Duration,
}

impl Timings {
    /// Timings of a run that started at `started` (the first phase starts there).
    pub fn new(started: Instant) -> Self {
        Timings {
            started,
            inner: Mutex::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // Plain data: a panic elsewhere leaves it usable.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `phase` ended now; it started where the previous phase ended (or the run started).
    /// A phase marked twice adds up (a phase split by another's work).
    pub fn phase_ended(&self, phase: RunPhase) {
        let now = Instant::now();
        let mut inner = self.lock();
        let from = inner.last_mark.unwrap_or(self.started);
        inner.last_mark = Some(now);
        let took = now.saturating_duration_since(from);
        match inner.phases.iter_mut().find(|(p, _)| *p == phase) {
            Some((_, total)) => *total += took,
            None => inner.phases.push((phase, took)),
        }
    }

    /// Records one step's time.
    pub fn step(&self, timing: StepTiming) {
        self.lock().steps.push(timing);
    }

    /// Adds `took` to the checkpoint of the last recorded step, if it is `step` of `round`
    /// (its save follows its run).
    pub fn checkpointed(&self, round: u32, step: &str, took: Duration) {
        let mut inner = self.lock();
        if let Some(last) = inner.steps.last_mut()
            && last.round == round
            && last.step == step
        {
            last.parts.checkpoint += took;
            last.duration += took;
        }
    }

    /// A round end (the checkpoint's compaction, when due) took `took`.
    pub fn round_ended(&self, took: Duration) {
        self.lock().round_ends += took;
    }

    /// What was measured until now.
    pub fn snapshot(&self) -> TimingsSnapshot {
        let inner = self.lock();
        let wall = inner
            .last_mark
            .unwrap_or_else(Instant::now)
            .saturating_duration_since(self.started);
        let mut totals = StepParts::default();
        let mut steps_total = Duration::ZERO;
        for s in &inner.steps {
            totals.add(&s.parts);
            steps_total += s.duration;
        }
        TimingsSnapshot {
            wall,
            phases: RunPhase::ALL
                .iter()
                .filter_map(|p| inner.phases.iter().find(|(q, _)| q == p).copied())
                .collect(),
            steps: inner.steps.clone(),
            step_totals: totals,
            steps_total,
            round_ends: inner.round_ends,
        }
    }
}

/// The timings of a run as measured up to a moment: what reports render.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimingsSnapshot {
    /// From the run's start to the end of the last phase marked.
    pub wall: Duration,
    /// The phases marked so far, in run order.
    pub phases: Vec<(RunPhase, Duration)>,
    /// Every step that ran, in run order.
    pub steps: Vec<StepTiming>,
    /// The steps' parts, summed.
    pub step_totals: StepParts,
    /// The steps' durations, summed.
    pub steps_total: Duration,
    /// The round ends (compactions of the checkpoint), summed; part of [`RunPhase::Steps`]
    /// but of no step.
    pub round_ends: Duration,
}

impl TimingsSnapshot {
    /// The time of `phase`, if it was marked.
    pub fn phase(&self, phase: RunPhase) -> Option<Duration> {
        self.phases
            .iter()
            .find(|(p, _)| *p == phase)
            .map(|(_, d)| *d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn host_calls_are_taken_out_of_the_export_they_ran_in() {
        let mut clock = StepClock::default();
        clock.add(StepPart::Instantiate, ms(1));
        clock.add(StepPart::HostCalls, ms(3));
        clock.add(StepPart::Prepare, ms(5));
        clock.add(StepPart::HostCalls, ms(2));
        clock.add(StepPart::HostCalls, ms(2));
        clock.add(StepPart::Execute, ms(10));
        let p = clock.parts();
        assert_eq!(
            (p.instantiate, p.prepare, p.execute, p.host_calls),
            (ms(1), ms(2), ms(6), ms(7))
        );
    }

    #[test]
    fn phases_follow_each_other_and_sum_to_the_wall_time() {
        let t = Timings::new(Instant::now());
        t.phase_ended(RunPhase::Load);
        t.phase_ended(RunPhase::Steps);
        t.phase_ended(RunPhase::Load);
        let s = t.snapshot();
        assert_eq!(
            s.phases.iter().map(|(p, _)| *p).collect::<Vec<_>>(),
            [RunPhase::Load, RunPhase::Steps]
        );
        let sum: Duration = s.phases.iter().map(|(_, d)| *d).sum();
        assert_eq!(sum, s.wall);
    }

    #[test]
    fn a_checkpoint_joins_its_own_step_only() {
        let t = Timings::new(Instant::now());
        t.step(StepTiming {
            round: 1,
            step: "a".into(),
            duration: ms(4),
            parts: StepParts::default(),
        });
        t.checkpointed(1, "b", ms(9));
        t.checkpointed(1, "a", ms(2));
        let s = t.snapshot();
        assert_eq!(s.steps[0].duration, ms(6));
        assert_eq!(s.steps[0].parts.checkpoint, ms(2));
        assert_eq!(s.step_totals.checkpoint, ms(2));
    }
}
