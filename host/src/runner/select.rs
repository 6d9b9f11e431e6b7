//! Selective runs (`--step`, `--from`, `--to`, `--round`, `--rounds`): [`SelectSpec`] is
//! what the user asked for, [`SelectSpec::resolve`] checks it against the manifest and the
//! number of rounds, and [`run_selected`] runs the chosen steps of the chosen rounds.
//!
//! A selective run works on a copy of the state it is given and saves nothing: the saved
//! resume point is never moved by running part of a test (the cli decides what state to
//! start from; see docs/ci.md, "Selecting steps and rounds"). Steps that are not selected
//! are not run and contribute nothing to the copy.

use std::ops::RangeInclusive;
use std::sync::Arc;
use std::time::Instant;

use globset::{Glob, GlobMatcher};

use crate::config::closest;
use crate::error::UserFacing;
use crate::plugin::{StepInfo, Steps};
use crate::store::RunState;

use super::error::plural_rounds;
use super::run::{attempt, record_failure, record_finished};
use super::{ResumePoint, RunEvent, RunObserver, RunSummary};

/// What the user asked to run; empty means the whole test.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SelectSpec {
    /// Glob patterns on step names (`--step`, repeatable); a step runs when one matches.
    /// Empty: every step.
    pub patterns: Vec<String>,
    /// The first step of the range (`--from`), by exact name.
    pub from: Option<String>,
    /// The last step of the range (`--to`), by exact name.
    pub to: Option<String>,
    /// The rounds (`--round N` is `N..=N`, `--rounds A..B` is `A..=B`). `None`: every
    /// round.
    pub rounds: Option<RangeInclusive<u32>>,
}

/// A checked selection: which steps of the manifest, in which rounds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    /// Indices into the manifest, in manifest order.
    pub steps: Vec<usize>,
    /// The rounds, within the test's.
    pub rounds: RangeInclusive<u32>,
}

/// Why a selection cannot run. Every message names the flag and the value given.
#[derive(Debug, thiserror::Error)]
pub enum SelectError {
    /// `--from` or `--to` names no step.
    #[error("{flag} {step}: no step of that name{}; the steps are: {}", suggest(suggestion), steps.join(", "))]
    UnknownStep {
        /// `--from` or `--to`.
        flag: &'static str,
        /// The name given.
        step: String,
        /// A near name, if any.
        suggestion: Option<String>,
        /// The manifest's step names.
        steps: Vec<String>,
    },
    /// A `--step` pattern matches no step.
    #[error("--step {pattern}: matches no step{}; the steps are: {}", suggest(suggestion), steps.join(", "))]
    NoMatch {
        /// The pattern given.
        pattern: String,
        /// A near name, if any.
        suggestion: Option<String>,
        /// The manifest's step names.
        steps: Vec<String>,
    },
    /// A `--step` pattern is not a valid glob.
    #[error("--step {pattern}: not a valid glob pattern: {message}")]
    BadPattern {
        /// The pattern given.
        pattern: String,
        /// What the glob parser said.
        message: String,
    },
    /// `--from` names a step after `--to`'s.
    #[error("--from {from} comes after --to {to} in the manifest: the range is empty")]
    FromAfterTo {
        /// `--from`'s step.
        from: String,
        /// `--to`'s step.
        to: String,
    },
    /// Every flag matched something, but together they leave nothing.
    #[error("the selection ({selection}) leaves no step to run")]
    Empty {
        /// The flags, as given.
        selection: String,
    },
    /// A selected round is 0 or past the test's last.
    #[error("{flag}: round {round} is not a round of this test, which has {}", plural_rounds(*max_rounds))]
    RoundOutOfRange {
        /// `--round N` or `--rounds A..B`, as given.
        flag: String,
        /// The first round outside the test.
        round: u32,
        /// The test's number of rounds.
        max_rounds: u32,
    },
}

fn suggest(suggestion: &Option<String>) -> String {
    suggestion
        .as_ref()
        .map(|s| format!(" (did you mean {s}?)"))
        .unwrap_or_default()
}

impl UserFacing for SelectError {
    fn hint(&self) -> Option<String> {
        Some(match self {
            SelectError::UnknownStep { .. } | SelectError::NoMatch { .. } => {
                "`prometheus-wasm list PACKAGE` prints the steps; patterns use *, ? and [..]".into()
            }
            SelectError::BadPattern { .. } => {
                "quote the pattern for the shell, e.g. --step 'submit-*'".into()
            }
            SelectError::FromAfterTo { .. } => "swap --from and --to".into(),
            SelectError::Empty { .. } => {
                "--step patterns and the --from/--to range must overlap".into()
            }
            SelectError::RoundOutOfRange { .. } => {
                "rounds count from 1 up to max_rounds of config.yaml".into()
            }
        })
    }
}

impl SelectSpec {
    /// Whether nothing was selected: the whole test runs, as usual.
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
            && self.from.is_none()
            && self.to.is_none()
            && self.rounds.is_none()
    }

    /// The flags as a user typed them, for the run's header and errors.
    pub fn describe(&self) -> String {
        let mut parts: Vec<String> = self
            .patterns
            .iter()
            .map(|p| format!("--step {p}"))
            .collect();
        if let Some(from) = &self.from {
            parts.push(format!("--from {from}"));
        }
        if let Some(to) = &self.to {
            parts.push(format!("--to {to}"));
        }
        if let Some(rounds) = &self.rounds {
            parts.push(rounds_flag(rounds));
        }
        parts.join(" ")
    }

    /// Checks the selection against `manifest` and the test's `max_rounds`.
    pub fn resolve(
        &self,
        manifest: &[StepInfo],
        max_rounds: u32,
    ) -> Result<Selection, SelectError> {
        let names: Vec<&str> = manifest.iter().map(|s| s.name.as_str()).collect();
        let all = || names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
        let index_of = |flag: &'static str, step: &str| {
            names
                .iter()
                .position(|n| *n == step)
                .ok_or_else(|| SelectError::UnknownStep {
                    flag,
                    step: step.to_owned(),
                    suggestion: closest(step, &names).map(str::to_owned),
                    steps: all(),
                })
        };
        let first = self
            .from
            .as_deref()
            .map(|s| index_of("--from", s))
            .transpose()?;
        let last = self
            .to
            .as_deref()
            .map(|s| index_of("--to", s))
            .transpose()?;
        if let (Some(f), Some(t)) = (first, last)
            && f > t
        {
            return Err(SelectError::FromAfterTo {
                from: names[f].to_owned(),
                to: names[t].to_owned(),
            });
        }
        let matchers = self
            .patterns
            .iter()
            .map(|p| matcher(p, &names, all()))
            .collect::<Result<Vec<_>, _>>()?;
        let range = first.unwrap_or(0)..=last.unwrap_or(names.len().saturating_sub(1));
        let steps: Vec<usize> = (0..names.len())
            .filter(|i| range.contains(i))
            .filter(|i| matchers.is_empty() || matchers.iter().any(|m| m.is_match(names[*i])))
            .collect();
        if steps.is_empty() {
            return Err(SelectError::Empty {
                selection: self.describe(),
            });
        }
        let rounds = self.rounds.clone().unwrap_or(1..=max_rounds);
        for round in [*rounds.start(), *rounds.end()] {
            if round == 0 || round > max_rounds {
                return Err(SelectError::RoundOutOfRange {
                    flag: rounds_flag(&rounds),
                    round,
                    max_rounds,
                });
            }
        }
        Ok(Selection { steps, rounds })
    }
}

/// `--round N` or `--rounds A..B`.
fn rounds_flag(rounds: &RangeInclusive<u32>) -> String {
    if rounds.start() == rounds.end() {
        format!("--round {}", rounds.start())
    } else {
        format!("--rounds {}..{}", rounds.start(), rounds.end())
    }
}

/// A glob of `--step` that matches at least one step.
fn matcher(pattern: &str, names: &[&str], all: Vec<String>) -> Result<GlobMatcher, SelectError> {
    let glob = Glob::new(pattern).map_err(|e| SelectError::BadPattern {
        pattern: pattern.to_owned(),
        message: e.kind().to_string(),
    })?;
    let m = glob.compile_matcher();
    if names.iter().any(|n| m.is_match(n)) {
        return Ok(m);
    }
    Err(SelectError::NoMatch {
        pattern: pattern.to_owned(),
        suggestion: closest(pattern, names).map(str::to_owned),
        steps: all,
    })
}

/// Runs the selected steps of the selected rounds on `state` (a working copy: nothing is
/// saved), in manifest order, stopping at the first failure. `max_rounds` is the test's,
/// for the round banners; `resume` (a [`ResumePoint::Selected`]) goes into
/// [`RunEvent::RunStarted`]. Events are those of [`run`](super::run()), without a
/// checkpoint.
pub async fn run_selected<S: Steps>(
    steps: &S,
    mut state: RunState,
    selection: &Selection,
    max_rounds: u32,
    resume: ResumePoint,
    observer: Arc<dyn RunObserver>,
) -> RunSummary {
    let started = Instant::now();
    let manifest = steps.manifest();
    observer.event(&RunEvent::RunStarted {
        max_rounds,
        steps: selection.steps.len(),
        resume,
    });
    let mut summary = RunSummary::new();
    for round in selection.rounds.clone() {
        observer.event(&RunEvent::RoundStarted { round, max_rounds });
        summary.rounds_run.push(round);
        for &index in &selection.steps {
            let step = &manifest[index];
            let (result, duration) = attempt(steps, index, round, &mut state, &observer).await;
            match result {
                Err(failure) => {
                    record_failure(&mut summary, round, step, failure, duration, started);
                    return summary;
                }
                Ok(outcome) => {
                    state.last_completed_step = Some(step.name.clone());
                    record_finished(&mut summary, &*observer, round, step, outcome, duration);
                }
            }
        }
        observer.event(&RunEvent::RoundFinished { round });
    }
    summary.total_duration = started.elapsed();
    summary
}
