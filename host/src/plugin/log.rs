//! The `log` interface: step log lines, shown under the step's banner.

use wasmtime::component::HasData;

use crate::plugin::bindings::prometheus::step::log::{Host, Level};
use crate::plugin::ctx::HostState;
use crate::plugin::steps::{LogLevel, StepLog};
use crate::workers::CUT_MARK;

/// Longest log line kept; longer lines are cut (ending with [`CUT_MARK`]) so one call cannot
/// flood the terminal.
pub const MAX_LOG_LINE_BYTES: usize = 16 * 1024;

/// What a guest's `log` calls reach: the step's log sink.
pub struct LogView<'a> {
    log: &'a dyn StepLog,
}

impl<'a> LogView<'a> {
    /// A view writing to `log`.
    pub fn new(log: &'a dyn StepLog) -> Self {
        Self { log }
    }
}

impl Host for LogView<'_> {
    async fn log(&mut self, level: Level, message: String) -> wasmtime::Result<()> {
        let level = match level {
            Level::Trace => LogLevel::Trace,
            Level::Debug => LogLevel::Debug,
            Level::Info => LogLevel::Info,
            Level::Warn => LogLevel::Warn,
            Level::Error => LogLevel::Error,
        };
        let line = truncate(&message, MAX_LOG_LINE_BYTES);
        if line.len() < message.len() {
            // Marked, so the report masks a secret cut in the middle.
            self.log.line(level, &format!("{line}{CUT_MARK}"));
        } else {
            self.log.line(level, line);
        }
        Ok(())
    }
}

// The `types` interface has no functions; it links through any view.
impl crate::plugin::bindings::prometheus::step::types::Host for LogView<'_> {}

/// Cuts `text` to at most `max` bytes on a character boundary.
pub fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Links `log` into the store's host state.
pub(crate) struct LogData;

impl HasData for LogData {
    type Data<'a> = LogView<'a>;
}

pub(crate) fn view(state: &mut HostState) -> LogView<'_> {
    LogView::new(&*state.log)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[derive(Default)]
    struct Recorder(Mutex<Vec<(LogLevel, String)>>);
    impl StepLog for Recorder {
        fn line(&self, level: LogLevel, message: &str) {
            self.0.lock().unwrap().push((level, message.to_string()));
        }
    }

    #[tokio::test]
    async fn lines_reach_the_sink_with_their_level() {
        let rec = Recorder::default();
        let mut v = LogView::new(&rec);
        v.log(Level::Warn, "careful".into()).await.unwrap();
        v.log(Level::Info, "é".repeat(MAX_LOG_LINE_BYTES))
            .await
            .unwrap();
        let lines = rec.0.lock().unwrap();
        assert_eq!(lines[0], (LogLevel::Warn, "careful".to_string()));
        assert!(lines[1].1.len() <= MAX_LOG_LINE_BYTES + CUT_MARK.len_utf8());
        assert!(lines[1].1.ends_with(CUT_MARK), "a cut line is marked");
    }
}
