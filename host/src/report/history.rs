//! The results journal, `data_dir/test_state.results.jsonl`: every step result of a run,
//! across the invocations that made it (a run that failed, then resumed), so that the
//! reports of the last invocation tell the whole story — a red-then-resumed-green run
//! shows its failed attempt.
//!
//! Format (version [`RESULTS_VERSION`], JSON Lines, UTF-8, each line ends with `\n`):
//!
//! ```text
//! {"journal":"prometheus-wasm results journal","version":1}
//! {"record":"invocation","invocation":1,"started_at":"2026-11-29T06:00:00Z","resume":"starting a fresh run (no saved state)","resumed_at":null}
//! {"record":"step","invocation":1,"round":1,"step":"fetch","worker":"worker1","status":"failed","detail":"…","duration_ms":3.2,"logs":[…],"calls":[…]}
//! {"record":"interrupted","invocation":1,"signal":"SIGTERM"}
//! ```
//!
//! Crash safety follows the checkpoint journal (`store/journal.rs`): records are only
//! appended, each in one write; a last line without its `\n` or that does not parse is a
//! write cut short and is ignored (and cut off before the next append); a journal of a
//! newer format is refused rather than misread. A fresh run (`--reset`, no saved state, a
//! completed run) starts a new journal. Texts are stored redacted; reports scrub them again.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::crash_point::{abort_at, crash_point, reached};

/// The journal's name inside `data_dir`, beside `test_state.json`.
pub const RESULTS_FILE_NAME: &str = "test_state.results.jsonl";
/// The format version this build writes and the newest it reads.
pub const RESULTS_VERSION: u32 = 1;
/// The most bytes a results journal may hold when it is read back (every message in it is
/// cut to [`MESSAGE_MAX_BYTES`](super::sanitize::MESSAGE_MAX_BYTES) when written): a journal
/// is a file in `data_dir` that anyone who can write there may have replaced.
pub const RESULTS_MAX_BYTES: u64 = 256 * crate::bounded_read::MIB;
/// The header's `journal` value: tells this file apart from any other JSON Lines file.
const RESULTS_MAGIC: &str = "prometheus-wasm results journal";

/// One line of the journal after its header.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "record", rename_all = "snake_case")]
pub enum Entry {
    /// An invocation of `run` started.
    Invocation(InvocationEntry),
    /// A step ended (passed, skipped or failed).
    Step(StepEntry),
    /// The invocation was stopped by a signal (Ctrl-C, a CI job cancelled or timed out).
    Interrupted(InterruptedEntry),
}

/// An invocation stopped by a signal; the step it was running did not end.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InterruptedEntry {
    /// The invocation.
    pub invocation: u32,
    /// `SIGINT` or `SIGTERM`.
    pub signal: String,
}

/// An invocation of `run` that worked on this run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InvocationEntry {
    /// 1 for the invocation that started the run, then consecutive.
    pub invocation: u32,
    /// When it started, RFC 3339 in UTC.
    pub started_at: String,
    /// The run banner's line: "starting a fresh run (…)", "resuming round 2 after step x".
    pub resume: String,
    /// Where a resumed invocation continued: round and index of its first step.
    pub resumed_at: Option<(u32, usize)>,
}

/// How a step attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The step returned `done`.
    Passed,
    /// The step returned `skip`.
    Skipped,
    /// The step failed or trapped.
    Failed,
}

impl Status {
    /// `passed`, `skipped`, `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Passed => "passed",
            Status::Skipped => "skipped",
            Status::Failed => "failed",
        }
    }
}

/// One attempt at one step of one round.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepEntry {
    /// The invocation that ran it.
    pub invocation: u32,
    /// The round, from 1.
    pub round: u32,
    /// The step's name.
    pub step: String,
    /// The worker it ran against.
    pub worker: String,
    /// How it ended.
    pub status: Status,
    /// The skip reason or the failure message; `None` when it passed.
    pub detail: Option<String>,
    /// How long it ran, in milliseconds.
    pub duration_ms: f64,
    /// The lines it logged, in order.
    pub logs: Vec<LogEntry>,
    /// The host calls it made, in order.
    pub calls: Vec<CallEntry>,
    /// The faults applied on purpose at its boundaries or while it ran, in order (absent
    /// from entries written before faults existed, and when there were none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub faults: Vec<FaultEntry>,
}

/// A fault applied at a step's boundary or during it ([`RunEvent::FaultApplied`](crate::runner::RunEvent::FaultApplied)
/// (crate::runner::RunEvent::FaultApplied)).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultEntry {
    /// `round start`, `before`, `after` or `ended`.
    pub when: String,
    /// The worker it acted on.
    pub worker: String,
    /// What was done: `killed worker1 (pid 123)`.
    pub fault: String,
}

/// A line a step logged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogEntry {
    /// `trace`, `debug`, `info`, `warn` or `error`.
    pub level: String,
    /// The line.
    pub message: String,
}

/// A host call a step made ([`HostCall`](crate::model::HostCall), as stored).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallEntry {
    /// `http`, `mongo`, `state` or `worker`.
    pub kind: String,
    /// One line: `POST http://127.0.0.1:5001/task -> 200 OK`.
    pub summary: String,
    /// The request, cut and masked; may be empty.
    pub request: String,
    /// The answer or the error, cut and masked.
    pub response: String,
    /// Whether the call failed.
    pub failed: bool,
    /// How long the host took, in milliseconds.
    pub duration_ms: f64,
}

/// The journal could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// Reading or writing failed.
    #[error(
        "cannot {action} the results journal {}: {source}; check the permissions and free space of its directory (data_dir)",
        path.display()
    )]
    Io {
        /// `read`, `write`.
        action: &'static str,
        /// The journal.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// The journal is not a regular file (a FIFO, a device) or is larger than
    /// [`RESULTS_MAX_BYTES`].
    #[error(
        "cannot read the results journal: {source}; delete it (the reports then cover this invocation only) or run with --reset"
    )]
    Unreadable {
        /// Why, naming the file.
        #[source]
        source: crate::bounded_read::ReadError,
    },
    /// A line other than the last is not a record (or the header is wrong).
    #[error(
        "the results journal {} is damaged at line {line}: {reason}; delete it (the reports then cover this invocation only) or run with --reset",
        path.display()
    )]
    Damaged {
        /// The journal.
        path: PathBuf,
        /// The line, from 1.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// Written by a newer prometheus-wasm.
    #[error(
        "the results journal {} has format version {found}, newer than this build's {supported}; run the newer prometheus-wasm, or --reset",
        path.display()
    )]
    Version {
        /// The journal.
        path: PathBuf,
        /// Its version.
        found: u32,
        /// The newest this build reads.
        supported: u32,
    },
}

/// What [`read`] found.
#[derive(Debug, Default)]
pub struct History {
    /// The complete records, in order.
    pub entries: Vec<Entry>,
    /// Bytes of the file up to the end of the last complete record.
    pub good_len: u64,
    /// Whether a last record cut short by a crash was ignored.
    pub torn_tail: bool,
}

/// Reads the journal at `path`; `Ok(None)` when there is none.
pub fn read(path: &Path) -> Result<Option<History>, HistoryError> {
    use crate::bounded_read::{ReadError, read_bytes_if_exists};
    let bytes = match read_bytes_if_exists(path, RESULTS_MAX_BYTES, "results journal") {
        Ok(Some(bytes)) => bytes,
        Ok(None) => return Ok(None),
        Err(ReadError::Io { source, .. }) => {
            return Err(HistoryError::Io {
                action: "read",
                path: path.to_owned(),
                source,
            });
        }
        Err(source) => return Err(HistoryError::Unreadable { source }),
    };
    let damaged = |line: usize, reason: String| HistoryError::Damaged {
        path: path.to_owned(),
        line,
        reason,
    };
    let mut lines = bytes
        .split_inclusive(|b| *b == b'\n')
        .enumerate()
        .peekable();
    let header = match lines.next() {
        Some((_, line)) if line.ends_with(b"\n") => line,
        _ => {
            return Err(damaged(
                1,
                "the header line is missing or incomplete".into(),
            ));
        }
    };
    let header_len = header.len() as u64;
    let header: serde_json::Value =
        serde_json::from_slice(header).map_err(|e| damaged(1, e.to_string()))?;
    if header.get("journal").and_then(|v| v.as_str()) != Some(RESULTS_MAGIC) {
        return Err(damaged(
            1,
            format!("the header does not say {RESULTS_MAGIC:?}"),
        ));
    }
    let version = header.get("version").and_then(|v| v.as_u64()).unwrap_or(0);
    if version > u64::from(RESULTS_VERSION) {
        return Err(HistoryError::Version {
            path: path.to_owned(),
            found: u32::try_from(version).unwrap_or(u32::MAX),
            supported: RESULTS_VERSION,
        });
    }
    let mut offset = header_len;
    let mut history = History {
        good_len: offset,
        ..History::default()
    };
    while let Some((index, line)) = lines.next() {
        offset += line.len() as u64;
        let is_last = lines.peek().is_none();
        let parsed = if line.ends_with(b"\n") {
            serde_json::from_slice::<Entry>(line).map_err(|e| e.to_string())
        } else {
            Err("the line has no end".to_owned())
        };
        match parsed {
            Ok(entry) => {
                history.entries.push(entry);
                history.good_len = offset;
            }
            // A crash during the append: that step re-runs and is recorded again.
            Err(_) if is_last => history.torn_tail = true,
            Err(reason) => return Err(damaged(index + 1, reason)),
        }
    }
    Ok(Some(history))
}

/// An open journal that entries are appended to.
#[derive(Debug)]
pub struct ResultsWriter {
    path: PathBuf,
    file: File,
    buffer: Vec<u8>,
}

impl ResultsWriter {
    /// Starts a new, empty journal at `path`, replacing any (temp file, then rename: an
    /// old journal is never half overwritten).
    pub fn create(path: &Path) -> Result<Self, HistoryError> {
        let err = |source| HistoryError::Io {
            action: "write",
            path: path.to_owned(),
            source,
        };
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let mut temp = tempfile::Builder::new()
            .prefix(".results.")
            .tempfile_in(dir)
            .map_err(err)?;
        let header = serde_json::json!({"journal": RESULTS_MAGIC, "version": RESULTS_VERSION});
        writeln!(temp, "{header}").map_err(err)?;
        crash_point("results.create.after-write");
        let file = temp.persist(path).map_err(|e| err(e.error))?;
        crash_point("results.create.after-rename");
        Ok(Self::over(path, file))
    }

    /// Opens the journal at `path` to append after its `good_len` bytes (what [`read`]
    /// found complete), cutting off a torn last record.
    pub fn append_to(path: &Path, good_len: u64) -> Result<Self, HistoryError> {
        let err = |source| HistoryError::Io {
            action: "write",
            path: path.to_owned(),
            source,
        };
        let file = OpenOptions::new().write(true).open(path).map_err(err)?;
        file.set_len(good_len).map_err(err)?;
        let file = OpenOptions::new().append(true).open(path).map_err(err)?;
        Ok(Self::over(path, file))
    }

    fn over(path: &Path, file: File) -> Self {
        ResultsWriter {
            path: path.to_owned(),
            file,
            buffer: Vec::with_capacity(512),
        }
    }

    /// Appends one entry, in one write call.
    pub fn append(&mut self, entry: &Entry) -> Result<(), HistoryError> {
        self.buffer.clear();
        serde_json::to_writer(&mut self.buffer, entry).expect("entries serialize");
        self.buffer.push(b'\n');
        crash_point("results.append.before-write");
        if reached("results.append.torn-write") {
            let _ = self.file.write_all(&self.buffer[..self.buffer.len() / 2]);
            abort_at("results.append.torn-write");
        }
        self.file
            .write_all(&self.buffer)
            .map_err(|source| HistoryError::Io {
                action: "write",
                path: self.path.clone(),
                source,
            })?;
        crash_point("results.append.after-write");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    //! The results journal's reading rules; appending is tested with the collector.

    use super::*;

    fn journal(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join(RESULTS_FILE_NAME);
        std::fs::write(&path, text).expect("write");
        (dir, path)
    }

    #[test]
    fn no_journal_is_none_and_a_bare_header_is_empty() {
        let dir = tempfile::tempdir().expect("temp dir");
        assert!(read(&dir.path().join("absent")).expect("ok").is_none());
        let header = "{\"journal\":\"prometheus-wasm results journal\",\"version\":1}\n";
        let (_dir, path) = journal(header);
        let found = read(&path).expect("ok").expect("some");
        assert!(found.entries.is_empty() && !found.torn_tail);
        assert_eq!(found.good_len, header.len() as u64);
    }

    #[test]
    fn a_file_that_is_not_a_results_journal_is_refused() {
        for text in [
            "",
            "{\"journal\":\"prometheus-wasm results journal\"",
            "{\"a\":1}\n",
        ] {
            let (_dir, path) = journal(text);
            let err = read(&path).expect_err(text);
            assert!(
                matches!(err, HistoryError::Damaged { line: 1, .. }),
                "{err}"
            );
        }
    }

    #[test]
    fn a_complete_last_line_that_does_not_parse_is_a_torn_tail() {
        let header = "{\"journal\":\"prometheus-wasm results journal\",\"version\":1}\n";
        let (_dir, path) = journal(&format!("{header}{{\"record\":\"nonsense\"}}\n"));
        let found = read(&path).expect("ok").expect("some");
        assert!(found.torn_tail);
        assert_eq!(found.good_len, header.len() as u64);
    }
}
