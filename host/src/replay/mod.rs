//! Replay of one recorded step: the step re-run without workers, a database or a network,
//! every host call answered from the recording (`plugin::record`). A call that differs
//! from the recording stops the step; [`Verdict`] says how it ended and shows the
//! divergence beside the recorded call. `prometheus-wasm replay` is this, printed.
//!
//! The recording is hostile input (docs/security.md): it is streamed, only the chosen step
//! is held, every text taken from it is cut and escaped before it reaches a message, and
//! it never chooses compiled code — the package's bytes are found by their sha256 and
//! loaded like `run` loads a package.
//!
//! ```no_run
//! # async fn demo() -> Result<(), prometheus_wasm::error::UserError> {
//! use prometheus_wasm::replay::{Replay, Verdict};
//!
//! let replay = Replay::open(Replay::request("tests/data/recording.jsonl")).await?;
//! let verdict = replay.run(std::sync::Arc::new(prometheus_wasm::replay::Quiet)).await;
//! assert!(verdict.passed(), "{}", verdict.headline());
//! # Ok(())
//! # }
//! ```

mod package;
pub(crate) mod text;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use crate::error::UserError;
use crate::fetch::sha256_hex;
use crate::plugin::record::{Divergence, Player, StepRecording, pick_step};
use crate::plugin::{
    Budgets, CodeCache, LogLevel, Package, RecordCtx, RecordMode, RunCtx, StepEngine, StepInfo,
    StepLog, StepOutcome, Steps,
};
use crate::store::RunState;

use package::{Found, find_package};
use text::{MESSAGE_MAX_BYTES, NAME_MAX_BYTES, bounded_line, bounded_text, first_line};

/// What to replay: the recording, which step of it, which build of the package, under
/// which budgets.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Request {
    /// The recording (`recording.jsonl` of a run's data_dir, or a CI artifact).
    pub recording: PathBuf,
    /// The step; `None`: the recording's failed step, else its last.
    pub step: Option<String>,
    /// The round of that step; `None`: the last recorded.
    pub round: Option<u32>,
    /// Another build of the package (a fix) instead of the recorded one.
    pub package: Option<PathBuf>,
    /// The budgets the step runs under (config.yaml is not read).
    pub budgets: Budgets,
}

/// A recorded step ready to replay: its package loaded with no grant but the recording.
pub struct Replay {
    recorded: StepRecording,
    player: Arc<Player>,
    package: Package,
    step: StepInfo,
    package_path: String,
    recording: PathBuf,
}

impl Replay {
    /// The request for `recording`'s failed (else last) step, the recorded package and the
    /// default budgets.
    pub fn request(recording: impl Into<PathBuf>) -> Request {
        Request {
            recording: recording.into(),
            step: None,
            round: None,
            package: None,
            budgets: Budgets::default(),
        }
    }

    /// Reads the chosen step of the recording (everything about it checked before any
    /// guest code runs), finds and loads the package, and grants it nothing but the
    /// recording: no worker, no database, an HTTP policy that refuses everything.
    pub async fn open(request: Request) -> Result<Self, UserError> {
        let picked = pick_step(&request.recording, request.step.as_deref(), request.round)
            .map_err(|e| UserError::usage(bounded_line(&e.to_string(), MESSAGE_MAX_BYTES), None))?;
        let mut recorded = picked.step;
        let budgets = request.budgets;
        let engine =
            Arc::new(StepEngine::for_budgets(&budgets).map_err(|e| UserError::usage(e, None))?);
        let cache = CodeCache::default_dir().map(CodeCache::new);
        // The recording names a package; its bytes are found here and loaded like `run`
        // loads a package file. Compiled code is never chosen by the recording.
        let found = find_package(
            &picked.path,
            &recorded,
            request.package.as_deref(),
            cache.as_ref(),
            engine.engine(),
        )?;
        let (package, package_path) = match found {
            Found::File { path, pin } => {
                Package::load_pinned(engine, &path, cache.as_ref(), pin.as_deref(), &budgets)
                    .await
                    .map(|p| (p, path.display().to_string()))
            }
            Found::Bytes { bytes, named } => {
                let sha256 = sha256_hex(&bytes);
                Package::from_bytes(
                    engine,
                    Path::new(&named),
                    bytes.into(),
                    sha256,
                    cache.as_ref(),
                    &budgets,
                    Instant::now(),
                )
                .await
                .map(|p| (p, named))
            }
        }
        .map_err(UserError::from)?;
        let Some(step) = package
            .manifest()
            .iter()
            .find(|s| s.name == recorded.step)
            .cloned()
        else {
            return Err(UserError::usage(
                format!(
                    "package {} has no step `{}` (the recorded step)",
                    bounded_line(&package_path, MESSAGE_MAX_BYTES),
                    bounded_line(&recorded.step, NAME_MAX_BYTES)
                ),
                Some("replay a build of the package that still has the step".into()),
            ));
        };
        // The recorded parameters, not the new manifest's: the recording's calls follow them.
        let step = StepInfo {
            params: recorded.params.clone(),
            worker: recorded.worker.clone(),
            ..step
        };
        // The calls move into the player: one copy of the step is held.
        let calls = std::mem::take(&mut recorded.calls);
        let player = Arc::new(Player::from_parts(
            calls,
            recorded.clock.clone(),
            recorded.truncated,
        ));
        // The player answers every call; nothing live is ever polled.
        let run = RunCtx {
            budgets,
            record: RecordCtx {
                mode: RecordMode::Off,
                player: Some(player.clone()),
                ..RecordCtx::default()
            },
            ..RunCtx::empty()
        };
        Ok(Self {
            recorded,
            player,
            package: package.with_run(run),
            step,
            package_path,
            recording: request.recording,
        })
    }

    /// One line naming what is replayed: the step, round and worker, the recording, the
    /// number of recorded calls and the package (escaped and cut).
    pub fn describe(&self) -> String {
        format!(
            "replaying {} (round {}, worker {}) from {}: {} recorded call(s), package {}",
            bounded_line(&self.recorded.step, NAME_MAX_BYTES),
            self.recorded.round,
            bounded_line(&self.recorded.worker, NAME_MAX_BYTES),
            bounded_line(&self.recording.display().to_string(), MESSAGE_MAX_BYTES),
            self.player.len(),
            bounded_line(&self.package_path, MESSAGE_MAX_BYTES),
        )
    }

    /// The recorded outcome's first line (escaped and cut).
    pub fn recorded_outcome(&self) -> String {
        first_line(&self.recorded.outcome)
    }

    /// The faults the step was recorded under (as the run noted them) and the seed of the
    /// network faults' decisions: the recorded answers carry their effect already, nothing
    /// is applied again.
    pub fn recorded_faults(&self) -> (&[String], Option<u64>) {
        (&self.recorded.faults, self.recorded.fault_seed)
    }

    /// Runs the step once against the recording; `log` receives its lines and host calls.
    pub async fn run(self, log: Arc<dyn StepLog>) -> Verdict {
        let mut state = RunState {
            current_round: self.recorded.round,
            ..RunState::default()
        };
        let result = self.package.run_step(&self.step, &mut state, log).await;
        Verdict::of(&self.recorded, &self.player, result)
    }
}

/// How a replay ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The step ended (passed or skipped) with every call matching.
    Passed {
        /// The step's name (escaped and cut).
        step: String,
        /// `passed`, or `skipped: REASON`.
        what: String,
        /// `N of M recorded call(s) matched`.
        matched: String,
        /// The recorded run's failure, when it failed (the fix works).
        recorded_failure: Option<String>,
    },
    /// Every recorded call matched; then the step made one more the recorded run did not
    /// (a recording cut at its size cap, or a step that now goes further).
    PastTheEnd {
        /// The step's name.
        step: String,
        /// `N of M recorded call(s) matched`.
        matched: String,
        /// The call past the end.
        call: String,
    },
    /// A call differed from the recorded one.
    Diverged {
        /// The step's name.
        step: String,
        /// One line saying which call differed.
        headline: String,
        /// The recorded and the replayed call side by side (escaped and cut).
        diff: String,
    },
    /// The step failed with every call matching.
    Failed {
        /// The step's name.
        step: String,
        /// `N of M recorded call(s) matched`.
        matched: String,
        /// Whether it is the failure the recording has.
        same_as_recorded: bool,
        /// The failure (escaped and cut).
        failure: String,
    },
}

impl Verdict {
    fn of(
        recorded: &StepRecording,
        player: &Player,
        result: Result<StepOutcome, crate::plugin::StepFailure>,
    ) -> Self {
        let matched = format!(
            "{} of {} recorded call(s) matched",
            player.answered(),
            player.len()
        );
        let step = bounded_line(&recorded.step, NAME_MAX_BYTES);
        if let Some(divergence) = player.divergence() {
            return Self::diverged(step, matched, recorded, &divergence);
        }
        match result {
            Ok(outcome) => Verdict::Passed {
                step,
                what: match outcome {
                    StepOutcome::Done(_) => "passed".to_string(),
                    StepOutcome::Skipped(reason) => {
                        format!("skipped: {}", bounded_line(&reason, MESSAGE_MAX_BYTES))
                    }
                },
                matched,
                recorded_failure: recorded.failed.then(|| first_line(&recorded.outcome)),
            },
            Err(failure) => {
                let text = failure.to_string();
                Verdict::Failed {
                    step,
                    matched,
                    same_as_recorded: text == recorded.outcome,
                    failure: bounded_text(&text, MESSAGE_MAX_BYTES),
                }
            }
        }
    }

    fn diverged(
        step: String,
        matched: String,
        recorded: &StepRecording,
        divergence: &Divergence,
    ) -> Self {
        if divergence.past_the_end() {
            return Verdict::PastTheEnd {
                step,
                matched,
                call: bounded_line(&divergence.headline(recorded.truncated), MESSAGE_MAX_BYTES),
            };
        }
        let mut diff = bounded_text(&divergence.to_string(), MESSAGE_MAX_BYTES);
        if !diff.ends_with('\n') {
            diff.push('\n');
        }
        Verdict::Diverged {
            step,
            headline: bounded_line(&divergence.headline(false), MESSAGE_MAX_BYTES),
            diff,
        }
    }

    /// Whether the replay passed: the step ended well, or got past the end of the
    /// recording with every call matching.
    pub fn passed(&self) -> bool {
        matches!(self, Verdict::Passed { .. } | Verdict::PastTheEnd { .. })
    }

    /// The verdict's line, as `replay` prints it (`✓ step: passed (…)`, `✗ step: …`).
    pub fn headline(&self) -> String {
        match self {
            Verdict::Passed {
                step,
                what,
                matched,
                recorded_failure,
            } => {
                let was = recorded_failure
                    .as_ref()
                    .map(|f| format!(" (the recorded run failed: {f})"))
                    .unwrap_or_default();
                format!("✓ {step}: {what} ({matched}){was}")
            }
            Verdict::PastTheEnd {
                step,
                matched,
                call,
            } => format!(
                "✓ {step}: passed up to the end of the recording ({matched}); then it made a call the recorded run did not: {call}"
            ),
            Verdict::Diverged { step, headline, .. } => format!("✗ {step}: {headline}"),
            Verdict::Failed {
                step,
                matched,
                same_as_recorded,
                failure,
            } => {
                let same = if *same_as_recorded {
                    "the same failure as recorded"
                } else {
                    "recorded run ended otherwise"
                };
                format!("✗ {step} failed ({matched}; {same}): {failure}")
            }
        }
    }
}

/// A step log that drops everything: the [`Verdict`] alone says how the replay ended.
pub struct Quiet;

impl StepLog for Quiet {
    fn line(&self, _: LogLevel, _: &str) {}
}
