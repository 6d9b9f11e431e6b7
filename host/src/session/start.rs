//! The state and data a `run` starts from: the saved state (recovered from its journal),
//! the workers' databases of a fresh start, and for a selective run (`--step`, `--from`,
//! `--to`, `--round(s)`) the working copy its steps run on.
//!
//! A selective run never writes the saved resume point. With a saved state (and no
//! `--reset`) it runs on a copy of it and touches no data: nothing is seeded, no `.db`
//! file deleted, post-load does not run. Without one it starts as a fresh run does
//! (seeded, post-load) and still saves nothing, so the next full run starts fresh too.
//! With `--reset` the saved state is removed right before the data is wiped, so that it
//! can never be resumed against data it no longer describes.

use std::path::Path;

use crate::error::UserError;
use crate::plugin::StepInfo;
use crate::report::TerminalReport;
use crate::runner::{ResumePoint, SelectSpec, Selection};
use crate::store::StateFile;
use crate::store::state::RunState;

use super::mongo::TestDb;

/// The saved state to resume from (`None` with `--reset`, which keeps an unreadable state
/// file as `test_state.json.broken`), saying what recovery did.
pub(crate) fn load_state(
    state_file: &StateFile,
    reset: bool,
    report: &TerminalReport,
) -> Result<Option<RunState>, UserError> {
    if reset {
        if let Some(kept) = state_file.set_aside_broken().map_err(UserError::from)? {
            report.warning(&format!(
                "{} could not be read; kept it as {} and starting fresh",
                state_file.path().display(),
                kept.display()
            ));
        }
        return Ok(None);
    }
    let recovered = state_file.recover().map_err(UserError::from)?;
    if let Some(stale) = &recovered.set_aside {
        report.warning(&format!(
            "{} changed after the checkpoint journal was written; resuming from the file as it is, the journal's steps are kept in {}",
            state_file.path().display(),
            stale.display()
        ));
    }
    if recovered.replayed > 0 || recovered.torn_tail {
        report.note(&format!(
            "recovered {} step(s) from the checkpoint journal{}",
            recovered.replayed,
            if recovered.torn_tail {
                " (its last record was cut short: that step runs again)"
            } else {
                ""
            }
        ));
    }
    Ok(recovered.state)
}

/// A fresh run starts from empty worker databases, as the reference's `clear_data` did.
pub(crate) fn remove_databases(data_dir: &Path, report: &TerminalReport) -> Result<(), UserError> {
    let entries = match std::fs::read_dir(data_dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => {
            return Err(UserError::usage(
                format!("cannot read data_dir {}: {e}", data_dir.display()),
                None,
            ));
        }
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|x| x == "db") && path.is_file() {
            std::fs::remove_file(&path).map_err(|e| {
                UserError::usage(format!("cannot delete {}: {e}", path.display()), None)
            })?;
            report.note(&format!("deleted {}", path.display()));
        }
    }
    Ok(())
}

/// Checks `--step`, `--from` and `--to` against the manifest before anything is touched
/// (the rounds are checked once their number is known: [`SelectedStart::selection`]).
pub(crate) fn check_steps(spec: &SelectSpec, manifest: &[StepInfo]) -> Result<(), UserError> {
    let steps_only = SelectSpec {
        rounds: None,
        ..spec.clone()
    };
    steps_only
        .resolve(manifest, 1)
        .map(drop)
        .map_err(UserError::from)
}

/// Where a selective run starts.
pub(crate) struct SelectedStart {
    /// The working copy the steps run on.
    pub state: RunState,
    /// Whether it is a fresh state (seeded; post-load runs first).
    pub fresh: bool,
    /// The event's resume point, saying what the copy is of.
    pub resume: ResumePoint,
    /// The selection, checked.
    pub selection: Selection,
    /// The test's rounds.
    pub max_rounds: u32,
}

/// The saved state as `run` found it.
pub(crate) struct Saved<'a> {
    /// The state to resume from; `None` when there is none or with `--reset`.
    pub state: Option<RunState>,
    /// Its file (removed by a selective `--reset`).
    pub file: &'a StateFile,
    /// `--reset`.
    pub reset: bool,
}

/// Decides a selective run's start: on a copy of `existing` without touching any data,
/// or (no saved state, or `--reset`) a fresh, seeded start; with `--reset` the saved state
/// is removed first, right before seeding (see the module's doc).
pub(crate) async fn start_selected(
    spec: &SelectSpec,
    saved: Saved<'_>,
    manifest: &[StepInfo],
    test_db: &TestDb,
    report: &TerminalReport,
    before_seed: impl AsyncFnOnce() -> Result<(), UserError>,
) -> Result<SelectedStart, UserError> {
    let describe = spec.describe();
    let Saved {
        state: existing,
        file: state_file,
        reset,
    } = saved;
    let (state, fresh, base, options) = match existing {
        Some(state) => {
            let options = test_db.options(false).await?;
            let base = format!(
                "the saved state (round {}{})",
                state.current_round,
                state
                    .last_completed_step
                    .as_ref()
                    .map(|s| format!(" after step {s}"))
                    .unwrap_or_default()
            );
            (state, false, base, options)
        }
        None => {
            // Rounds outside the test are refused before the data is wiped, when their
            // number does not depend on the seeded data.
            if test_db.rounds_are_fixed() {
                let max_rounds = test_db.options(reset).await?.max_rounds;
                spec.resolve(manifest, max_rounds)
                    .map_err(UserError::from)?;
            }
            let remove_saved = async || {
                if reset {
                    remove_saved_state(state_file, report)?;
                }
                before_seed().await
            };
            let (state, _, options) = test_db
                .start(None, manifest, reset, report, remove_saved)
                .await?;
            let why = if reset { "--reset" } else { "no saved state" };
            (state, true, format!("a fresh state ({why})"), options)
        }
    };
    let selection = spec
        .resolve(manifest, options.max_rounds)
        .map_err(UserError::from)?;
    Ok(SelectedStart {
        state,
        fresh,
        resume: ResumePoint::Selected {
            selection: describe,
            base,
        },
        selection,
        max_rounds: options.max_rounds,
    })
}

/// Deletes test_state.json and its journal (a selective `--reset`): the data they
/// described is about to be wiped.
fn remove_saved_state(state_file: &StateFile, report: &TerminalReport) -> Result<(), UserError> {
    for path in [state_file.path().to_path_buf(), state_file.journal_path()] {
        match std::fs::remove_file(&path) {
            Ok(()) => report.note(&format!(
                "--reset: removed {} (the next full run starts fresh)",
                path.display()
            )),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(UserError::usage(
                    format!("cannot remove {}: {e}", path.display()),
                    Some("check the permissions of data_dir".into()),
                ));
            }
        }
    }
    Ok(())
}
