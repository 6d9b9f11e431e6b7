//! Accepting a component: its binary header, and linking it against what this runner
//! provides, with errors that say which import or export does not fit and what to do.

use std::path::Path;

use wasmtime::component::Component;

use crate::plugin::bindings::StepsPre;
use crate::plugin::ctx::HostState;
use crate::plugin::engine::StepEngine;
use crate::plugin::error::PluginError;
use crate::plugin::json::preview;

/// The WIT package and version this runner implements.
pub const WIT_PACKAGE: &str = "prometheus:step@0.1.0";

/// The interfaces of [`WIT_PACKAGE`] the linker provides: every interface of
/// `wit/step.wit` (a unit test keeps the two in step).
pub const PROVIDED_INTERFACES: [&str; 8] = [
    "types", "config", "state", "worker", "http", "mongo", "log", "faults",
];

/// Checks the binary header: a component, not a core module or another file.
pub(crate) fn check_component_header(path: &Path, bytes: &[u8]) -> Result<(), PluginError> {
    const MAGIC: &[u8; 4] = b"\0asm";
    const CORE_VERSION: [u8; 4] = [1, 0, 0, 0];
    const COMPONENT_LAYER: [u8; 2] = [1, 0];
    let not = |reason: String| PluginError::NotAComponent {
        path: path.to_path_buf(),
        reason,
    };
    if bytes.len() < 8 || &bytes[..4] != MAGIC {
        return Err(not(format!(
            "the file does not start with the WebAssembly magic bytes (starts with {})",
            preview(&String::from_utf8_lossy(&bytes[..bytes.len().min(16)]))
        )));
    }
    if bytes[4..8] == CORE_VERSION {
        return Err(not(
            "it is a core WebAssembly module; steps must be a component exporting the prometheus:step world".into(),
        ));
    }
    if bytes[6..8] != COMPONENT_LAYER {
        return Err(not("unknown WebAssembly binary version".into()));
    }
    Ok(())
}

/// Links the component, explaining missing imports and exports in the user's terms.
pub(crate) fn link(
    engine: &StepEngine,
    component: &Component,
    path: &Path,
) -> Result<StepsPre<HostState>, PluginError> {
    let link_error = |message: String, hint: String| PluginError::Link {
        path: path.to_path_buf(),
        message,
        hint,
    };
    let pre = engine.linker().instantiate_pre(component).map_err(|e| {
        let ty = component.component_type();
        let unknown: Vec<String> = ty
            .imports(engine.engine())
            .map(|(name, _)| name.to_string())
            .filter(|name| !is_provided(name))
            .collect();
        let other_version: Vec<&String> = unknown
            .iter()
            .filter(|n| n.starts_with("prometheus:step/"))
            .collect();
        if !other_version.is_empty() {
            link_error(
                format!(
                    "it targets another version of the WIT contract ({}); this runner provides {WIT_PACKAGE}",
                    other_version.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
                ),
                format!("rebuild the package against {WIT_PACKAGE}, or use a prometheus-wasm release that provides its version"),
            )
        } else if !unknown.is_empty() {
            link_error(
                format!("it imports what this runner does not provide: {}", unknown.join(", ")),
                "steps may import only prometheus:step and wasi:* 0.2 interfaces; build without the others \
                 (for componentize-js, disable features such as `http` and `fetch-event`)"
                    .into(),
            )
        } else {
            link_error(format!("{e:#}"), format!("rebuild the package against {WIT_PACKAGE}"))
        }
    })?;
    StepsPre::new(pre).map_err(|e| {
        link_error(
            format!("it does not export the `steps` world of {WIT_PACKAGE} ({e:#})"),
            "a step package exports manifest, prepare, execute and post-load; is this a component of another world?".into(),
        )
    })
}

/// Whether an import name is one the linker provides.
pub(crate) fn is_provided(name: &str) -> bool {
    let Some((iface, version)) = name.rsplit_once('@') else {
        return false;
    };
    if let Some(iface) = iface.strip_prefix("prometheus:step/") {
        return version == "0.1.0" && PROVIDED_INTERFACES.contains(&iface);
    }
    iface.starts_with("wasi:") && version.starts_with("0.2.") && !iface.starts_with("wasi:http/")
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn header_check_tells_module_from_component() {
        let p = Path::new("x.wasm");
        let core = b"\0asm\x01\0\0\0rest";
        let err = check_component_header(p, core).unwrap_err().to_string();
        assert!(err.contains("core WebAssembly module"), "{err}");
        let err = check_component_header(p, b"hello world!")
            .unwrap_err()
            .to_string();
        assert!(err.contains("magic bytes"), "{err}");
        assert!(check_component_header(p, b"\0asm\x0d\0\x01\0").is_ok());
    }

    #[test]
    fn every_interface_of_the_wit_is_provided() {
        let wit = include_str!("../../../wit/step.wit");
        let declared: Vec<&str> = wit
            .lines()
            .filter_map(|l| l.trim().strip_prefix("interface "))
            .filter_map(|rest| rest.split_whitespace().next())
            .collect();
        assert!(declared.len() >= 7, "{declared:?}");
        for iface in declared {
            assert!(
                is_provided(&format!("prometheus:step/{iface}@0.1.0")),
                "interface `{iface}` of wit/step.wit is missing from PROVIDED_INTERFACES"
            );
        }
    }

    #[test]
    fn provided_imports() {
        assert!(is_provided("prometheus:step/mongo@0.1.0"));
        assert!(is_provided("prometheus:step/http@0.1.0"));
        assert!(!is_provided("prometheus:step/http@0.2.0"));
        assert!(is_provided("wasi:cli/environment@0.2.6"));
        assert!(!is_provided("wasi:http/outgoing-handler@0.2.6"));
        assert!(!is_provided("acme:thing/x@1.0.0"));
    }
}
