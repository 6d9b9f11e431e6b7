//! What a component asks for and what this runner grants: its imports (each one a
//! capability), its exports, the WIT packages it targets. Used by `inspect`, which must
//! also explain a component the runner refuses, so nothing here links or instantiates.

use std::path::Path;

use wasmtime::component::Component;

use crate::plugin::engine::StepEngine;
use crate::plugin::error::PluginError;
use crate::plugin::link::{check_component_header, is_provided};

/// The imports and exports of a component, by name (`wasi:cli/environment@0.2.6`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ComponentInterface {
    /// What it imports: the capabilities it asks for.
    pub imports: Vec<String>,
    /// What it exports (a step package: `manifest`, `prepare`, `execute`, `post-load`).
    pub exports: Vec<String>,
}

impl ComponentInterface {
    /// The interface of a compiled component.
    pub fn of(engine: &StepEngine, component: &Component) -> Self {
        let ty = component.component_type();
        Self {
            imports: ty
                .imports(engine.engine())
                .map(|(n, _)| n.to_string())
                .collect(),
            exports: ty
                .exports(engine.engine())
                .map(|(n, _)| n.to_string())
                .collect(),
        }
    }

    /// Reads and compiles the component at `path` (without linking it) for its interface.
    pub fn read(engine: &StepEngine, path: &Path) -> Result<Self, PluginError> {
        let bytes = crate::bounded_read::read_bytes(
            path,
            crate::bounded_read::PACKAGE_FILE_MAX,
            "step package",
        )
        .map_err(|e| PluginError::Read {
            path: path.to_path_buf(),
            source: e.into_io_error(),
        })?;
        check_component_header(path, &bytes)?;
        let component =
            Component::new(engine.engine(), &bytes).map_err(|e| PluginError::Compile {
                path: path.to_path_buf(),
                message: format!("{e:#}"),
            })?;
        Ok(Self::of(engine, &component))
    }

    /// The WIT packages of its non-WASI imports, e.g. `prometheus:step@0.1.0`: the
    /// contract it was built against.
    pub fn targets(&self) -> Vec<String> {
        let mut targets: Vec<String> = self
            .imports
            .iter()
            .filter(|name| !name.starts_with("wasi:"))
            .filter_map(|name| {
                let (iface, version) = name.rsplit_once('@')?;
                let package = iface.split_once('/').map_or(iface, |(p, _)| p);
                Some(format!("{package}@{version}"))
            })
            .collect();
        targets.sort();
        targets.dedup();
        targets
    }
}

/// What the runner gives a component for one import.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grant {
    /// Whether the runner links the import at all (otherwise `run` refuses the package).
    pub provided: bool,
    /// What a step gets through it.
    pub grants: &'static str,
}

/// What the runner grants for the import `name`.
pub fn grant(name: &str) -> Grant {
    let provided = is_provided(name);
    let iface = name.rsplit_once('@').map_or(name, |(i, _)| i);
    let grants = if !provided {
        "not provided: `run` refuses the package"
    } else {
        match iface {
            "prometheus:step/http" => {
                "HTTP to the test's workers, middle_server_url and allowed_hosts only"
            }
            "prometheus:step/config" => "config.yaml's values (read only)",
            "prometheus:step/mongo" => {
                "the test's MongoDB database only (mongodb.database), no other database"
            }
            "prometheus:step/state" => "the run state (test_state.json)",
            "prometheus:step/worker" => {
                "worker names, URLs, the variables the test sets for them, public keys and signing by the host"
            }
            "prometheus:step/log" | "prometheus:step/types" => "the step log",
            "prometheus:step/faults" => {
                "kill, stop, start, restart, pause, resume and degrade the network of the test's workers, \
                 only when config.yaml sets faults_from_steps: true"
            }
            "wasi:cli/environment" => "nothing: no variables, no arguments",
            "wasi:cli/stdout" | "wasi:cli/stderr" => {
                "captured into the step log, up to limits.output_max_kb"
            }
            "wasi:cli/stdin" => "an empty stream",
            "wasi:cli/exit" => "exit ends the step as a trap",
            i if i.starts_with("wasi:cli/terminal") => "no terminal",
            i if i.starts_with("wasi:filesystem/") => "nothing: no preopened directory",
            "wasi:sockets/ip-name-lookup" => "denied: every lookup fails",
            i if i.starts_with("wasi:sockets/") => "denied: no TCP or UDP",
            i if i.starts_with("wasi:clocks/") => "allowed: wall and monotonic clocks",
            i if i.starts_with("wasi:random/") => "allowed: random bytes",
            i if i.starts_with("wasi:io/") => "streams and polling for the above",
            _ => "linked",
        }
    };
    Grant { provided, grants }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_the_non_wasi_packages() {
        let i = ComponentInterface {
            imports: vec![
                "wasi:cli/environment@0.2.6".into(),
                "prometheus:step/http@0.1.0".into(),
                "prometheus:step/log@0.1.0".into(),
            ],
            exports: vec![],
        };
        assert_eq!(i.targets(), ["prometheus:step@0.1.0"]);
    }

    #[test]
    fn grants_say_what_a_step_gets() {
        assert!(!grant("wasi:http/outgoing-handler@0.2.6").provided);
        let fs = grant("wasi:filesystem/preopens@0.2.6");
        assert!(fs.provided && fs.grants.contains("no preopened"));
        assert!(grant("wasi:sockets/tcp@0.2.0").grants.starts_with("denied"));
        assert!(
            grant("prometheus:step/http@0.1.0")
                .grants
                .contains("allowed_hosts")
        );
        let faults = grant("prometheus:step/faults@0.1.0");
        assert!(faults.provided, "an optional import the runner links");
        assert!(
            faults.grants.contains("faults_from_steps: true"),
            "{faults:?}"
        );
    }
}
