//! Errors of loading and linking step packages.

use std::path::PathBuf;

use crate::error::UserFacing;

/// How to get a package that is not there yet (defined where a missing file is found).
pub use crate::fetch::BUILD_HINT;

/// Why a step package cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    /// The file could not be read. The I/O error is the source only: printed as a cause
    /// chain it appears once.
    #[error("cannot read step package {}", path.display())]
    Read {
        /// The package path.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file's sha256 is not the one its plan pins.
    #[error("{} does not match its pin: the plan pins sha256 {expected}, the file has sha256 {actual}", path.display())]
    PinMismatch {
        /// The package path.
        path: PathBuf,
        /// The pinned hash.
        expected: String,
        /// The file's hash.
        actual: String,
    },
    /// The file is not a WebAssembly component.
    #[error("{} is not a WebAssembly component: {reason}", path.display())]
    NotAComponent {
        /// The package path.
        path: PathBuf,
        /// What it is instead.
        reason: String,
    },
    /// Compilation failed.
    #[error("{} could not be compiled: {message}", path.display())]
    Compile {
        /// The package path.
        path: PathBuf,
        /// wasmtime's message.
        message: String,
    },
    /// The component needs imports this runner does not provide, or lacks the exports of
    /// the `steps` world.
    #[error("{} does not fit this runner: {message}", path.display())]
    Link {
        /// The package path.
        path: PathBuf,
        /// What does not fit.
        message: String,
        /// What to do.
        hint: String,
    },
    /// The component's `manifest` failed or returned something unusable.
    #[error("{}: bad manifest: {message}", path.display())]
    Manifest {
        /// The package path.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A configuration value needed to build the grants is invalid.
    #[error("{}: invalid {key}: {message}", config.display())]
    Policy {
        /// config.yaml.
        config: PathBuf,
        /// The key at fault.
        key: String,
        /// What is wrong.
        message: String,
    },
    /// The engine could not be set up.
    #[error("cannot set up the WebAssembly engine: {0}")]
    Engine(String),
}

impl UserFacing for PluginError {
    fn hint(&self) -> Option<String> {
        match self {
            PluginError::NotAComponent { .. } => Some(
                "build steps as a component: `cargo build --target wasm32-wasip2` for Rust, \
                 componentize-py or componentize-js for Python and JavaScript"
                    .into(),
            ),
            PluginError::Link { hint, .. } => Some(hint.clone()),
            PluginError::Read { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
                Some(BUILD_HINT.into())
            }
            PluginError::PinMismatch { .. } => Some(
                "the package changed since it was pinned: get the pinned build back, or review the new \
                 one and run `prometheus-wasm lock --update-pins PLAN` to rewrite the pins"
                    .into(),
            ),
            PluginError::Policy { .. } => Some(
                "allowed_hosts entries look like `http://localhost:8080`, `https://*.example.com` or `http://api.test:*`"
                    .into(),
            ),
            _ => None,
        }
    }
}
