//! `check`: everything a run does before it starts a worker — the same preparation
//! ([`prepare`](super::prepare)), so a check passes exactly when the run would start — with
//! the resolved plan rendered, starting nothing and writing nothing.
//!
//! Checked: config.yaml (with `--set`), workers.json, the environment, keypairs, data
//! files, the network grant, then the plan file or step package: every package loaded
//! (pins checked, compiled, its manifest read), the capability lock compared (never
//! written), each step's worker, the selection, the workers' ports, programs and
//! directories, data_dir and the report paths (created by a run, only judged here), the
//! step names and rounds.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::check::{Plan, render};
use crate::config::{MIN_SECRET_LEN, Secrets, TestConfig};
use crate::error::UserError;
use crate::plugin::http::HttpCtx;
use crate::plugin::{Budgets, Plan as StepPlan, Steps};
use crate::report::sanitize::{bounded_line, bounded_text};

use super::prepare::{Inputs, Mode, Options, ReportPaths, check_start, inputs, prepare};
use super::settings::Settings;
use super::signals::{Stop, StopSignals, install_signals};
use super::source::{self as plan_source, FOLDER_ENTRIES, LockPolicy, Source};

/// What `check` was pointed at: config.yaml, and the plan or package if there is one.
struct Target {
    config: PathBuf,
    source: Option<Source>,
    /// Why there is no source: the files looked for.
    missing: Option<String>,
}

/// Resolves what [`Settings::steps`] names: a test folder (config.yaml with plan.yaml or
/// steps.wasm, or without either yet), config.yaml itself, a plan or a step package.
fn target(args: &Settings) -> Result<Target, UserError> {
    let path = args.steps.clone();
    let is_config = path.file_name().is_some_and(|n| n == "config.yaml") && path.is_file();
    let folder = if is_config {
        Some(path.parent().unwrap_or(Path::new("")).to_path_buf())
    } else if path.is_dir() {
        Some(path.clone())
    } else {
        None
    };
    let (source, missing) = match &folder {
        // A folder with config.yaml but no package yet is checked as far as it goes.
        Some(dir) => {
            let found = FOLDER_ENTRIES
                .iter()
                .map(|f| dir.join(f))
                .find(|p| p.is_file());
            match found {
                Some(p) => (Some(Source::read(&p)?), None),
                None if dir.join("config.yaml").is_file() => (
                    None,
                    Some(
                        FOLDER_ENTRIES
                            .iter()
                            .map(|f| dir.join(f).display().to_string())
                            .collect::<Vec<_>>()
                            .join(", "),
                    ),
                ),
                None => {
                    plan_source::in_folder(dir)?;
                    unreachable!("in_folder refuses a folder without the entries")
                }
            }
        }
        None => (Some(Source::read(&path)?), None),
    };
    let config = match (&args.config, &source, &folder) {
        (Some(c), _, _) => c.clone(),
        (None, _, Some(_)) if is_config => path.clone(),
        (None, Some(source), _) => source.default_config(),
        (None, None, Some(dir)) => dir.join("config.yaml"),
        (None, None, None) => unreachable!("a path that is not a folder is a source"),
    };
    Ok(Target {
        config,
        source,
        missing,
    })
}

/// The variables treated as secret, by name and reason; never a value.
fn render_secrets(secrets: &Secrets) -> String {
    let mut out = String::new();
    if secrets.variables.is_empty() {
        out.push_str("secrets: none (nothing to mask besides keypairs)\n");
    } else {
        out.push_str("secrets (masked in every output and report):\n");
    }
    // One line per variable with all its reasons (they come sorted by name, then reason).
    for same in secrets.variables.chunk_by(|a, b| a.name == b.name) {
        let short = if same.iter().any(|v| v.is_masked()) {
            String::new()
        } else {
            format!("; shorter than {MIN_SECRET_LEN} characters: not masked")
        };
        let reasons: Vec<String> = same.iter().map(|v| v.reason.to_string()).collect();
        out.push_str(&format!(
            "  {} ({}{short})\n",
            bounded_line(&same[0].name),
            bounded_line(&reasons.join("; "))
        ));
    }
    for name in &secrets.unknown {
        out.push_str(&format!(
            "warning: --secret {name}: no variable {name} in the environment, the .env files or a worker's env\n",
            name = bounded_line(name)
        ));
    }
    out
}

/// The steps of the loaded plan, one per line, with where each comes from and its params.
fn render_steps(plan: &StepPlan) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "resolved steps ({} per round):", plan.manifest().len());
    for (index, step) in plan.manifest().iter().enumerate() {
        // Names, paths and params come from manifests and plans: one line each.
        let _ = write!(
            out,
            "  {}. {} @ {}",
            index + 1,
            bounded_line(&step.name),
            bounded_line(&step.worker)
        );
        if let Some((package, _)) = plan.target(index) {
            let _ = write!(out, " ({})", bounded_line(&package.display().to_string()));
        }
        out.push('\n');
        if step.params.as_object().is_some_and(|p| !p.is_empty()) {
            let _ = writeln!(
                out,
                "     params: {}",
                bounded_line(&step.params.to_string())
            );
        }
    }
    out
}

/// Prepares the run as `run` does before it starts a worker, and renders what was found;
/// `Err` of the inner result is the exit code of a signal that stopped the loading. Writes
/// nothing (not even the lock).
async fn check_steps(
    args: &Settings,
    source: &Source,
    config: &TestConfig,
) -> Result<Result<String, Stop>, UserError> {
    let notes = std::sync::Mutex::new(Vec::<String>::new());
    let note = |line: &str| {
        notes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(line.into())
    };
    let resolver =
        plan_source::resolver(args.cache.dir.clone(), args.offline, args.registry.clone())?;
    let options = Options {
        budgets: super::run::budgets(args, config),
        cache: plan_source::code_cache(args.cache.dir.clone(), args.cache.disabled, None),
        resolver: &resolver,
        lock: args
            .lock
            .unwrap_or_else(|| LockPolicy::from_flags(false, false)),
        reports: reports(args),
        select: &args.select,
        mode: Mode::Check,
    };
    // Loading runs each package's manifest: under the budgets, stopped by a signal.
    let mut signals = if args.signals {
        install_signals()?
    } else {
        StopSignals::none()
    };
    let prepared = match signals.until(prepare(source, config, options, &note)).await {
        Ok(prepared) => prepared?,
        Err(stop) => return Ok(Err(stop)),
    };
    let mut out = notes
        .into_inner()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .map(|note| bounded_text(note))
        .collect::<Vec<_>>()
        .join("\n");
    out.push('\n');
    out.push_str(&render_steps(&prepared.plan));
    if let Some(lock) = &prepared.lock {
        for line in lock.describe() {
            out.push_str(&bounded_line(&line));
            out.push('\n');
        }
    }
    Ok(Ok(out))
}

/// Validates the test folder and renders the plan (names and public keys only; secret
/// values are masked). `Ok(Err(stop))`: a signal stopped the loading.
pub(crate) async fn check(args: &Settings) -> Result<Result<String, Stop>, UserError> {
    let target = target(args)?;
    // The same moves a run makes, so the ports checked are the ones it would take.
    let isolation = match args.isolated {
        true => Some(super::isolation::Isolation::new(
            &target.config,
            &args.sets,
        )?),
        false => None,
    };
    let sets: Vec<String> = args
        .sets
        .iter()
        .cloned()
        .chain(isolation.iter().flat_map(super::isolation::Isolation::sets))
        .collect();
    let Inputs {
        config,
        keys,
        secrets,
        redactor,
    } = inputs(
        &target.config,
        match &target.source {
            Some(Source::Plan(file)) => Some(file),
            _ => None,
        },
        &sets,
        &args.secrets,
        None,
    )?;
    let http = HttpCtx::from_config(&config, &Budgets::default())
        .map_err(|e| UserError::from(e).redacted(&redactor))?;
    let plan = Plan::build(&config, &keys, http.policy())
        .map_err(|e| UserError::usage(e, None).redacted(&redactor))?;
    let steps = match &target.source {
        Some(source) => match check_steps(args, source, &config)
            .await
            .map_err(|e| e.redacted(&redactor))?
        {
            Ok(text) => Some(text),
            Err(stop) => return Ok(Err(stop)),
        },
        // No steps yet: what refuses a start whatever the steps is still checked.
        None => {
            check_start(&config, &reports(args), Mode::Check).map_err(|e| e.redacted(&redactor))?;
            None
        }
    };
    let mut text = String::new();
    for set in &args.sets {
        let _ = writeln!(text, "override: --set {}", bounded_line(set));
    }
    text.push_str(&render(&plan));
    match (&steps, &target.missing) {
        (Some(steps), _) => text.push_str(steps),
        (None, Some(looked)) => {
            let _ = writeln!(
                text,
                "steps: no plan or step package (looked for {looked}); `run` needs one"
            );
        }
        (None, None) => {}
    }
    text.push_str(&render_secrets(&secrets));
    // Built here from bounded parts (config, manifest): scrubbed whole, not cut.
    Ok(Ok(redactor.scrub_document(&text)))
}

/// The report paths, as `run` checks them.
fn reports(args: &Settings) -> ReportPaths<'_> {
    [
        ("--junit", args.junit.as_deref()),
        ("--json", args.json.as_deref()),
        ("--html", args.html.as_deref()),
    ]
}
