//! [`Recorder`]: the one place a step instance's host calls go through.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::clock::ClockTape;
use super::player::Player;
use super::show::{Shown, compact_http, expand_http};
use super::{Masker, RecordCtx, RecordMode};
use crate::plugin::steps::StepLog;

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

/// The host calls of one step instance: shows each to the step log, keeps them when the
/// run records, and answers them from a [`Player`] in a replay.
pub struct Recorder {
    log: Arc<dyn StepLog>,
    mask: Masker,
    keep: bool,
    player: Option<Arc<Player>>,
    calls: Mutex<Vec<RecordedCall>>,
    /// The clocks and randomness the guest was given (or is given back, in a replay).
    pub(crate) clock: Arc<ClockTape>,
}

/// A step log that drops everything, for [`Recorder::quiet`].
struct Discard;

impl StepLog for Discard {
    fn line(&self, _: crate::plugin::steps::LogLevel, _: &str) {}
}

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
        let clock = match &ctx.player {
            Some(player) => ClockTape::replaying(player.clock()),
            None => ClockTape::recording(keep),
        };
        Self {
            log,
            mask: ctx.mask.clone(),
            keep,
            player: ctx.player.clone(),
            calls: Mutex::new(Vec::new()),
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
        args: Value,
        live: F,
        show: impl FnOnce(&R) -> Option<Shown>,
    ) -> wasmtime::Result<R>
    where
        R: Serialize + DeserializeOwned,
        F: Future<Output = R>,
    {
        let started = Instant::now();
        let args = if op == "http.send" {
            compact_http(args)
        } else {
            args
        };
        let result: R = match &self.player {
            None => live.await,
            Some(player) => {
                let mut answer = player.answer(op, &args)?;
                if op == "http.send" {
                    answer = expand_http(answer);
                }
                serde_json::from_value(answer).map_err(|e| {
                    wasmtime::Error::msg(format!(
                        "the recording's answer to {op} does not fit the call: {e}"
                    ))
                })?
            }
        };
        let duration = started.elapsed();
        if let Some(shown) = show(&result) {
            self.log.call(&shown.into_call(duration, &self.mask));
        }
        if self.keep {
            let mut result = serde_json::to_value(&result).unwrap_or(Value::Null);
            if op == "http.send" {
                result = compact_http(result);
            }
            self.push(RecordedCall {
                op: op.to_string(),
                args,
                result,
            });
        }
        Ok(result)
    }

    /// Keeps a log line (shown through the step log by the `log` interface itself).
    pub fn note_log(&self, level: &str, message: &str) {
        if self.keep {
            self.push(RecordedCall {
                op: "log.log".into(),
                args: serde_json::json!({ "level": level, "message": message }),
                result: Value::Null,
            });
        }
    }

    fn push(&self, call: RecordedCall) {
        self.calls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(call);
    }

    /// The calls kept so far, masked, in order.
    pub fn take_calls(&self) -> Vec<RecordedCall> {
        let mut calls = std::mem::take(&mut *self.calls.lock().unwrap_or_else(|e| e.into_inner()));
        for call in &mut calls {
            self.mask.json(&mut call.args);
            self.mask.json(&mut call.result);
        }
        calls
    }

    /// How many calls were kept.
    pub fn len(&self) -> usize {
        self.calls.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Whether no call was kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::record::file::StepRecording;
    use crate::plugin::{CallKind, HostCall};
    use serde_json::json;

    #[derive(Default)]
    struct Shows(Mutex<Vec<HostCall>>);

    impl StepLog for Shows {
        fn line(&self, _: crate::plugin::steps::LogLevel, _: &str) {}
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
                json!({"name": "TOKEN"}),
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
            .call("state.get", json!({"key": "k"}), live, shown("get k"))
            .await
            .unwrap();
        assert_eq!(answer.as_deref(), Some("\"recorded\""));
        assert_eq!(shows.0.lock().unwrap()[0].response, "\"recorded\"");
        let live = async { panic!("a replay must not make a live call") };
        let err = rec
            .call::<Option<String>, _>("state.get", json!({"key": "other"}), live, |_| None)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("went past the end"), "{err}");
    }
}
