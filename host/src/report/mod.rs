//! What the user sees: the live terminal report and secret redaction. Fed only by
//! [`RunEvent`](crate::runner::RunEvent)s, the final
//! [`RunSummary`](crate::runner::RunSummary) and lines the CLI hands it; never imports
//! plugin internals, workers or store.

pub mod redact;
pub mod terminal;

pub use redact::Redactor;
pub use terminal::TerminalReport;
