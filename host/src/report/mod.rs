//! What the user sees: the live terminal report, the JUnit, JSON and HTML report files
//! (built from one [`RunReport`] of the whole run, kept across invocations by the results
//! journal), secret redaction and the sanitizer of guest and worker text. Fed only by
//! [`RunEvent`](crate::runner::RunEvent)s, the final
//! [`RunSummary`](crate::runner::RunSummary), the values of [`model`](crate::model) and
//! lines the CLI hands it; never imports plugin, workers or store (`host/tests/layers.rs`
//! checks). Warnings of the layers below reach the user through [`warnings`].

pub mod clock;
pub mod collect;
pub(crate) mod context;
pub mod error;
pub mod history;
pub mod html;
pub mod json;
pub mod junit;
pub mod model;
pub mod redact;
pub mod sanitize;
pub(crate) mod style;
pub(crate) mod summary_table;
pub mod terminal;
pub(crate) mod timings_table;
pub mod warnings;

pub use collect::ReportCollector;
pub use error::ReportError;
pub use model::{Outline, PackageId, RunReport};
pub use redact::Redactor;
pub use terminal::{TerminalReport, Verbosity};

#[cfg(test)]
mod bounded_tests;
