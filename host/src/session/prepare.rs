//! The preparation `run` does before it starts anything, and the whole of `check`: one
//! function both call, so that `check` says ok exactly when `run` would start.
//!
//! In order: the inputs ([`inputs`]: config.yaml with `--set`, the keypairs, the secrets),
//! then [`prepare`]: every package loaded (pins checked, compiled, manifests read), the
//! capability lock compared, the network and budget grants, every step's worker, the
//! `--step`/`--from`/`--to` selection, the workers' preflight (ports, programs,
//! directories), data_dir, the report paths, the step names and rounds. `run` then goes on
//! (database, external workers, seeding, the fleet); `check` prints what was found.
//!
//! Nothing here starts a process or touches the test's data. [`Mode::Check`] writes
//! nothing at all: where `run` creates data_dir and the reports' folders, `check` asks
//! whether they could be created and refuses with the error the creation would give.
//!
//! Not here: what needs the database or the network (the data's required state, the
//! rounds counted in `rounds_collection`, external workers' readiness), which `run` checks
//! once it has them. Start from [`prepare`].

use std::path::{Path, PathBuf};

use nix::unistd::{AccessFlags, access};

use crate::config::{PlanFile, Secrets, TestConfig};
use crate::error::UserError;
use crate::fetch::Resolver;
use crate::koii::Keyring;
use crate::plugin::{Budgets, CodeCache, Plan, RunCtx, Steps};
use crate::report::Redactor;
use crate::runner::{RunOptions, SelectSpec, plan_start};
use crate::session::source::{self as plan_source, LockPolicy, PendingLock, Source};
use crate::workers::LaunchSpec;

/// The test's configuration and what it makes secret.
pub(crate) struct Inputs {
    /// config.yaml with the overrides applied, workers.json and the `.env` layers.
    pub config: TestConfig,
    /// The workers' keypairs, read and checked.
    pub keys: Keyring,
    /// The variables whose values are masked.
    pub secrets: Secrets,
    /// Masks the secrets and the keypairs' private halves in every output.
    pub redactor: Redactor,
}

/// Reads config.yaml at `config_path` with the `--set` overrides, the keypairs, and the
/// secrets (`--secret` names, a `--mongo-uri` password). A plan's `faults:` join
/// config.yaml's here ([`add_plan_faults`]), before anything reads the schedule.
pub(crate) fn inputs(
    config_path: &Path,
    plan: Option<&PlanFile>,
    sets: &[String],
    secret_names: &[String],
    mongo_uri: Option<&str>,
) -> Result<Inputs, UserError> {
    let mut config = load_config(config_path, sets)?;
    if let Some(plan) = plan {
        add_plan_faults(&mut config, plan)?;
    }
    // Keypairs are read and checked before anything starts; their private halves join
    // the secrets the report masks.
    let keys = Keyring::load(&config).map_err(UserError::from)?;
    let mut secrets = config.secrets(secret_names);
    if let Some(uri) = mongo_uri {
        secrets.add_uri("--mongo-uri", uri);
    }
    let redactor = Redactor::new(secrets.values().into_iter().chain(keys.secret_values()));
    Ok(Inputs {
        config,
        keys,
        secrets,
        redactor,
    })
}

/// config.yaml at `path` with the process environment and the `--set KEY=VALUE` overrides
/// `sets`: what `run` and `check` read.
pub(crate) fn load_config(
    path: &std::path::Path,
    sets: &[String],
) -> Result<crate::config::TestConfig, UserError> {
    let overrides = sets
        .iter()
        .map(|text| crate::config::Override::parse(text))
        .collect::<Result<Vec<_>, _>>()
        .map_err(UserError::from)?;
    let process_env: std::collections::BTreeMap<String, String> = std::env::vars().collect();
    crate::config::load_with(path, &process_env, &overrides).map_err(UserError::from)
}

/// Appends the plan's `faults:` to config.yaml's, after checking that they name local
/// workers of workers.json (the errors name the plan and its `faults[i]`). Appended, not
/// replacing: a plan and the config it reads may each declare faults, and dropping either
/// silently would be a fault that never happens. Their step names are the plan's, checked
/// with config.yaml's by [`prepare`]. Each file's count is capped at `MAX_FAULTS`, so the
/// schedule stays bounded.
fn add_plan_faults(config: &mut TestConfig, plan: &PlanFile) -> Result<(), UserError> {
    crate::config::check_fault_workers(&plan.faults, &config.workers, plan.faults_at, &plan.path)
        .map_err(UserError::from)?;
    config.faults.extend(plan.faults.iter().cloned());
    Ok(())
}

/// Who prepares: `run` creates what it needs (data_dir, the reports' folders); `check`
/// writes nothing and asks whether they could be created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Create data_dir and the reports' folders.
    Run,
    /// Create nothing; refuse where the creation would fail.
    Check,
}

/// The report files a run writes at its end, by flag (`--junit`, `--json`, `--html`).
pub(crate) type ReportPaths<'a> = [(&'static str, Option<&'a Path>); 3];

/// What the preparation is told by the command line.
pub(crate) struct Options<'a> {
    /// The per-call budgets the packages load and run under.
    pub budgets: Budgets,
    /// The compiled-code cache, if any.
    pub cache: Option<CodeCache>,
    /// Fetches url:/oci: packages.
    pub resolver: &'a Resolver,
    /// How the lock meets a package that asks for more.
    pub lock: LockPolicy,
    /// Where the reports go.
    pub reports: ReportPaths<'a>,
    /// `--step`, `--from`, `--to`, `--round(s)` (empty: the whole test).
    pub select: &'a SelectSpec,
    /// Whether to create data_dir and the reports' folders.
    pub mode: Mode,
}

/// A run that can start: its plan, the lock to write once it starts, the grants, and the
/// workers to launch.
pub(crate) struct Prepared {
    /// The loaded packages and the resolved steps.
    pub plan: Plan,
    /// What the lock becomes (a plan only); written by `run`, described by `check`.
    pub lock: Option<PendingLock>,
    /// The network and budget grants of config.yaml (keys, database and recording are
    /// `run`'s to add).
    pub grants: RunCtx,
    /// The local workers, preflighted.
    pub specs: Vec<LaunchSpec>,
}

/// Everything `run` refuses before it starts a worker or touches the test's data (see the
/// module doc). `note` receives one progress line per package loaded.
pub(crate) async fn prepare(
    source: &Source,
    config: &TestConfig,
    options: Options<'_>,
    note: &dyn Fn(&str),
) -> Result<Prepared, UserError> {
    let plan = plan_source::load(
        source,
        options.cache.as_ref(),
        &options.budgets,
        options.resolver,
        note,
    )
    .await?;
    let lock = match source {
        Source::Plan(file) => Some(plan_source::check_lock(file, &plan, options.lock)?),
        Source::Package(_) => None,
    };
    let grants = RunCtx::from_config(config, options.budgets).map_err(UserError::from)?;
    plan_source::check_workers(&plan, config)?;
    super::faulted::check_schedule(config, plan.manifest())?;
    if !options.select.is_empty() {
        super::start::check_steps(options.select, plan.manifest())?;
    }
    let specs = check_start(config, &options.reports, options.mode)?;
    // The step names and a `max_rounds` of 0, as the runner will refuse them (a count of
    // `rounds_collection` is checked once counted).
    let provisional = RunOptions {
        max_rounds: config.max_rounds.unwrap_or(1),
        reset: true,
    };
    plan_start(None, plan.manifest(), &provisional).map_err(UserError::from)?;
    Ok(Prepared {
        plan,
        lock,
        grants,
        specs,
    })
}

/// What refuses a start whatever the steps: the workers (ports, programs, directories),
/// data_dir (their databases live there) and the report files. Returns the local workers
/// to launch. `check` of a folder without steps yet checks this much.
pub(crate) fn check_start(
    config: &TestConfig,
    reports: &ReportPaths<'_>,
    mode: Mode,
) -> Result<Vec<LaunchSpec>, UserError> {
    let specs = super::workers::launch_specs(config);
    crate::workers::preflight(&specs).map_err(UserError::from)?;
    make_dir(&config.data_dir, mode).map_err(|e| {
        UserError::usage(
            format!("cannot create data_dir {}: {e}", config.data_dir.display()),
            Some("check data_dir in config.yaml and the permissions of its parent".into()),
        )
    })?;
    check_report_paths(reports, mode)?;
    Ok(specs)
}

/// `--junit`, `--json` and `--html` are written after the run: a report that cannot be
/// written would lose the run's result, so its directory is made now in [`Mode::Run`] (as
/// `mkdir -p` would, like pytest's `--junitxml`), and a path that cannot hold a file is
/// refused before anything starts.
fn check_report_paths(reports: &ReportPaths<'_>, mode: Mode) -> Result<(), UserError> {
    for (flag, path) in reports {
        let Some(path) = path else { continue };
        let parent = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let refused = |why: String| {
            UserError::usage(
                format!(
                    "cannot write the {flag} report to {}: {why}",
                    path.display()
                ),
                Some(format!(
                    "pass a file path whose directory ({}) exists or can be created",
                    parent.display()
                )),
            )
        };
        if path.is_dir() {
            return Err(refused("it is a directory".into()));
        }
        make_dir(parent, mode).map_err(|e| refused(e.to_string()))?;
    }
    Ok(())
}

/// `create_dir_all(dir)` in [`Mode::Run`]; in [`Mode::Check`] the error it would give, for
/// the causes that can be known without writing: a file where a folder must be, an
/// existing folder that may not be written to.
fn make_dir(dir: &Path, mode: Mode) -> std::io::Result<()> {
    if mode == Mode::Run {
        return std::fs::create_dir_all(dir);
    }
    let errno = |e: nix::errno::Errno| std::io::Error::from_raw_os_error(e as i32);
    // Walk up to the nearest path that exists: `at` is it, and whether the folder itself
    // was missing decides what `mkdir` would say there.
    let mut at = dir.to_path_buf();
    let mut below_missing = false;
    loop {
        match std::fs::metadata(&at) {
            // The first missing folder would be made in this one: it must be writable.
            Ok(meta) if meta.is_dir() => {
                return if below_missing {
                    access(&at, AccessFlags::W_OK | AccessFlags::X_OK).map_err(std::io::Error::from)
                } else {
                    Ok(())
                };
            }
            // A file: `mkdir` of the folder itself says it exists, of one below it that
            // the file is not a folder.
            Ok(_) if !below_missing => return Err(errno(nix::errno::Errno::EEXIST)),
            Ok(_) => return Err(errno(nix::errno::Errno::ENOTDIR)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let parent = match at.parent() {
                    Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
                    _ => PathBuf::from("."),
                };
                if parent == at {
                    return Err(e);
                }
                below_missing = true;
                at = parent;
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Check mode predicts the error `create_dir_all` gives, without creating anything.
    #[test]
    fn a_dry_make_dir_gives_the_error_of_the_real_one() {
        let root = tempfile::tempdir().expect("tempdir");
        let file = root.path().join("file");
        std::fs::write(&file, "x").expect("write");
        for dir in [
            root.path().join("new/deeper"),
            file.clone(),
            file.join("below"),
            root.path().to_path_buf(),
        ] {
            let dry = make_dir(&dir, Mode::Check).map_err(|e| e.to_string());
            assert!(!dir.join("deeper").exists() && !root.path().join("new").exists());
            let real = make_dir(&dir, Mode::Run).map_err(|e| e.to_string());
            assert_eq!(dry, real, "{}", dir.display());
            let _ = std::fs::remove_dir_all(root.path().join("new"));
        }
    }
}
