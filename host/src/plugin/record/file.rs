//! The recording file: JSON Lines, a header line naming the format and its version, then
//! one line per recorded step instance ([`StepRecording`]). Written by a [`RecordSink`]
//! (one file per run, bounded, older runs rotated), read by [`pick_step`] (streamed: one
//! step held) or [`read_recording`] (whole).

use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Take, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::de::{DeserializeOwned, IgnoredAny};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::bounded_read::{self, ReadError};
use crate::config::closest;
use crate::error::UserFacing;
use crate::model::MAX_STEP_NAME_BYTES;
use crate::plugin::cache::is_sha256_hex;
use crate::plugin::log::truncate;

use super::clock::ClockRecord;
use super::recorder::RecordedCall;

/// The format version this build writes and the newest it reads.
pub const FORMAT_VERSION: u32 = 1;

/// The `format` value of the header line.
const FORMAT_NAME: &str = "prometheus-wasm-recording";

/// The largest recording `replay` reads: 16 times the largest a run writes by default
/// (`limits.recording_max_mb`, 64 MiB), far above any real one. Reading is streamed, so
/// this bounds time and disk reads, not memory.
pub const RECORDING_MAX_BYTES: u64 = 1 << 30;

/// The header line is a few dozen bytes; a longer first line is not a recording.
const HEADER_MAX_BYTES: u64 = 4096;

/// Step instances named in a "no such step" message; the rest are counted.
pub const LISTED_STEPS_MAX: usize = 20;

/// Bytes of one step name in such a message.
const LISTED_NAME_MAX_BYTES: usize = 80;

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
    /// The faults the test applied on purpose before the step (`killed worker1 (pid
    /// 123)`): the recorded answers already carry their effect. Absent when none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub faults: Vec<String>,
    /// The seed of the run's network fault decisions (`--seed`), when it had fault proxies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault_seed: Option<u64>,
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
        let mut chooser = Chooser::new(step, round);
        for (index, s) in self.steps.iter().enumerate() {
            chooser.see(&s.step, s.round, s.failed, index);
        }
        match chooser.best {
            Some((_, index)) => Ok(&self.steps[index]),
            None => Err(chooser.not_found(&self.path)),
        }
    }
}

/// The steps a recording holds, seen one at a time: which one to replay, and what to say
/// when none matches, in memory bounded by [`LISTED_STEPS_MAX`] names whatever the count.
struct Chooser<'a, T> {
    step: Option<&'a str>,
    round: Option<u32>,
    /// The chosen one so far: its rank and where it is.
    best: Option<(bool, T)>,
    listed: Vec<String>,
    total: usize,
    closest: Option<String>,
}

impl<'a, T> Chooser<'a, T> {
    fn new(step: Option<&'a str>, round: Option<u32>) -> Self {
        Self {
            step,
            round,
            best: None,
            listed: Vec::new(),
            total: 0,
            closest: None,
        }
    }

    /// One recorded step instance, at `at`. The rank prefers a failed step when no step
    /// is named; among equals the latest wins.
    fn see(&mut self, name: &str, round: u32, failed: bool, at: T) {
        self.total += 1;
        if self.listed.len() < LISTED_STEPS_MAX {
            self.listed
                .push(format!("{} (round {round})", shorten(name)));
        }
        if let Some(wanted) = self.step
            && name != wanted
            && name.len() <= MAX_STEP_NAME_BYTES
        {
            let candidates = match &self.closest {
                Some(previous) => vec![previous.as_str(), name],
                None => vec![name],
            };
            self.closest = closest(wanted, &candidates).map(str::to_string);
        }
        let matches = self.step.is_none_or(|n| name == n) && self.round.is_none_or(|r| round == r);
        if !matches {
            return;
        }
        let rank = failed && self.step.is_none();
        if self.best.as_ref().is_none_or(|(best, _)| rank >= *best) {
            self.best = Some((rank, at));
        }
    }

    fn not_found(self, path: &Path) -> RecordError {
        let mut recorded = self.listed.join(", ");
        if self.total > self.listed.len() {
            recorded.push_str(&format!(", … and {} more", self.total - self.listed.len()));
        }
        RecordError::NoSuchStep {
            path: path.to_path_buf(),
            wanted: match (self.step, self.round) {
                (Some(s), Some(r)) => format!("step `{}` in round {r}", shorten(s)),
                (Some(s), None) => format!("step `{}`", shorten(s)),
                (None, Some(r)) => format!("a step in round {r}"),
                (None, None) => "a step".into(),
            },
            recorded,
            suggestion: self
                .closest
                .map(|c| format!("; did you mean `{c}`?"))
                .unwrap_or_default(),
        }
    }
}

/// A name as listed in a message: at most [`LISTED_NAME_MAX_BYTES`] bytes, the cut marked.
fn shorten(name: &str) -> String {
    let kept = truncate(name, LISTED_NAME_MAX_BYTES);
    if kept.len() < name.len() {
        format!("{kept}… ({} more bytes)", name.len() - kept.len())
    } else {
        kept.to_string()
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
    #[error("recording {} has no {wanted}; it holds: {recorded}{suggestion}", path.display())]
    NoSuchStep {
        /// The file.
        path: PathBuf,
        /// What was asked for.
        wanted: String,
        /// What is there: at most [`LISTED_STEPS_MAX`] step instances and a count.
        recorded: String,
        /// `; did you mean ...?` when a recorded name is close to the one asked for.
        suggestion: String,
    },
    /// The file cannot be read as a recording at all: missing, not a regular file (a
    /// FIFO, a device), or larger than [`RECORDING_MAX_BYTES`].
    #[error("cannot read recording {0}; nothing was run ({hint})", hint = .0.hint().unwrap_or_default())]
    Unreadable(ReadError),
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

/// Reads a whole recording, refusing a damaged file or a newer format. Every step is held
/// in memory: `replay` uses [`pick_step`], which holds only the chosen one.
pub fn read_recording(path: &Path) -> Result<Recording, RecordError> {
    let file = RecordingFile::open(path)?;
    let mut steps = Vec::new();
    file.each::<StepRecording>(|_, step| steps.push(step))?;
    if steps.is_empty() {
        return Err(file.corrupt(2, "the recording holds no step".into()));
    }
    Ok(Recording {
        path: path.to_path_buf(),
        version: file.version,
        steps,
    })
}

/// One step instance chosen from a recording by [`pick_step`].
#[derive(Debug, Clone)]
pub struct Picked {
    /// The recording file.
    pub path: PathBuf,
    /// Its format version.
    pub version: u32,
    /// The chosen step instance, whole.
    pub step: StepRecording,
}

/// What the first pass over a recording keeps of each line: enough to choose. The other
/// fields must be there and be JSON, but are skipped without being held.
#[derive(Deserialize)]
struct Summary {
    round: u32,
    step: String,
    failed: bool,
    #[allow(dead_code)]
    worker: IgnoredAny,
    #[allow(dead_code)]
    params: IgnoredAny,
    #[allow(dead_code)]
    package: IgnoredAny,
    #[allow(dead_code)]
    outcome: IgnoredAny,
    #[allow(dead_code)]
    calls: IgnoredAny,
}

/// The step to replay from the recording at `path` (`step` and `round` when given, else
/// the last failed step, else the last step), streamed: the file is read twice (first to
/// choose, keeping one record's name at a time, then the chosen record), so memory is
/// bounded by the chosen step, not by the file. The file is refused before anything runs
/// when it is not a regular file, is larger than [`RECORDING_MAX_BYTES`], is damaged or
/// newer, or the chosen step's package sha256 is not 64 lowercase hex digits.
pub fn pick_step(
    path: &Path,
    step: Option<&str>,
    round: Option<u32>,
) -> Result<Picked, RecordError> {
    let file = RecordingFile::open(path)?;
    let mut chooser = Chooser::new(step, round);
    file.each::<Summary>(|at, s| chooser.see(&s.step, s.round, s.failed, at))?;
    if chooser.total == 0 {
        return Err(file.corrupt(2, "the recording holds no step".into()));
    }
    let Some((_, at)) = chooser.best else {
        return Err(chooser.not_found(path));
    };
    let step: StepRecording = file.one_at(at)?;
    if !is_sha256_hex(&step.package.sha256) {
        return Err(file.corrupt(
            at.line,
            "its package sha256 is not 64 lowercase hex digits".into(),
        ));
    }
    Ok(Picked {
        path: path.to_path_buf(),
        version: file.version,
        step,
    })
}

/// Where a record is in the file.
#[derive(Debug, Clone, Copy)]
struct At {
    /// Its line, from 1 (the header is line 1).
    line: usize,
    /// Where the whitespace before it starts.
    offset: u64,
}

/// An open recording whose header was read: records are parsed straight from the file by
/// serde_json's stream deserializer, one value at a time, never a whole line or file.
struct RecordingFile {
    path: PathBuf,
    file: std::fs::File,
    /// The file's length when opened.
    len: u64,
    /// Where the records start (after the header line).
    body: u64,
    version: u32,
}

impl RecordingFile {
    /// Opens the file (a regular file of at most [`RECORDING_MAX_BYTES`], never waiting on
    /// a FIFO) and reads its header.
    fn open(path: &Path) -> Result<Self, RecordError> {
        let file = bounded_read::open_regular(path).map_err(RecordError::Unreadable)?;
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        if len > RECORDING_MAX_BYTES {
            return Err(RecordError::Unreadable(ReadError::TooLarge {
                path: path.to_path_buf(),
                what: "recording",
                limit: RECORDING_MAX_BYTES,
            }));
        }
        let mut recording = Self {
            path: path.to_path_buf(),
            file,
            len,
            body: 0,
            version: 0,
        };
        let mut line = Vec::new();
        BufReader::new((&recording.file).take(HEADER_MAX_BYTES))
            .read_until(b'\n', &mut line)
            .map_err(|e| recording.io(e))?;
        if line.is_empty() {
            return Err(recording.corrupt(1, "the file is empty".into()));
        }
        let header = serde_json::from_slice::<Header>(&line)
            .ok()
            .filter(|h| h.format == FORMAT_NAME && line.ends_with(b"\n"))
            .ok_or_else(|| recording.corrupt(1, format!("not a prometheus-wasm recording (the first line is not a `{FORMAT_NAME}` header)")))?;
        if header.version > FORMAT_VERSION {
            return Err(RecordError::Newer {
                path: path.to_path_buf(),
                found: header.version,
                supported: FORMAT_VERSION,
            });
        }
        recording.body = line.len() as u64;
        recording.version = header.version;
        Ok(recording)
    }

    fn io(&self, source: std::io::Error) -> RecordError {
        RecordError::Io {
            path: self.path.clone(),
            source,
        }
    }

    fn corrupt(&self, line: usize, message: String) -> RecordError {
        RecordError::Corrupt {
            path: self.path.clone(),
            line,
            message,
        }
    }

    fn incomplete(&self, line: usize) -> RecordError {
        self.corrupt(
            line,
            "the last record is incomplete (the file was cut while being written or copied)".into(),
        )
    }

    /// A buffered reader of the file from `offset`, never past [`RECORDING_MAX_BYTES`].
    fn reader_at(&self, offset: u64) -> Result<BufReader<Take<std::fs::File>>, RecordError> {
        let mut file = self.file.try_clone().map_err(|e| self.io(e))?;
        file.seek(SeekFrom::Start(offset)).map_err(|e| self.io(e))?;
        let left = RECORDING_MAX_BYTES.saturating_sub(offset);
        Ok(BufReader::with_capacity(64 * 1024, file.take(left)))
    }

    /// Parses every record as `T`, in order, handing each to `f` with where it is.
    fn each<T: DeserializeOwned>(&self, mut f: impl FnMut(At, T)) -> Result<(), RecordError> {
        let reader = self.reader_at(self.body)?;
        let mut stream = serde_json::Deserializer::from_reader(reader).into_iter::<T>();
        let mut at = At {
            line: 2,
            offset: self.body,
        };
        while let Some(item) = stream.next() {
            match item {
                Ok(value) => {
                    f(at, value);
                    at = At {
                        line: at.line + 1,
                        offset: self.body + stream.byte_offset() as u64,
                    };
                }
                Err(e) if e.is_eof() => return Err(self.incomplete(at.line)),
                Err(e) => return Err(self.corrupt(at.line, e.to_string())),
            }
        }
        // Each record ends with its newline: a last one without it was cut right after
        // its closing brace.
        if self.len > self.body {
            let mut last = [0u8];
            std::os::unix::fs::FileExt::read_exact_at(&self.file, &mut last, self.len - 1)
                .map_err(|e| self.io(e))?;
            if last[0] != b'\n' {
                return Err(self.incomplete(at.line - 1));
            }
        }
        Ok(())
    }

    /// The record at `at`, parsed whole as `T`.
    fn one_at<T: DeserializeOwned>(&self, at: At) -> Result<T, RecordError> {
        let reader = self.reader_at(at.offset)?;
        let mut de = serde_json::Deserializer::from_reader(reader);
        T::deserialize(&mut de).map_err(|e| {
            if e.is_eof() {
                self.incomplete(at.line)
            } else {
                self.corrupt(at.line, e.to_string())
            }
        })
    }
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

    /// The most bytes the file may hold.
    pub fn limit(&self) -> u64 {
        self.limit
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

    #[test]
    fn pick_step_streams_to_the_chosen_step_and_checks_its_sha256() {
        let dir = tempfile::tempdir().unwrap();
        let sink = RecordSink::new(dir.path(), 1 << 20);
        let sha = "a".repeat(64);
        for (name, failed) in [("a", false), ("b", true), ("c", false)] {
            let mut s = step(name, failed, 2);
            s.package.sha256 = sha.clone();
            sink.write(s).unwrap();
        }
        let path = sink.path().to_path_buf();
        assert_eq!(pick_step(&path, None, None).unwrap().step.step, "b");
        let c = pick_step(&path, Some("c"), Some(1)).unwrap();
        assert_eq!((c.step.step.as_str(), c.step.calls.len()), ("c", 2));
        let err = pick_step(&path, Some("bb"), None).unwrap_err().to_string();
        assert!(
            err.contains("it holds: a (round 1), b (round 1), c (round 1); did you mean `b`?"),
            "{err}"
        );
        // A sha256 that is a path is refused, naming the line, before anything runs.
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, text.replacen(&sha, "/tmp/x/payload", 2)).unwrap();
        let err = pick_step(&path, Some("b"), None).unwrap_err().to_string();
        assert!(
            err.contains("damaged at line 3: its package sha256 is not 64 lowercase hex digits"),
            "{err}"
        );
    }

    #[test]
    fn many_steps_are_listed_up_to_the_cap_and_counted() {
        let mut steps: Vec<StepRecording> = (0..1000)
            .map(|i| step(&format!("s{i}"), false, 0))
            .collect();
        steps.push(step(&"x".repeat(10_000), false, 0));
        let rec = Recording {
            path: PathBuf::from("r.jsonl"),
            version: 1,
            steps,
        };
        let err = rec.pick(Some("nope"), None).unwrap_err().to_string();
        assert!(err.len() < 2048, "{} bytes", err.len());
        assert!(
            err.contains(&format!(", … and {} more", 1001 - LISTED_STEPS_MAX)),
            "{err}"
        );
    }

    #[test]
    fn a_fifo_a_device_and_a_complete_record_without_its_newline_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        for path in [fifo.as_path(), Path::new("/dev/zero")] {
            let err = pick_step(path, None, None).unwrap_err().to_string();
            assert!(err.contains("not a regular file"), "{err}");
        }
        let sink = RecordSink::new(dir.path(), 1 << 20);
        let path = sink.write(step("a", true, 1)).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, text.trim_end()).unwrap();
        let err = read_recording(&path).unwrap_err().to_string();
        assert!(err.contains("the last record is incomplete"), "{err}");
    }
}
