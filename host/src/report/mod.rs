//! What the user sees: the live terminal report, the JUnit and JSON report files, secret
//! redaction and the sanitizer of guest and worker text. Fed only by [`RunEvent`](crate::runner::RunEvent)s, the final
//! [`RunSummary`](crate::runner::RunSummary) and lines the CLI hands it; never imports
//! workers or store.

pub(crate) mod context;
pub mod error;
pub mod json;
pub mod junit;
pub mod redact;
pub mod sanitize;
pub(crate) mod style;
pub(crate) mod summary_table;
pub mod terminal;

pub use error::ReportError;
pub use redact::Redactor;
pub use terminal::{TerminalReport, Verbosity};
