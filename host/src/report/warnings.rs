//! Warnings from the layers below the report — the code cache, the package store, the
//! worker supervisor — shown to the user.
//!
//! Those layers cannot name the report (data flows one way), so they emit
//! `tracing::warn!` events; [`install`] makes the process's tracing subscriber turn each one
//! into one line. While a [`TerminalReport`] is [routed to](route_to) (during `run`), the
//! line goes through it, redacted and sanitised like every other line of the run; otherwise
//! it goes to stderr as `warning: …`, through the same sanitiser ([`bounded_text`]).
//! Debug events are developer diagnostics and are dropped.

use std::fmt::{self, Write as _};
use std::sync::{Arc, Mutex, PoisonError};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

use super::TerminalReport;
use super::sanitize::bounded_text;

/// Where a warning line goes.
pub trait WarningSink: Send + Sync + 'static {
    /// One warning, as one line of text without the `warning:` prefix (not yet sanitised).
    fn warning(&self, text: &str);
}

impl WarningSink for TerminalReport {
    fn warning(&self, text: &str) {
        TerminalReport::warning(self, text);
    }
}

/// A [`Layer`] turning every `WARN` and `ERROR` event of this crate into a line for its
/// sink: the message, then the event's other fields as `(name=value, …)`.
pub struct WarningLayer<S> {
    sink: S,
}

impl<S: WarningSink> WarningLayer<S> {
    /// A layer writing to `sink`.
    pub fn new(sink: S) -> Self {
        Self { sink }
    }
}

impl<S: WarningSink, C: Subscriber> Layer<C> for WarningLayer<S> {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, C>) {
        // Levels compare by verbosity: WARN and ERROR are the ones "at most" WARN. Only
        // this crate's events: the libraries under it (wasmtime, the MongoDB driver, the
        // OCI client) log for their own developers, not for the person running a test.
        let metadata = event.metadata();
        if *metadata.level() > Level::WARN || !is_ours(metadata.target()) {
            return;
        }
        let mut line = Line::default();
        event.record(&mut line);
        self.sink.warning(&line.finish());
    }
}

/// Whether an event's target (its module path, unless set) is a module of this crate.
fn is_ours(target: &str) -> bool {
    let crate_name = env!("CARGO_CRATE_NAME");
    target == crate_name
        || target
            .strip_prefix(crate_name)
            .is_some_and(|rest| rest.starts_with("::"))
}

/// The text of one event: its message and its other fields.
#[derive(Default)]
struct Line {
    message: String,
    fields: String,
}

impl Line {
    fn finish(self) -> String {
        if self.fields.is_empty() {
            self.message
        } else {
            format!("{} ({})", self.message, self.fields)
        }
    }
}

impl Visit for Line {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            if !self.fields.is_empty() {
                self.fields.push_str(", ");
            }
            let _ = write!(self.fields, "{}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        // Strings without Debug's quotes and escapes (the sanitiser makes them safe).
        self.record_debug(field, &format_args!("{value}"));
    }
}

/// The report warnings go to while a command has one; `None`: stderr.
static ROUTE: Mutex<Option<Arc<TerminalReport>>> = Mutex::new(None);

/// The process-wide sink of [`install`]: the routed report, or stderr.
struct Routed;

impl WarningSink for Routed {
    fn warning(&self, text: &str) {
        let report = ROUTE.lock().unwrap_or_else(PoisonError::into_inner).clone();
        match report {
            Some(report) => report.warning(text),
            None => eprintln!("warning: {}", bounded_text(text)),
        }
    }
}

/// Installs the process's tracing subscriber: warnings reach the user (see the module
/// documentation). Call once at start-up; a second call, or one in a process that already
/// has a subscriber, changes nothing.
pub fn install() {
    use tracing_subscriber::layer::SubscriberExt as _;
    let subscriber = tracing_subscriber::registry().with(WarningLayer::new(Routed));
    let _ = tracing::subscriber::set_global_default(subscriber);
}

/// Sends warnings to `report` until the returned guard is dropped.
#[must_use = "warnings go back to stderr when the guard is dropped"]
pub fn route_to(report: Arc<TerminalReport>) -> RouteGuard {
    *ROUTE.lock().unwrap_or_else(PoisonError::into_inner) = Some(report);
    RouteGuard(())
}

/// Keeps warnings routed to a report; see [`route_to`].
pub struct RouteGuard(());

impl Drop for RouteGuard {
    fn drop(&mut self) {
        *ROUTE.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::report::Redactor;
    use tracing_subscriber::layer::SubscriberExt as _;

    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<String>>>);

    impl WarningSink for Lines {
        fn warning(&self, text: &str) {
            self.0.lock().unwrap().push(text.to_owned());
        }
    }

    #[test]
    fn warnings_become_lines_and_debug_and_library_events_are_dropped() {
        let lines = Lines::default();
        let subscriber = tracing_subscriber::registry().with(WarningLayer::new(lines.clone()));
        tracing::subscriber::with_default(subscriber, || {
            tracing::warn!(
                "cache entry {} is not one this cache wrote; recompiling",
                "abc"
            );
            tracing::debug!("evicted cache entry x");
            tracing::warn!(worker = "w1", pgid = 42, "cannot signal worker");
            tracing::error!("boom");
            tracing::warn!(target: "mongodb::connection", "a library's own warning");
        });
        assert_eq!(
            *lines.0.lock().unwrap(),
            [
                "cache entry abc is not one this cache wrote; recompiling",
                "cannot signal worker (worker=w1, pgid=42)",
                "boom",
            ]
        );
    }

    #[test]
    fn a_routed_warning_is_redacted_and_sanitised_by_the_report() {
        let out = Arc::new(Mutex::new(Vec::<u8>::new()));
        struct Shared(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Shared {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().write(buf)
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let report = TerminalReport::new(
            Box::new(Shared(out.clone())),
            Redactor::new(["hunter2-secret".to_owned()]),
            crate::model::LogLevel::Info,
            false,
        );
        let subscriber = tracing_subscriber::registry().with(WarningLayer::new(report));
        tracing::subscriber::with_default(subscriber, || {
            tracing::warn!("cannot write cache entry /tmp/hunter2-secret/x: \x1b[31mred");
        });
        let text = String::from_utf8(out.lock().unwrap().clone()).unwrap();
        assert!(
            text.starts_with("warning: cannot write cache entry"),
            "{text:?}"
        );
        assert!(!text.contains("hunter2-secret"), "{text:?}");
        assert!(!text.contains('\x1b'), "{text:?}");
    }
}
