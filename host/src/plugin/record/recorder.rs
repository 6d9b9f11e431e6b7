//! [`Recorder`]: the one place a step instance's host calls go through.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::clock::ClockTape;
use super::player::Player;
use super::show::{Shown, expand_http};
use super::{Masker, RecordCtx, RecordMode};
use crate::plugin::steps::StepLog;
use crate::store::limits::json_text_bytes;

/// One host call as a recording holds it: the call's name (`http.send`, `mongo.find`,
/// `state.set`, ...), its arguments and its answer, as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedCall {
    /// `interface.function`.
    pub op: String,
    /// The arguments, named.
    pub args: Value,
    /// The answer the guest got (an error value included). `null` for log lines.
    #[serde(default)]
    pub result: Value,
}

impl RecordedCall {
    /// Log lines are kept for reading but not matched in a replay: a fixed step may log
    /// differently and still make the same calls.
    pub fn is_log(&self) -> bool {
        self.op == "log.log"
    }
}

/// The arguments of one host call as a recording holds them, built only when the call is
/// kept (or a replay must match them): a call that is neither kept nor replayed never
/// copies its arguments, and one whose arguments do not fit what the recording may still
/// hold is dropped before they are built.
pub struct Args<F> {
    bytes: usize,
    build: F,
}

impl<F: FnOnce() -> Value> Args<F> {
    /// Arguments `build` makes, about `bytes` large in memory (the lengths of the texts
    /// and byte lists in them, plus a little): charged before they are built.
    pub fn new(bytes: usize, build: F) -> Self {
        Self { bytes, build }
    }
}

/// No arguments.
pub fn no_args() -> Args<fn() -> Value> {
    Args::new(0, || Value::Object(serde_json::Map::new()))
}

/// What a kept call costs beyond its arguments and result: its name, the `RecordedCall`
/// and the JSON objects around them.
const CALL_OVERHEAD_BYTES: usize = 128;

/// The calls a recorder keeps and the bytes they take, against the recording's size.
#[derive(Debug, Default)]
struct Kept {
    calls: Vec<RecordedCall>,
    /// Bytes the kept calls take (about their JSON text).
    bytes: usize,
    /// A call did not fit: it and every later call were dropped, so the kept calls are a
    /// prefix a replay can follow.
    truncated: bool,
}

/// The host calls of one step instance: shows each to the step log, keeps them when the
/// run records, and answers them from a [`Player`] in a replay.
///
/// What it keeps is bounded by the recording's size (`limits.recording_max_mb`): a step
/// cannot write more than that to the file, so holding more in memory is only a way to
/// exhaust the host (64 `state.set` calls of 64 MiB took 3 GiB when every call's
/// arguments were kept). Past the bound the rest of the step's calls are dropped, before
/// their arguments or results are copied, and the step's recording is marked truncated.
pub struct Recorder {
    log: Arc<dyn StepLog>,
    mask: Masker,
    keep: bool,
    /// Most bytes the kept calls may take.
    keep_limit: usize,
    player: Option<Arc<Player>>,
    kept: Mutex<Kept>,
    /// The clocks and randomness the guest was given (or is given back, in a replay).
    pub(crate) clock: Arc<ClockTape>,
}

/// A step log that drops everything, for [`Recorder::quiet`].
struct Discard;

impl StepLog for Discard {
    fn line(&self, _: crate::model::LogLevel, _: &str) {}
}

/// What a replay keeps at most (for -vv): the recording it replays is bounded by the same
/// default size.
const REPLAY_KEEP_BYTES: usize = 64 << 20;

impl Recorder {
    /// A recorder that shows nothing and keeps nothing (unit tests of the interfaces).
    pub fn quiet() -> Self {
        let ctx = RecordCtx {
            mode: RecordMode::Off,
            ..RecordCtx::default()
        };
        Self::new(&ctx, Arc::new(Discard))
    }

    /// The recorder of one instance of a run configured by `ctx`.
    pub fn new(ctx: &RecordCtx, log: Arc<dyn StepLog>) -> Self {
        // Kept when they may be written (or, in a replay, for -vv); a run without a sink
        // (`list`, a manifest read) keeps nothing.
        let keep = (ctx.mode != RecordMode::Off && ctx.sink.is_some()) || ctx.player.is_some();
        let keep_limit = ctx.sink.as_ref().map_or(REPLAY_KEEP_BYTES, |sink| {
            usize::try_from(sink.limit()).unwrap_or(usize::MAX)
        });
        let clock = match &ctx.player {
            Some(player) => ClockTape::replaying(player.clock()),
            None => ClockTape::recording(keep),
        };
        Self {
            log,
            mask: ctx.mask.clone(),
            keep,
            keep_limit,
            player: ctx.player.clone(),
            kept: Mutex::new(Kept::default()),
            clock: Arc::new(clock),
        }
    }

    /// Whether calls are answered from a recording (no live call is ever made).
    pub fn is_replay(&self) -> bool {
        self.player.is_some()
    }

    /// Runs one host call: `live` (never polled in a replay, where the recording answers),
    /// then shows it (`show` builds the trace, `None` hides it) and keeps it. A replay
    /// whose call differs from the recording's ends the step with the [`Divergence`].
    ///
    /// [`Divergence`]: super::Divergence
    pub async fn call<R, F>(
        &self,
        op: &'static str,
        args: Args<impl FnOnce() -> Value>,
        live: F,
        show: impl FnOnce(&R) -> Option<Shown>,
    ) -> wasmtime::Result<R>
    where
        R: Serialize + DeserializeOwned,
        F: Future<Output = R>,
    {
        self.call_kept_as(op, args, live, show, |result, room| {
            // Counted without building it: a result past the room is never copied.
            let bytes = json_text_bytes(result);
            (bytes <= room).then(|| (bytes, serde_json::to_value(result).unwrap_or(Value::Null)))
        })
        .await
    }

    /// [`Recorder::call`] with the result kept as `keep_as` builds it: given the result and
    /// the bytes the recording may still hold, its size and JSON, or `None` when it does
    /// not fit (then it is not built).
    pub async fn call_kept_as<R, F>(
        &self,
        op: &'static str,
        args: Args<impl FnOnce() -> Value>,
        live: F,
        show: impl FnOnce(&R) -> Option<Shown>,
        keep_as: impl FnOnce(&R, usize) -> Option<(usize, Value)>,
    ) -> wasmtime::Result<R>
    where
        R: Serialize + DeserializeOwned,
        F: Future<Output = R>,
    {
        let started = Instant::now();
        let Args { bytes, build } = args;
        let mut build = Some(build);
        let (result, args): (R, Option<Value>) = match &self.player {
            None => (live.await, None),
            Some(player) => {
                // A replay matches the arguments, so it always builds them.
                let args = build.take().map_or(Value::Null, |build| build());
                let mut answer = player.answer(op, &args)?;
                if op == "http.send" {
                    answer = expand_http(answer);
                }
                let result = serde_json::from_value(answer).map_err(|e| {
                    wasmtime::Error::msg(format!(
                        "the recording's answer to {op} does not fit the call: {e}"
                    ))
                })?;
                (result, Some(args))
            }
        };
        let duration = started.elapsed();
        self.log
            .timed(crate::timings::StepPart::HostCalls, duration);
        if let Some(shown) = show(&result) {
            self.log.call(&shown.into_call(duration, &self.mask));
        }
        if self.keep {
            let room = self.room(bytes.saturating_add(CALL_OVERHEAD_BYTES));
            match room.and_then(|room| keep_as(&result, room)) {
                Some((result_bytes, result)) => {
                    let args = match (args, build) {
                        (Some(args), _) => args,
                        (None, Some(build)) => build(),
                        (None, None) => Value::Null,
                    };
                    self.push(
                        RecordedCall {
                            op: op.to_string(),
                            args,
                            result,
                        },
                        bytes + result_bytes + CALL_OVERHEAD_BYTES,
                    );
                }
                None => self.truncate(),
            }
        }
        Ok(result)
    }

    /// Keeps a log line (shown through the step log by the `log` interface itself).
    pub fn note_log(&self, level: &str, message: &str) {
        if self.keep {
            let bytes = message.len() + CALL_OVERHEAD_BYTES;
            if self.room(bytes).is_none() {
                self.truncate();
                return;
            }
            self.push(
                RecordedCall {
                    op: "log.log".into(),
                    args: serde_json::json!({ "level": level, "message": message }),
                    result: Value::Null,
                },
                bytes,
            );
        }
    }

    /// What the recording may still hold once `bytes` more are kept, or `None` when they
    /// do not fit (or an earlier call did not).
    fn room(&self, bytes: usize) -> Option<usize> {
        let kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        if kept.truncated {
            return None;
        }
        self.keep_limit.checked_sub(kept.bytes)?.checked_sub(bytes)
    }

    /// Drops this call and every later one: the kept calls stay a prefix.
    fn truncate(&self) {
        self.kept
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .truncated = true;
    }

    fn push(&self, call: RecordedCall, bytes: usize) {
        let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        if !kept.truncated {
            kept.bytes += bytes;
            kept.calls.push(call);
        }
    }

    /// The calls kept so far, masked, in order.
    pub fn take_calls(&self) -> Vec<RecordedCall> {
        let mut calls =
            std::mem::take(&mut self.kept.lock().unwrap_or_else(|e| e.into_inner()).calls);
        for call in &mut calls {
            self.mask.json(&mut call.args);
            self.mask.json(&mut call.result);
        }
        calls
    }

    /// Whether calls were dropped because they did not fit the recording's size.
    pub fn truncated(&self) -> bool {
        self.kept
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .truncated
    }

    /// How many calls were kept.
    pub fn len(&self) -> usize {
        self.kept
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .calls
            .len()
    }

    /// Whether no call was kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CallKind, HostCall};
    use crate::plugin::record::file::StepRecording;
    use serde_json::json;

    #[derive(Default)]
    struct Shows(Mutex<Vec<HostCall>>);

    impl StepLog for Shows {
        fn line(&self, _: crate::model::LogLevel, _: &str) {}
        fn call(&self, call: &HostCall) {
            self.0.lock().unwrap().push(call.clone());
        }
    }

    fn shown(summary: &str) -> impl FnOnce(&Option<String>) -> Option<Shown> {
        let summary = summary.to_string();
        move |r| {
            Some(
                Shown::new(CallKind::State, summary).response(r.clone().unwrap_or_default(), false),
            )
        }
    }

    #[tokio::test]
    async fn live_calls_are_shown_kept_and_masked() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = RecordCtx {
            mask: Masker::new(|t| t.replace("s3cret", "***")),
            sink: Some(Arc::new(crate::plugin::record::RecordSink::new(
                dir.path(),
                1 << 20,
            ))),
            ..RecordCtx::default()
        };
        let shows = Arc::new(Shows::default());
        let rec = Recorder::new(&ctx, shows.clone());
        let answer = rec
            .call(
                "worker.env",
                Args::new(5, || json!({"name": "TOKEN"})),
                async { Some("s3cret".to_string()) },
                shown("worker.env w TOKEN"),
            )
            .await
            .unwrap();
        assert_eq!(
            answer.as_deref(),
            Some("s3cret"),
            "the guest gets the value"
        );
        rec.note_log("info", "hi");
        let calls = shows.0.lock().unwrap();
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].response, "***");
        let kept = rec.take_calls();
        assert_eq!(kept.len(), 2);
        assert_eq!(kept[0].result, json!("***"), "written masked");
        assert!(kept[1].is_log());
    }

    #[tokio::test]
    async fn a_replay_never_polls_the_live_call() {
        let step = StepRecording {
            calls: vec![RecordedCall {
                op: "state.get".into(),
                args: json!({"key": "k"}),
                result: json!("\"recorded\""),
            }],
            ..StepRecording::default()
        };
        let ctx = RecordCtx {
            player: Some(Arc::new(Player::new(&step))),
            ..RecordCtx::default()
        };
        let shows = Arc::new(Shows::default());
        let rec = Recorder::new(&ctx, shows.clone());
        let live = async { panic!("a replay must not make a live call") };
        let answer: Option<String> = rec
            .call(
                "state.get",
                Args::new(1, || json!({"key": "k"})),
                live,
                shown("get k"),
            )
            .await
            .unwrap();
        assert_eq!(answer.as_deref(), Some("\"recorded\""));
        assert_eq!(shows.0.lock().unwrap()[0].response, "\"recorded\"");
        let live = async { panic!("a replay must not make a live call") };
        let err = rec
            .call::<Option<String>, _>(
                "state.get",
                Args::new(5, || json!({"key": "other"})),
                live,
                |_| None,
            )
            .await
            .unwrap_err();
        assert!(err.to_string().contains("went past the end"), "{err}");
    }

    fn recording_ctx(dir: &std::path::Path, limit: u64) -> RecordCtx {
        RecordCtx {
            sink: Some(Arc::new(crate::plugin::record::RecordSink::new(dir, limit))),
            ..RecordCtx::default()
        }
    }

    #[tokio::test]
    async fn kept_calls_stop_at_the_recording_size_before_their_arguments_are_built() {
        let dir = tempfile::tempdir().unwrap();
        let rec = Recorder::new(
            &recording_ctx(dir.path(), 10 << 10),
            Arc::new(Shows::default()),
        );
        let value = "v".repeat(6 << 10);
        let kept = |value: &str| {
            let value = value.to_string();
            Args::new(value.len(), move || json!({ "value": value }))
        };
        rec.call("state.set", kept(&value), async { 1 }, |_| None)
            .await
            .unwrap();
        assert_eq!(rec.len(), 1);
        assert!(!rec.truncated());
        // The second does not fit: its arguments are never built, the step is marked.
        let never = Args::new(value.len(), || -> Value { panic!("built past the bound") });
        let answer = rec
            .call("state.set", never, async { 2 }, |_| None)
            .await
            .unwrap();
        assert_eq!(answer, 2, "the guest still gets its answer");
        assert!(rec.truncated());
        // A later small call is dropped too: the kept calls stay a prefix for a replay.
        rec.call("state.get", kept("k"), async { 3 }, |_| None)
            .await
            .unwrap();
        rec.note_log("info", "after the cut");
        assert_eq!(rec.len(), 1);
        let calls = rec.take_calls();
        assert_eq!(calls[0].args["value"], json!(value));
    }

    #[tokio::test]
    async fn a_result_past_the_room_is_not_copied() {
        let dir = tempfile::tempdir().unwrap();
        let rec = Recorder::new(
            &recording_ctx(dir.path(), 4 << 10),
            Arc::new(Shows::default()),
        );
        let big = "r".repeat(8 << 10);
        let answer = rec
            .call(
                "config.get",
                Args::new(1, || json!({"key": "k"})),
                async { Some(big) },
                |_| None,
            )
            .await
            .unwrap();
        assert_eq!(answer.map(|a| a.len()), Some(8 << 10));
        assert!(rec.truncated());
        assert!(rec.is_empty());
    }

    #[tokio::test]
    async fn a_recorder_that_keeps_nothing_never_builds_arguments() {
        let rec = Recorder::quiet();
        let never = Args::new(1 << 30, || -> Value {
            panic!("built though nothing is kept")
        });
        let answer = rec
            .call("state.set", never, async { 7 }, |_| None)
            .await
            .unwrap();
        assert_eq!(answer, 7);
        assert!(rec.is_empty());
        assert!(!rec.truncated());
    }
}
