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
        let clock = match &ctx.player {
            Some(player) => ClockTape::replaying(player.clock()),
            None => ClockTape::recording(),
        };
        Self {
            log,
            mask: ctx.mask.clone(),
            keep: ctx.mode != RecordMode::Off || ctx.player.is_some(),
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
