//! A run's steps taken from one or more packages: [`Plan`] implements [`Steps`] by sending
//! each planned step to its package under the package's own step name, with the package's
//! default params merged under the plan's.
//!
//! A bare `.wasm` run is a one-package plan ([`Plan::single`]) listing the package's
//! manifest in order, so both kinds of run take the same path. Start from
//! [`Plan::resolve`]. Imports config (plan files) and the rest of plugin.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;

use crate::config::{Location, PlanError, PlanFile, closest};
use crate::model::{StepFailure, StepOutcome};
use crate::plugin::ctx::RunCtx;
use crate::plugin::package::Package;
use crate::plugin::steps::{StepInfo, StepLog, Steps};
use crate::store::state::RunState;

/// Where a planned step was written, for errors found after parsing (unknown worker).
#[derive(Debug, Clone, PartialEq)]
pub struct StepOrigin {
    /// The plan file.
    pub plan: PathBuf,
    /// Where the step's worker is chosen (its `worker` value, else its `use`).
    pub worker_at: Option<Location>,
}

/// Which package step a planned step runs.
#[derive(Debug, Clone)]
struct Target {
    package: usize,
    step: String,
}

/// Packages and the ordered steps of a round taken from them.
pub struct Plan {
    names: Vec<String>,
    packages: Vec<Package>,
    steps: Vec<StepInfo>,
    targets: Vec<Target>,
    origins: Vec<Option<StepOrigin>>,
}

impl Plan {
    /// The plan of a bare package: its manifest, in order, under its own names.
    pub fn single(package: Package) -> Self {
        let name = package
            .path()
            .file_stem()
            .map_or_else(|| "steps".into(), |s| s.to_string_lossy().into_owned());
        let steps = package.manifest().to_vec();
        let targets = steps
            .iter()
            .map(|s| Target {
                package: 0,
                step: s.name.clone(),
            })
            .collect();
        Self {
            origins: vec![None; steps.len()],
            names: vec![name],
            packages: vec![package],
            steps,
            targets,
        }
    }

    /// The plan `file` describes, with `packages` loaded in the file's package order.
    ///
    /// Errors, at the plan's line:column: a step the package does not list, two steps
    /// under one name.
    pub fn resolve(file: &PlanFile, packages: Vec<Package>) -> Result<Self, PlanError> {
        assert_eq!(
            file.packages.len(),
            packages.len(),
            "one loaded package per plan package"
        );
        let names: Vec<String> = file.packages.iter().map(|p| p.name.clone()).collect();
        let mut steps: Vec<StepInfo> = Vec::new();
        let mut targets = Vec::new();
        let mut origins = Vec::new();
        for (index, planned) in file.steps.iter().enumerate() {
            let package_index = names
                .iter()
                .position(|n| *n == planned.package)
                .expect("the parser checked package references");
            let package = &packages[package_index];
            let chosen: Vec<&StepInfo> = match &planned.step {
                None => package.manifest().iter().collect(),
                Some(name) => match package.manifest().iter().find(|s| &s.name == name) {
                    Some(s) => vec![s],
                    None => return Err(unknown_step(file, package, planned, name)),
                },
            };
            for info in chosen {
                let step = StepInfo {
                    name: planned.name.clone().unwrap_or_else(|| info.name.clone()),
                    description: planned
                        .description
                        .clone()
                        .unwrap_or_else(|| info.description.clone()),
                    worker: planned
                        .worker
                        .clone()
                        .unwrap_or_else(|| info.worker.clone()),
                    params: merge_params(&info.params, planned.params.as_ref()),
                };
                if let Some(first) = steps.iter().position(|s| s.name == step.name) {
                    return Err(PlanError::new(
                        &file.path,
                        planned.use_at,
                        format!(
                            "step name `{}` is used twice (steps {} and {} of the round)",
                            step.name,
                            first + 1,
                            steps.len() + 1
                        ),
                    )
                    .with_hint(format!(
                        "give step {} its own `name:`; names identify steps in the saved state",
                        index + 1
                    )));
                }
                steps.push(step);
                targets.push(Target {
                    package: package_index,
                    step: info.name.clone(),
                });
                origins.push(Some(StepOrigin {
                    plan: file.path.clone(),
                    worker_at: planned.worker_at,
                }));
            }
        }
        Ok(Self {
            names,
            packages,
            steps,
            targets,
            origins,
        })
    }

    /// Grants every package the run's configuration, workers and network.
    pub fn with_run(self, run: RunCtx) -> Self {
        let run = Arc::new(run);
        Self {
            packages: self
                .packages
                .into_iter()
                .map(|p| p.with_shared_run(run.clone()))
                .collect(),
            ..self
        }
    }

    /// The packages with their plan names, in plan order.
    pub fn packages(&self) -> impl Iterator<Item = (&str, &Package)> {
        self.names
            .iter()
            .map(String::as_str)
            .zip(self.packages.iter())
    }

    /// Where step `index` of the manifest was written, for plan runs.
    pub fn origin(&self, index: usize) -> Option<&StepOrigin> {
        self.origins.get(index).and_then(Option::as_ref)
    }

    /// The package that runs step `index` and the step's name there.
    pub fn target(&self, index: usize) -> Option<(&Path, &str)> {
        let t = self.targets.get(index)?;
        Some((self.packages[t.package].path(), t.step.as_str()))
    }
}

/// Package defaults, with the plan's top-level keys replacing them (what
/// `functools.partial` keywords did).
fn merge_params(defaults: &Value, overrides: Option<&Value>) -> Value {
    let mut merged = match defaults {
        Value::Object(map) => map.clone(),
        _ => serde_json::Map::new(),
    };
    if let Some(Value::Object(extra)) = overrides {
        for (key, value) in extra {
            merged.insert(key.clone(), value.clone());
        }
    }
    Value::Object(merged)
}

fn unknown_step(
    file: &PlanFile,
    package: &Package,
    planned: &crate::config::PlanStep,
    name: &str,
) -> PlanError {
    let known: Vec<&str> = package.manifest().iter().map(|s| s.name.as_str()).collect();
    let hint = match closest(name, &known) {
        Some(near) => format!("did you mean `{}/{near}`?", planned.package),
        None => format!("its steps are: {}", known.join(", ")),
    };
    PlanError::new(
        &file.path,
        planned.use_at,
        format!(
            "package `{}` ({}{}) has no step `{name}`",
            planned.package,
            package
                .identity()
                .label()
                .map(|l| format!("{l}, "))
                .unwrap_or_default(),
            package.path().display()
        ),
    )
    .with_hint(hint)
}

/// Says which package's post-load failed, when a plan has several.
fn name_package(failure: StepFailure, package: &str) -> StepFailure {
    match failure {
        StepFailure::Failed { phase, message } => StepFailure::Failed {
            phase,
            message: format!("package `{package}`: {message}"),
        },
        StepFailure::Trapped {
            phase,
            message,
            backtrace,
        } => StepFailure::Trapped {
            phase,
            message: format!("package `{package}`: {message}"),
            backtrace,
        },
        // Not the package's doing: the worker is named, the package is not.
        died @ StepFailure::WorkerDied { .. } => died,
        fault @ StepFailure::FaultFailed { .. } => fault,
    }
}

impl Steps for Plan {
    fn manifest(&self) -> &[StepInfo] {
        &self.steps
    }

    async fn run_step(
        &self,
        step: &StepInfo,
        state: &mut RunState,
        log: Arc<dyn StepLog>,
    ) -> Result<StepOutcome, StepFailure> {
        let index = self
            .steps
            .iter()
            .position(|s| s.name == step.name)
            .expect("the runner runs steps of this plan's manifest");
        let target = &self.targets[index];
        let inner = StepInfo {
            name: target.step.clone(),
            ..step.clone()
        };
        self.packages[target.package]
            .run_step(&inner, state, log)
            .await
    }

    async fn post_load(
        &self,
        state: &mut RunState,
        log: Arc<dyn StepLog>,
    ) -> Result<(), StepFailure> {
        let several = self.packages.len() > 1;
        for (name, package) in self.names.iter().zip(&self.packages) {
            package
                .post_load(state, log.clone())
                .await
                .map_err(|failure| {
                    if several {
                        name_package(failure, name)
                    } else {
                        failure
                    }
                })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn plan_params_replace_package_defaults_key_by_key() {
        let merged = merge_params(
            &json!({"target": "worker1", "retries": 3, "deep": {"a": 1}}),
            Some(&json!({"target": "worker2", "deep": {"b": 2}})),
        );
        assert_eq!(
            merged,
            json!({"target": "worker2", "retries": 3, "deep": {"b": 2}})
        );
        assert_eq!(merge_params(&json!(null), None), json!({}));
    }
}
