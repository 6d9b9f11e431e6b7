//! Plan files: which step packages a run uses (each pinned by sha256) and the steps of a
//! round, in order, taken from those packages with an optional new name, worker and params.
//!
//! ```yaml
//! config: config.yaml            # optional; default: config.yaml beside the plan
//! packages:
//!   audit:
//!     path: ../shared/audit_steps.wasm   # relative to the plan file (or `url:`, `oci:`)
//!     sha256: 3f1c…                      # pin; required for url/oci; a mismatch is refused
//! steps:
//!   - use: audit/audit-health            # package/step
//!     name: worker2-audits-worker1       # optional new name (recorded in the state)
//!     worker: worker2                    # optional; default: the package's choice
//!     params: {target: worker1}          # merged over the package's default params
//!   - use: hello                         # every step of a package, in manifest order
//! faults:                                # optional; as config.yaml's, on the plan's step
//!   - at: {round: 1, after: worker2-audits-worker1}   # names; run after config.yaml's
//!     kill: worker1
//! ```
//!
//! Pure apart from reading the file: checks shape, keys, package references and pins'
//! spelling here; steps and workers are checked once packages and config are loaded, with
//! the locations this parser records. Imports only sibling config modules.

use std::fmt;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde::Deserialize;

use super::faults::{FaultKeys, FaultOrigin, FaultSpec, check_faults};
use super::location::{Location, find_key, strip_location_suffix};
use super::yaml_guard::{check_yaml, nesting_error};
use crate::bounded_read::{self, PLAN_FILE_MAX};
use crate::error::UserFacing;

/// Most packages one plan may list (real plans list a handful).
pub const MAX_PLAN_PACKAGES: usize = 64;
/// Most `steps:` entries one plan may list.
pub const MAX_PLAN_STEPS: usize = 1000;
use super::plan_locate::{key_in_item, sequence_items};
use super::plan_package::{PackageSource, RawPackage, parse_package};

/// A parsed plan file, paths resolved against its directory.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanFile {
    /// The plan file, as the user spelled it.
    pub path: PathBuf,
    /// `config:`, resolved; `None` means config.yaml beside the plan.
    pub config: Option<PathBuf>,
    /// The packages, in file order.
    pub packages: Vec<PlanPackage>,
    /// The steps of a round, in order (a whole-package `use` is one entry).
    pub steps: Vec<PlanStep>,
    /// `faults:`, parsed and range-checked (workers and step names are checked once the
    /// config and packages are loaded); they follow config.yaml's in the run.
    pub faults: Vec<FaultSpec>,
    /// Where the `faults` key is, for errors about its workers.
    pub faults_at: Option<Location>,
}

/// One entry of `packages:`.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanPackage {
    /// The name steps refer to (`use: name/step`) and the lock file's key.
    pub name: String,
    /// Where the bytes come from (a path is resolved against the plan's directory).
    pub source: PackageSource,
    /// The pinned hex sha256 (lowercase); always set for url and oci packages.
    pub sha256: Option<String>,
    /// Where the package's entry is.
    pub at: Option<Location>,
}

/// One entry of `steps:`.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanStep {
    /// The package the step comes from.
    pub package: String,
    /// The package's step name; `None` takes every step of the package in order.
    pub step: Option<String>,
    /// The name to run it under (default: the package's step name).
    pub name: Option<String>,
    /// A new one-line description.
    pub description: Option<String>,
    /// The worker to run it against (default: the package's choice).
    pub worker: Option<String>,
    /// Parameters merged over the package's defaults (a JSON object).
    pub params: Option<serde_json::Value>,
    /// Where the `use` value is (else the item's `-`).
    pub use_at: Option<Location>,
    /// Where the `worker` value is (else [`PlanStep::use_at`]).
    pub worker_at: Option<Location>,
}

/// A plan that cannot be used: the file, where in it, what is wrong and what to do.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanError {
    path: PathBuf,
    location: Option<Location>,
    message: String,
    hint: Option<String>,
}

impl PlanError {
    /// An error about the plan at `path`, at `location` when known.
    pub fn new(path: &Path, location: Option<Location>, message: impl Into<String>) -> Self {
        Self {
            path: path.to_path_buf(),
            location,
            message: message.into(),
            hint: None,
        }
    }

    /// The same error with what to do about it.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Where in the plan, when known.
    pub fn location(&self) -> Option<Location> {
        self.location
    }
}

impl UserFacing for PlanError {
    fn hint(&self) -> Option<String> {
        self.hint.clone()
    }
}

impl fmt::Display for PlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let Some(location) = self.location {
            write!(f, ":{location}")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for PlanError {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlan {
    config: Option<String>,
    packages: IndexMap<String, RawPackage>,
    steps: Vec<RawStep>,
    faults: Option<Vec<FaultKeys>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    #[serde(rename = "use")]
    use_: String,
    name: Option<String>,
    description: Option<String>,
    worker: Option<String>,
    params: Option<serde_json::Value>,
}

/// Reads and parses the plan at `path`.
/// Bounded: a FIFO, a device or a file past [`PLAN_FILE_MAX`] is refused before parsing.
pub fn load_plan(path: &Path) -> Result<PlanFile, PlanError> {
    let text = bounded_read::read_text(path, PLAN_FILE_MAX, "plan file").map_err(|e| {
        let error = PlanError::new(path, None, format!("cannot read the plan: {}", e.reason()));
        if e.is_not_found() {
            error.with_hint("pass the path of a plan file (.yaml) or of a step package (.wasm)")
        } else {
            error.with_hint(e.hint().unwrap_or_default())
        }
    })?;
    parse_plan(&text, path)
}

/// Parses plan text; `path` names the file in errors and anchors relative paths.
pub fn parse_plan(text: &str, path: &Path) -> Result<PlanFile, PlanError> {
    check_yaml(text).map_err(|e| {
        PlanError::new(path, e.location, e.message)
            .with_hint("a plan is a short YAML file; check that this is the right file")
    })?;
    let raw: RawPlan = serde_yaml::from_str(text).map_err(|e| {
        let location = e.location().map(|l| Location::new(l.line(), l.column()));
        let message = match location {
            Some(l) => strip_location_suffix(&e.to_string(), l.line, l.column),
            None => e.to_string(),
        };
        let message = nesting_error(&message).unwrap_or(message);
        PlanError::new(path, location, message).with_hint(
            "a plan has `packages: {name: {path|url|oci, sha256}}`, `steps: [{use: package/step, name, worker, params}]` and optionally `faults:` (docs/faults.md); see docs/sharing-steps.md",
        )
    })?;
    // Each package and step is located by scanning the text, so their counts are capped
    // to keep that linear in practice.
    for (count, what, max, key) in [
        (
            raw.packages.len(),
            "packages",
            MAX_PLAN_PACKAGES,
            "packages",
        ),
        (raw.steps.len(), "steps", MAX_PLAN_STEPS, "steps"),
    ] {
        if count > max {
            let at = find_key(text, &[key]).map(|s| s.key);
            return Err(PlanError::new(
                path,
                at,
                format!("the plan lists {count} {what}; at most {max} are allowed"),
            )
            .with_hint("split the plan into several plans"));
        }
    }
    let dir = path.parent().unwrap_or(Path::new(""));
    let mut packages = Vec::with_capacity(raw.packages.len());
    for (name, package) in raw.packages {
        let at = find_key(text, &["packages", &name]).map(|s| s.key);
        if name.is_empty() || name.contains('/') {
            return Err(PlanError::new(
                path,
                at,
                format!("package name `{name}` is empty or contains `/`"),
            ));
        }
        let (source, sha256) = parse_package(text, path, &name, package)?;
        packages.push(PlanPackage {
            source,
            name,
            sha256,
            at,
        });
    }
    if packages.is_empty() {
        let at = find_key(text, &["packages"]).map(|s| s.key);
        return Err(PlanError::new(path, at, "the plan lists no packages"));
    }

    let items = sequence_items(text, "steps");
    let mut steps = Vec::with_capacity(raw.steps.len());
    for (index, step) in raw.steps.into_iter().enumerate() {
        let item = items.get(index);
        let locate = |key: &str| item.and_then(|i| key_in_item(text, i, key).or(Some(i.dash)));
        let use_at = locate("use");
        let (package, step_name) = match step.use_.split_once('/') {
            Some((p, s)) => (p.to_string(), Some(s.to_string())),
            None => (step.use_.clone(), None),
        };
        if !packages.iter().any(|p| p.name == package) {
            let known: Vec<&str> = packages.iter().map(|p| p.name.as_str()).collect();
            return Err(PlanError::new(
                path,
                use_at,
                format!("step {} uses unknown package `{package}`", index + 1),
            )
            .with_hint(format!(
                "the plan's packages are: {}; write `use: package/step`",
                known.join(", ")
            )));
        }
        if step_name.as_deref() == Some("") {
            return Err(PlanError::new(
                path,
                use_at,
                format!("`use: {}` names no step", step.use_),
            )
            .with_hint(format!(
                "write `use: {package}/STEP`, or `use: {package}` for all its steps"
            )));
        }
        if step_name.is_none() && (step.name.is_some() || step.description.is_some()) {
            return Err(PlanError::new(
                path,
                use_at,
                format!(
                    "`use: {package}` takes every step of the package, which cannot share one `name` or `description`"
                ),
            )
            .with_hint(format!("list the steps one by one: `use: {package}/STEP`")));
        }
        if let Some(params) = &step.params
            && !params.is_object()
        {
            return Err(PlanError::new(
                path,
                locate("params"),
                format!("the params of step {} are not a mapping", index + 1),
            )
            .with_hint("write params as a mapping, e.g. `params: {target: worker2}`"));
        }
        steps.push(PlanStep {
            package,
            step: step_name,
            name: step.name,
            description: step.description,
            worker_at: step
                .worker
                .as_ref()
                .and_then(|_| locate("worker"))
                .or(use_at),
            worker: step.worker,
            params: step.params,
            use_at,
        });
    }
    if steps.is_empty() {
        let at = find_key(text, &["steps"]).map(|s| s.key);
        return Err(PlanError::new(path, at, "the plan lists no steps"));
    }
    // The same checks and error text as config.yaml's `faults:`, naming this file.
    let faults = check_faults(
        raw.faults.unwrap_or_default(),
        text,
        path,
        &FaultOrigin::Plan(path.to_path_buf()),
    )
    .map_err(|e| {
        let error = PlanError::new(path, e.location(), e.kind().to_string());
        match e.hint() {
            Some(hint) => error.with_hint(hint),
            None => error,
        }
    })?;
    Ok(PlanFile {
        path: path.to_path_buf(),
        config: raw.config.map(|c| dir.join(c)),
        packages,
        steps,
        faults,
        faults_at: find_key(text, &["faults"]).map(|s| s.key),
    })
}

#[cfg(test)]
mod tests;
