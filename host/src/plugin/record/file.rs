//! The recording file: JSON Lines, a header line naming the format and its version, then
//! one line per recorded step instance ([`StepRecording`]). Written by a [`RecordSink`]
//! (one file per run, bounded, older runs rotated), read by [`read_recording`].

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::clock::ClockRecord;
use super::recorder::RecordedCall;

/// The format version this build writes and the newest it reads.
pub const FORMAT_VERSION: u32 = 1;

/// The `format` value of the header line.
const FORMAT_NAME: &str = "prometheus-wasm-recording";

/// Older recordings kept beside the current one (`recording.1.jsonl` ...).
pub const KEPT_OLD_RECORDINGS: usize = 3;

/// The first line of a recording file.
#[derive(Debug, Serialize, Deserialize)]
struct Header {
    format: String,
    version: u32,
}

/// The package a step ran from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PackageRef {
    /// sha256 of the component file, lowercase hex.
    pub sha256: String,
    /// Where it was loaded from when recorded.
    pub path: String,
}

impl PackageRef {
    /// The package at `path`, made absolute so that a replay on the same machine finds
    /// it from any directory.
    pub fn of(sha256: &str, path: &Path) -> Self {
        Self {
            sha256: sha256.to_string(),
            path: std::fs::canonicalize(path)
                .unwrap_or_else(|_| path.to_path_buf())
                .display()
                .to_string(),
        }
    }
}

/// One step instance: what it was run with, every host call in order, the clocks and
/// randomness it read, and how it ended.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StepRecording {
    /// The round, from 1.
    pub round: u32,
    /// The step's name.
    pub step: String,
    /// The worker it ran against.
    pub worker: String,
    /// The parameters passed to `prepare` and `execute`.
    pub params: Value,
    /// The package.
    pub package: PackageRef,
    /// `done`, `skipped: ...` or the failure's message.
    pub outcome: String,
    /// Whether the step failed.
    pub failed: bool,
    /// The host calls (log lines included), masked.
    pub calls: Vec<RecordedCall>,
    /// The clocks and randomness read.
    #[serde(default)]
    pub clock: ClockRecord,
    /// Calls were dropped from the end to stay within the size bound.
    #[serde(default)]
    pub truncated: bool,
}

/// A recording file as read.
#[derive(Debug, Clone)]
pub struct Recording {
    /// Where it was read from.
    pub path: PathBuf,
    /// Its format version.
    pub version: u32,
    /// The recorded step instances, in order.
    pub steps: Vec<StepRecording>,
}

impl Recording {
    /// The step to replay: `step` (and `round`) when given, else the last failed step,
    /// else the last step.
    pub fn pick(
        &self,
        step: Option<&str>,
        round: Option<u32>,
    ) -> Result<&StepRecording, RecordError> {
        // `max_by_key` keeps the last of equals: the latest (failed) step.
        let found = self
            .steps
            .iter()
            .filter(|s| step.is_none_or(|n| s.step == n))
            .filter(|s| round.is_none_or(|r| s.round == r))
            .max_by_key(|s| s.failed && step.is_none());
        found.ok_or_else(|| RecordError::NoSuchStep {
            path: self.path.clone(),
            wanted: match (step, round) {
                (Some(s), Some(r)) => format!("step `{s}` in round {r}"),
                (Some(s), None) => format!("step `{s}`"),
                (None, Some(r)) => format!("a step in round {r}"),
                (None, None) => "a step".into(),
            },
            recorded: self
                .steps
                .iter()
                .map(|s| format!("{} (round {})", s.step, s.round))
                .collect::<Vec<_>>()
                .join(", "),
        })
    }
}

/// A recording that cannot be written or read.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The file cannot be read or written.
    #[error("recording {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a recording, or is damaged.
    #[error("recording {} is damaged at line {line}: {message}; nothing was run (download it again, or record the run again)", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// The line, from 1.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// Written by a newer prometheus-wasm.
    #[error("recording {} has format version {found}, this prometheus-wasm reads up to version {supported}; replay it with the version that recorded it or a newer one", path.display())]
    Newer {
        /// The file.
        path: PathBuf,
        /// Its version.
        found: u32,
        /// The newest this build reads.
        supported: u32,
    },
    /// The step asked for is not in the file.
    #[error("recording {} has no {wanted}; it holds: {recorded}", path.display())]
    NoSuchStep {
        /// The file.
        path: PathBuf,
        /// What was asked for.
        wanted: String,
        /// What is there.
        recorded: String,
    },
    /// The recording reached its size bound; the step was not written.
    #[error("recording {} is full ({limit} bytes, limits.recording_max_mb or --recording-max-mb); step `{step}` was not recorded", path.display())]
    Full {
        /// The file.
        path: PathBuf,
        /// The bound.
        limit: u64,
        /// The step left out.
        step: String,
    },
}

/// Reads a recording, refusing a damaged file or a newer format before anything runs.
pub fn read_recording(path: &Path) -> Result<Recording, RecordError> {
    let text = std::fs::read(path).map_err(|source| RecordError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let corrupt = |line: usize, message: String| RecordError::Corrupt {
        path: path.to_path_buf(),
        line,
        message,
    };
    let text = String::from_utf8(text).map_err(|e| corrupt(0, format!("not UTF-8 text ({e})")))?;
    let mut lines = text.split_inclusive('\n').enumerate();
    let Some((_, first)) = lines.next() else {
        return Err(corrupt(1, "the file is empty".into()));
    };
    let header: Header = serde_json::from_str(first)
        .ok()
        .filter(|h: &Header| h.format == FORMAT_NAME)
        .ok_or_else(|| corrupt(1, format!("not a prometheus-wasm recording (the first line is not a `{FORMAT_NAME}` header)")))?;
    if header.version > FORMAT_VERSION {
        return Err(RecordError::Newer {
            path: path.to_path_buf(),
            found: header.version,
            supported: FORMAT_VERSION,
        });
    }
    let mut steps = Vec::new();
    for (index, line) in lines {
        if !line.ends_with('\n') {
            return Err(corrupt(
                index + 1,
                "the last record is incomplete (the file was cut while being written or copied)"
                    .into(),
            ));
        }
        let step = serde_json::from_str(line).map_err(|e| corrupt(index + 1, e.to_string()))?;
        steps.push(step);
    }
    if steps.is_empty() {
        return Err(corrupt(2, "the recording holds no step".into()));
    }
    Ok(Recording {
        path: path.to_path_buf(),
        version: header.version,
        steps,
    })
}

/// Where a run's recorded steps go: `recording.jsonl` beside the state file, bounded;
/// the previous runs' files are rotated to `recording.1.jsonl` ... when a run writes its
/// first step.
#[derive(Debug)]
pub struct RecordSink {
    path: PathBuf,
    limit: u64,
    /// The open file and the bytes written so far; none until the first step.
    written: Mutex<Option<(std::fs::File, u64)>>,
}

impl RecordSink {
    /// The sink of a run in `dir`, at most `limit` bytes. Nothing is touched until the
    /// first step is written: then the previous run's file is rotated away.
    pub fn new(dir: &Path, limit: u64) -> Self {
        Self {
            path: dir.join("recording.jsonl"),
            limit,
            written: Mutex::new(None),
        }
    }

    /// `recording.jsonl` → `recording.1.jsonl` → ... (the oldest dropped).
    fn rotate(&self) -> std::io::Result<()> {
        if !self.path.exists() {
            return Ok(());
        }
        let dir = self.path.parent().unwrap_or(Path::new("."));
        let old = |n: usize| dir.join(format!("recording.{n}.jsonl"));
        for n in (1..KEPT_OLD_RECORDINGS).rev() {
            if old(n).exists() {
                std::fs::rename(old(n), old(n + 1))?;
            }
        }
        std::fs::rename(&self.path, old(1))
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one step; when it does not fit, calls are dropped from its end (marked
    /// `truncated`) until it does. Returns the file's path.
    pub fn write(&self, mut step: StepRecording) -> Result<PathBuf, RecordError> {
        let io = |source| RecordError::Io {
            path: self.path.clone(),
            source,
        };
        let mut written = self.written.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = Vec::new();
        if written.is_none() {
            let header = Header {
                format: FORMAT_NAME.into(),
                version: FORMAT_VERSION,
            };
            serde_json::to_writer(&mut out, &header).expect("a header serializes");
            out.push(b'\n');
        }
        let used = written.as_ref().map_or(0, |(_, n)| *n) + out.len() as u64;
        let mut line = to_line(&step);
        while used + line.len() as u64 > self.limit && !step.calls.is_empty() {
            let keep = step.calls.len() / 2;
            step.calls.truncate(keep);
            step.truncated = true;
            line = to_line(&step);
        }
        if used + line.len() as u64 > self.limit {
            return Err(RecordError::Full {
                path: self.path.clone(),
                limit: self.limit,
                step: step.step,
            });
        }
        out.extend_from_slice(&line);
        let (file, size) = match written.take() {
            Some(open) => open,
            None => {
                self.rotate().map_err(io)?;
                let file = std::fs::OpenOptions::new()
                    .create(true)
                    .truncate(true)
                    .write(true)
                    .open(&self.path)
                    .map_err(io)?;
                (file, 0)
            }
        };
        // One write per step: a reader sees whole lines, or a cut last one it refuses.
        let mut file = file;
        if let Err(e) = file.write_all(&out) {
            *written = Some((file, size));
            return Err(io(e));
        }
        *written = Some((file, used + line.len() as u64));
        Ok(self.path.clone())
    }
}

fn to_line(step: &StepRecording) -> Vec<u8> {
    let mut line = serde_json::to_vec(step).expect("a step recording serializes");
    line.push(b'\n');
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn step(name: &str, failed: bool, calls: usize) -> StepRecording {
        StepRecording {
            round: 1,
            step: name.into(),
            failed,
            calls: (0..calls)
                .map(|i| RecordedCall {
                    op: "state.get".into(),
                    args: json!({"key": format!("k{i}")}),
                    result: json!("\"v\""),
                })
                .collect(),
            ..StepRecording::default()
        }
    }

    #[test]
    fn written_steps_read_back_and_the_failed_one_is_picked() {
        let dir = tempfile::tempdir().unwrap();
        let sink = RecordSink::new(dir.path(), 1 << 20);
        sink.write(step("a", false, 2)).unwrap();
        let path = sink.write(step("b", true, 1)).unwrap();
        sink.write(step("c", false, 0)).unwrap();
        let rec = read_recording(&path).unwrap();
        assert_eq!(rec.steps.len(), 3);
        assert_eq!(rec.pick(None, None).unwrap().step, "b", "the failed one");
        let passing = Recording {
            steps: vec![rec.steps[0].clone(), rec.steps[2].clone()],
            ..rec.clone()
        };
        assert_eq!(passing.pick(None, None).unwrap().step, "c", "else the last");
        assert_eq!(rec.pick(Some("a"), Some(1)).unwrap().calls.len(), 2);
        let err = rec.pick(Some("d"), None).unwrap_err().to_string();
        assert!(
            err.contains("has no step `d`; it holds: a (round 1), b (round 1), c (round 1)"),
            "{err}"
        );
        // A new run rotates the file when it writes its first step.
        let again = RecordSink::new(dir.path(), 1 << 20);
        assert!(again.path().exists());
        again.write(step("e", true, 0)).unwrap();
        assert_eq!(
            read_recording(&dir.path().join("recording.1.jsonl"))
                .unwrap()
                .steps
                .len(),
            3
        );
        assert_eq!(read_recording(again.path()).unwrap().steps.len(), 1);
    }

    #[test]
    fn the_size_bound_cuts_calls_then_refuses() {
        let dir = tempfile::tempdir().unwrap();
        let sink = RecordSink::new(dir.path(), 2000);
        let path = sink.write(step("big", true, 200)).unwrap();
        let rec = read_recording(&path).unwrap();
        assert!(rec.steps[0].truncated);
        assert!(rec.steps[0].calls.len() < 200);
        assert!(std::fs::metadata(&path).unwrap().len() <= 2000);
        let mut huge = step("huge", true, 0);
        huge.outcome = "x".repeat(5000);
        assert!(matches!(sink.write(huge), Err(RecordError::Full { .. })));
    }

    #[test]
    fn damaged_empty_and_newer_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let sink = RecordSink::new(dir.path(), 1 << 20);
        let path = sink.write(step("a", true, 3)).unwrap();
        let full = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, &full[..full.len() - 10]).unwrap();
        let err = read_recording(&path).unwrap_err().to_string();
        assert!(
            err.contains("damaged at line 2: the last record is incomplete"),
            "{err}"
        );
        std::fs::write(&path, "").unwrap();
        assert!(
            read_recording(&path)
                .unwrap_err()
                .to_string()
                .contains("empty")
        );
        std::fs::write(&path, "{\"hello\": 1}\n").unwrap();
        let err = read_recording(&path).unwrap_err().to_string();
        assert!(err.contains("not a prometheus-wasm recording"), "{err}");
        std::fs::write(&path, full.replacen("\"version\":1", "\"version\":7", 1)).unwrap();
        let err = read_recording(&path).unwrap_err().to_string();
        assert!(
            err.contains("format version 7, this prometheus-wasm reads up to version 1"),
            "{err}"
        );
    }
}
