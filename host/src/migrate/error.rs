//! Why `migrate` could not write a package.

use std::path::PathBuf;

use crate::error::UserFacing;

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
    /// A suite file resolves outside the project (through a symbolic link): its contents
    /// would be copied into the package.
    #[error("{} resolves to {}, outside the project {}: migrate copies only the project's own files", link.display(), target.display(), project.display())]
    OutsideProject {
        /// The path as the import names it.
        link: PathBuf,
        /// Where it leads.
        target: PathBuf,
        /// The folder above the tests folder.
        project: PathBuf,
    },
    /// A suite file could not be read (not a regular file, too large, not UTF-8).
    #[error("{0}")]
    Read(#[source] crate::bounded_read::ReadError),
    /// The suite's files together hold more than the cap.
    #[error("the files {} imports hold more than {} together", dir.display(), crate::bounded_read::human(*limit))]
    SuiteTooLarge {
        /// The tests folder.
        dir: PathBuf,
        /// The cap in bytes.
        limit: u64,
    },
    /// The suite imports more modules than the cap.
    #[error("{}: the suite imports more than {limit} modules of the project", file.display())]
    TooManyModules {
        /// The module that went over the cap.
        file: PathBuf,
        /// The cap.
        limit: usize,
    },
    /// The tests folder's name cannot be a Python package name.
    #[error("{}: the folder name {why}", dir.display())]
    UnusableFolderName {
        /// The tests folder.
        dir: PathBuf,
        /// What is wrong with it.
        why: &'static str,
    },
    /// Something on the way to what `migrate` writes or removes in wasm/ is a symbolic
    /// link (or not a folder where one is needed): following it could write or delete
    /// outside the suite.
    #[error("{} is {what}: migrate writes only inside the tests folder's wasm/ and follows no link there", path.display())]
    UnsafeOutput {
        /// The path in wasm/.
        path: PathBuf,
        /// `a symbolic link`, `not a folder`.
        what: &'static str,
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
    pub(crate) fn io(action: &'static str, path: &std::path::Path, source: std::io::Error) -> Self {
        MigrateError::Io {
            action,
            path: path.to_path_buf(),
            source,
        }
    }
}

impl UserFacing for MigrateError {
    fn hint(&self) -> Option<String> {
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
            MigrateError::OutsideProject { .. } => Some(
                "copy the file into the project (replacing the link) if it belongs to the suite, then run migrate again".into(),
            ),
            MigrateError::Read(e) => e.hint(),
            MigrateError::SuiteTooLarge { .. } | MigrateError::TooManyModules { .. } => Some(
                "real suites are far smaller: check that TESTS_DIR is the prometheus-test folder and that its imports do not pull in generated code".into(),
            ),
            MigrateError::UnusableFolderName { .. } => Some(
                "rename the folder to a Python package name (e.g. `tests`) and run migrate again".into(),
            ),
            MigrateError::UnsafeOutput { .. } => Some(
                "remove it (wasm/ is generated; only its .venv and steps.wasm are kept) and run migrate again".into(),
            ),
            MigrateError::Io { .. } => None,
        }
    }
}
