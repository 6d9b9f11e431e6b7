//! Recording and replay at the host-call boundary.
//!
//! Every host call of a step instance goes through one [`Recorder`]: the interface files
//! hand it the call's name, its arguments as JSON and the live future; the recorder runs
//! the future (or, in a replay, answers from the [`Player`] without running it), shows
//! the call to the step log as a [`HostCall`](crate::model::HostCall) and keeps it for the
//! recording. The WASI clocks and randomness the guest is given go through it too
//! ([`clock`]). [`RecordSink`] writes what a run keeps; [`pick_step`] reads one step back
//! (streamed, bounded).

pub mod clock;
pub mod file;
pub mod player;
pub mod recorder;
pub mod show;
pub mod traces;

use std::path::PathBuf;
use std::sync::Arc;

use crate::model::{StepFailure, StepOutcome};
use crate::plugin::steps::StepInfo;

pub use file::{
    FORMAT_VERSION, LISTED_STEPS_MAX, PackageRef, Picked, RECORDING_MAX_BYTES, RecordError,
    RecordSink, Recording, StepRecording, pick_step, read_recording,
};
pub use player::{Divergence, Player};
pub use recorder::{Args, RecordedCall, Recorder, no_args};
pub use show::Shown;

/// Which steps a run writes to its recording (`--record`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RecordMode {
    /// Nothing is kept (calls are still shown to the step log).
    Off,
    /// Only failed steps are written (the default).
    #[default]
    Failed,
    /// Every step is written.
    All,
}

impl std::str::FromStr for RecordMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "off" => Ok(Self::Off),
            "failed" => Ok(Self::Failed),
            "all" => Ok(Self::All),
            other => Err(format!(
                "`{other}` is not a recording mode; use all, failed or off"
            )),
        }
    }
}

/// The most of a step's outcome (its failure message) a recording keeps, as the reports
/// do (`report::sanitize::MESSAGE_MAX_BYTES`).
pub const OUTCOME_MAX_BYTES: usize = 64 * 1024;

/// `outcome` cut at [`OUTCOME_MAX_BYTES`] on a character boundary, with the number of bytes
/// left out after the redactor's cut mark (so a secret cut in half is still masked).
fn bounded_outcome(outcome: &str) -> std::borrow::Cow<'_, str> {
    if outcome.len() <= OUTCOME_MAX_BYTES {
        return std::borrow::Cow::Borrowed(outcome);
    }
    let mut end = OUTCOME_MAX_BYTES;
    while !outcome.is_char_boundary(end) {
        end -= 1;
    }
    std::borrow::Cow::Owned(format!(
        "{}{} [cut: {} more bytes]",
        &outcome[..end],
        crate::cut::CUT_MARK,
        outcome.len() - end
    ))
}

/// Masks secret values in text before it is shown or written. The redactor lives in
/// `report/`, which `plugin/` may not import, so the cli hands its masking function down.
#[derive(Clone, Default)]
pub struct Masker(Option<Arc<MaskFn>>);

/// What masks a text.
type MaskFn = dyn Fn(&str) -> String + Send + Sync;

impl std::fmt::Debug for Masker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "Masker(on)"
        } else {
            "Masker(off)"
        })
    }
}

impl Masker {
    /// Masks with `mask`.
    pub fn new(mask: impl Fn(&str) -> String + Send + Sync + 'static) -> Self {
        Self(Some(Arc::new(mask)))
    }

    /// `text` with every secret masked.
    pub fn text(&self, text: &str) -> String {
        match &self.0 {
            Some(mask) => mask(text),
            None => text.to_string(),
        }
    }

    /// `value` with every string in it (keys included) masked.
    pub fn json(&self, value: &mut serde_json::Value) {
        use serde_json::Value;
        let Some(mask) = &self.0 else { return };
        match value {
            Value::String(s) => *s = mask(s),
            Value::Array(items) => items.iter_mut().for_each(|v| self.json(v)),
            Value::Object(map) => {
                let entries = std::mem::take(map);
                for (k, mut v) in entries {
                    self.json(&mut v);
                    map.insert(mask(&k), v);
                }
            }
            _ => {}
        }
    }
}

/// What a run does with host calls beyond showing them: keep them (to a sink) or answer
/// them from a recording.
#[derive(Debug, Clone, Default)]
pub struct RecordCtx {
    /// Which steps are written.
    pub mode: RecordMode,
    /// Where kept steps go; none writes nothing.
    pub sink: Option<Arc<RecordSink>>,
    /// Masks what is shown and written.
    pub mask: Masker,
    /// In a replay: the recording that answers every call; no live call is made.
    pub player: Option<Arc<Player>>,
}

impl RecordCtx {
    /// Writes `step`'s run (its calls and clock readings taken from `recorder`, the faults
    /// applied before it) when the mode keeps it: `None` when it does not, else where it went or why it could not.
    /// `package` names the package in the recording; it is called only for a step kept.
    pub fn keep(
        &self,
        recorder: &Recorder,
        step: &StepInfo,
        round: u32,
        package: impl FnOnce() -> PackageRef,
        result: &Result<StepOutcome, StepFailure>,
        faults: crate::plugin::FaultNotes,
    ) -> Option<Result<PathBuf, RecordError>> {
        let sink = self.sink.as_ref()?;
        let wanted = match self.mode {
            RecordMode::Off => false,
            RecordMode::Failed => result.is_err(),
            RecordMode::All => true,
        };
        if !wanted || self.player.is_some() {
            return None;
        }
        let outcome = match result {
            Ok(StepOutcome::Done(_)) => "done".to_string(),
            Ok(StepOutcome::Skipped(reason)) => format!("skipped: {reason}"),
            Err(failure) => failure.to_string(),
        };
        Some(sink.write(StepRecording {
            round,
            step: step.name.clone(),
            worker: step.worker.clone(),
            params: step.params.clone(),
            // Made only for a step that is kept: it resolves the package's path on disk.
            package: package(),
            // Cut before masking: a failure message can be any size (a step that fails
            // with 100 MiB), and masking it whole took minutes; replay shows 4 KiB of it.
            outcome: self.mask.text(&bounded_outcome(&outcome)),
            failed: result.is_err(),
            calls: recorder.take_calls(),
            clock: recorder.clock.record(),
            truncated: recorder.truncated(),
            faults: faults.applied.iter().map(|f| self.mask.text(f)).collect(),
            fault_seed: faults.seed,
        }))
    }
}

#[cfg(test)]
mod outcome_tests {
    use super::*;

    #[test]
    fn a_huge_outcome_is_cut_on_a_character_boundary_with_the_bytes_left_out() {
        let short = "failed: no";
        assert_eq!(bounded_outcome(short), short);
        let long = "é".repeat(OUTCOME_MAX_BYTES);
        let cut = bounded_outcome(&long);
        assert!(cut.len() < OUTCOME_MAX_BYTES + 64, "{}", cut.len());
        assert!(cut.ends_with(&format!(
            "… [cut: {} more bytes]",
            long.len() - OUTCOME_MAX_BYTES
        )));
    }
}
