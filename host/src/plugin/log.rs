//! The `log` interface: step log lines, shown under the step's banner. Their bytes count
//! against the output budget (`limits.output_max_kb`, [`LogBudget`]) like stdout and
//! stderr: the line that crosses it is cut to what fits and the step traps naming it.

use wasmtime::component::HasData;

use crate::cut::CUT_MARK;
use crate::model::LogLevel;
use crate::plugin::bindings::prometheus::step::log::{Host, Level};
use crate::plugin::ctx::HostState;
use crate::plugin::limits::{Budget, BudgetExceeded};
use crate::plugin::record::Recorder;
use crate::plugin::steps::StepLog;

/// Longest log line kept; longer lines are cut (ending with [`CUT_MARK`]) so one call cannot
/// flood the terminal.
pub const MAX_LOG_LINE_BYTES: usize = 16 * 1024;

/// Log bytes one step may still write: without it a step printed 20 MB to the terminal in
/// 2 s (gigabytes within the default step time).
#[derive(Debug, Clone, Copy)]
pub struct LogBudget {
    used: usize,
    limit: usize,
}

impl LogBudget {
    /// A budget of `limit` bytes, none used.
    pub fn new(limit: usize) -> Self {
        Self { used: 0, limit }
    }

    /// Takes `len` bytes: how many fit, and whether all did.
    fn take(&mut self, len: usize) -> (usize, bool) {
        let fits = len.min(self.limit.saturating_sub(self.used));
        self.used += fits;
        (fits, fits == len)
    }
}

/// What a guest's `log` calls reach: the step's log sink and its budget.
pub struct LogView<'a> {
    log: &'a dyn StepLog,
    budget: &'a mut LogBudget,
    rec: Option<&'a Recorder>,
}

impl<'a> LogView<'a> {
    /// A view writing to `log`, counting against `budget`.
    pub fn new(log: &'a dyn StepLog, budget: &'a mut LogBudget) -> Self {
        Self {
            log,
            budget,
            rec: None,
        }
    }

    /// The same view, keeping every line in `rec`'s recording too.
    pub fn recorded(self, rec: &'a Recorder) -> Self {
        Self {
            rec: Some(rec),
            ..self
        }
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
        let (fits, all) = self.budget.take(line.len());
        let kept = truncate(line, fits);
        if let Some(rec) = self.rec {
            rec.note_log(level_name(level), kept);
        }
        if !kept.is_empty() {
            if kept.len() < message.len() {
                // Marked, so the report masks a secret cut in the middle.
                self.log.line(level, &format!("{kept}{CUT_MARK}"));
            } else {
                self.log.line(level, kept);
            }
        }
        if !all {
            return Err(BudgetExceeded {
                budget: Budget::Log,
                value: format!("{} KiB", self.budget.limit >> 10),
            }
            .into());
        }
        Ok(())
    }
}

// The `types` interface has no functions; it links through any view.
impl crate::plugin::bindings::prometheus::step::types::Host for LogView<'_> {}

/// The level as a recording names it.
fn level_name(level: LogLevel) -> &'static str {
    match level {
        LogLevel::Trace => "trace",
        LogLevel::Debug => "debug",
        LogLevel::Info => "info",
        LogLevel::Warn => "warn",
        LogLevel::Error => "error",
    }
}

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
    LogView::new(&*state.log, &mut state.log_budget).recorded(&state.recorder)
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
        let mut budget = LogBudget::new(1 << 20);
        let mut v = LogView::new(&rec, &mut budget);
        v.log(Level::Warn, "careful".into()).await.unwrap();
        v.log(Level::Info, "é".repeat(MAX_LOG_LINE_BYTES))
            .await
            .unwrap();
        let lines = rec.0.lock().unwrap();
        assert_eq!(lines[0], (LogLevel::Warn, "careful".to_string()));
        assert!(lines[1].1.len() <= MAX_LOG_LINE_BYTES + CUT_MARK.len_utf8());
        assert!(lines[1].1.ends_with(CUT_MARK), "a cut line is marked");
    }

    #[tokio::test]
    async fn log_bytes_past_the_output_budget_trap_naming_it() {
        let rec = Recorder::default();
        let mut budget = LogBudget::new(2 << 10);
        let mut v = LogView::new(&rec, &mut budget);
        v.log(Level::Info, "a".repeat(1500)).await.unwrap();
        let err = v.log(Level::Info, "b".repeat(1500)).await.unwrap_err();
        let exceeded = err.downcast_ref::<BudgetExceeded>().expect("budget");
        assert_eq!(exceeded.budget, Budget::Log);
        assert!(
            err.to_string()
                .contains("log output limit of 2 KiB (raise limits.output_max_kb"),
            "{err}"
        );
        // What fitted was shown; nothing more after the budget is spent.
        assert!(v.log(Level::Info, "c".into()).await.is_err());
        let lines = rec.0.lock().unwrap();
        assert_eq!(lines.len(), 2);
        // The cut line is marked, so a secret cut by the budget is masked too.
        assert!(lines[1].1.ends_with(CUT_MARK), "{:?}", lines[1].1);
        assert_eq!(
            lines[0].1.len() + lines[1].1.len(),
            (2 << 10) + CUT_MARK.len_utf8()
        );
    }
}
