//! Errors of writing report files.

use std::path::PathBuf;

/// A report file could not be written.
#[derive(Debug, thiserror::Error)]
#[error("cannot write the {format} report to {}: {source}", path.display())]
pub struct ReportError {
    /// `JUnit`, `JSON` or `HTML`.
    pub format: &'static str,
    /// The report path.
    pub path: PathBuf,
    /// The I/O error.
    #[source]
    pub source: std::io::Error,
}

/// Writes a report to `path` atomically (temp file in the same directory, then rename), so
/// a CI system never reads half a report; `fill` streams the content into the temporary
/// file.
pub(crate) fn write_atomically_with(
    format: &'static str,
    path: &std::path::Path,
    fill: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()>,
) -> Result<(), ReportError> {
    crate::atomic_file::write_with(path, false, fill).map_err(|source| ReportError {
        format,
        path: path.to_path_buf(),
        source,
    })
}
