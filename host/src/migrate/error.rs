//! Why `migrate` could not write a package.

use std::path::PathBuf;

/// An error of [`super::analyse`] or [`super::write`], naming the file.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    /// The folder has no steps.py.
    #[error("{} has no steps.py", dir.display())]
    NoSteps {
        /// The tests folder.
        dir: PathBuf,
    },
    /// steps.py defines neither a module-level `steps` nor a function building it.
    #[error("{}: found no module-level `steps = [...]` and no function returning the steps", file.display())]
    NoStepsList {
        /// steps.py.
        file: PathBuf,
    },
    /// The output folder exists.
    #[error("{} already exists", dir.display())]
    OutputExists {
        /// The wasm/ folder.
        dir: PathBuf,
    },
    /// Reading or writing a file failed.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// "read", "write", "create" or "remove".
        action: &'static str,
        /// The file or folder.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

impl MigrateError {
    /// What to do about it.
    pub fn hint(&self) -> Option<String> {
        match self {
            MigrateError::NoSteps { .. } => Some(
                "pass the prometheus-test folder that holds config.yaml and steps.py (usually tests/)".into(),
            ),
            MigrateError::NoStepsList { .. } => Some(
                "define `steps = [TestStep(...), ...]` at module level, or a function without arguments that returns that list".into(),
            ),
            MigrateError::OutputExists { .. } => Some(
                "pass --force to rewrite it (its .venv and steps.wasm are kept), or remove it".into(),
            ),
            MigrateError::Io { .. } => None,
        }
    }

    pub(crate) fn io(action: &'static str, path: &std::path::Path, source: std::io::Error) -> Self {
        MigrateError::Io {
            action,
            path: path.to_path_buf(),
            source,
        }
    }
}
