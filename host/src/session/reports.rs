//! The report files of `run`: the results journal opened beside the state file, the
//! observer feeding both the terminal and the report collector, the package's identity,
//! and the `--junit`, `--json` and `--html` files (their paths checked before anything
//! starts, written when the run ends).

use std::collections::HashSet;
use std::sync::Arc;

use super::settings::Settings;
use crate::error::UserError;
use crate::plugin::{Plan, Steps};
use crate::report::history::RESULTS_FILE_NAME;
use crate::report::model::Selection;
use crate::report::{Outline, PackageId, Redactor, ReportCollector, TerminalReport};
use crate::runner::{RunEvent, RunObserver};
use crate::session::source::Source;
use crate::store::StateFile;
use crate::timings::Timings;

use super::run::Start;

/// Sends every run event to the terminal and to the report collector.
pub(crate) struct Tee(pub Arc<TerminalReport>, pub Arc<ReportCollector>);

impl RunObserver for Tee {
    fn event(&self, event: &RunEvent) {
        self.0.event(event);
        self.1.event(event);
    }
}

/// Opens the results journal beside the state file: a new one for a fresh run, the
/// existing one for a resumed run, so the reports cover every invocation of the run.
pub(crate) fn start_collector(
    state_file: &StateFile,
    package: &Plan,
    start: &Start,
    redactor: &Redactor,
    report: &TerminalReport,
) -> Result<ReportCollector, UserError> {
    let steps: Vec<(String, String)> = package
        .manifest()
        .iter()
        .map(|s| (s.name.clone(), s.worker.clone()))
        .collect();
    let (max_rounds, resume, selection) = match start {
        Start::Full(_, resume, options) => (options.max_rounds, resume, None),
        Start::Selected(s) => {
            let rounds = s.selection.rounds.clone();
            let names: HashSet<String> = s
                .selection
                .steps
                .iter()
                .filter_map(|&i| steps.get(i).map(|(name, _)| name.clone()))
                .collect();
            let selected: Selection =
                Arc::new(move |round, step| rounds.contains(&round) && names.contains(step));
            (s.max_rounds, &s.resume, Some(selected))
        }
    };
    let outline = Outline {
        max_rounds,
        steps,
        selection,
    };
    // A selective run leaves the saved run alone, its results journal included: its
    // reports cover its own steps.
    if outline.selection.is_some() {
        let (collector, _) = ReportCollector::start(None, outline, resume, redactor.clone())
            .map_err(|e| UserError::usage(e, None))?;
        return Ok(collector);
    }
    let journal = state_file.path().with_file_name(RESULTS_FILE_NAME);
    let (collector, started) =
        ReportCollector::start(Some(&journal), outline, resume, redactor.clone())
            .map_err(|e| UserError::usage(e, None))?;
    if started.history_missing {
        report.warning(&format!(
            "no results journal ({}) for the run being resumed: the reports cover this invocation's steps only",
            journal.display()
        ));
    }
    if started.torn_tail {
        report.note(
            "the results journal's last record was cut short by a crash; that step runs again",
        );
    }
    Ok(collector)
}

/// The package as the reports name it: the file (package or plan) and the sha256 of its
/// bytes, and for a single package the name and version its component metadata declares
/// (the reports then show `name@version`). A plan's packages are named in its steps'
/// origins; the plan itself has no version.
pub(crate) fn package_identity(source: &Source, plan: &Plan) -> PackageId {
    use sha2::Digest;
    let path = source.path();
    let sha256 = std::fs::read(path)
        .map(|bytes| {
            sha2::Sha256::digest(&bytes)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect()
        })
        .unwrap_or_default();
    let declared = match source {
        Source::Package(_) => plan.packages().next().map(|(_, p)| p.identity().clone()),
        Source::Plan(_) => None,
    }
    .unwrap_or_default();
    PackageId {
        name: declared.name,
        version: declared.version,
        file: path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        ),
        sha256,
    }
}

/// Writes the `--junit`, `--json` and `--html` reports of the whole run, if asked for.
pub(crate) fn write_reports(
    args: &Settings,
    collector: &ReportCollector,
    package: &PackageId,
    redactor: &Redactor,
    timings: &Timings,
) -> Result<(), UserError> {
    let fail = |e: crate::report::ReportError| UserError::usage(e, None);
    collector.with_report(package, |run| {
        if let Some(path) = &args.junit {
            crate::report::junit::write(path, run, redactor).map_err(fail)?;
        }
        if let Some(path) = &args.json {
            crate::report::json::write(path, run, Some(&timings.snapshot()), redactor)
                .map_err(fail)?;
        }
        if let Some(path) = &args.html {
            crate::report::html::write(path, run, redactor).map_err(fail)?;
        }
        Ok(())
    })
}
