//! [`Player`]: answers a replayed step's host calls from its recording, in order, and
//! stops at the first call that differs ([`Divergence`]).

use std::fmt;
use std::sync::Mutex;

use serde_json::Value;
use similar::{ChangeTag, TextDiff};

use super::clock::ClockRecord;
use super::file::StepRecording;
use super::recorder::RecordedCall;

/// The recorded calls of one step, answered in order.
#[derive(Debug)]
pub struct Player {
    calls: Vec<RecordedCall>,
    clock: ClockRecord,
    /// Whether the recording was cut by its size bound (its end is not the step's end).
    truncated: bool,
    next: Mutex<usize>,
    divergence: Mutex<Option<Divergence>>,
}

/// The first call of a replay that the recording does not answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Divergence {
    /// The call's position among the step's calls, from 1.
    pub index: usize,
    /// What the recording holds at that position; none when the recording ended.
    pub recorded: Option<RecordedCall>,
    /// The call the guest made now.
    pub new: RecordedCall,
}

impl Player {
    /// A player for `step`; its log lines are not matched.
    pub fn new(step: &StepRecording) -> Self {
        Self::from_parts(step.calls.clone(), step.clock.clone(), step.truncated)
    }

    /// A player for these recorded calls, taken rather than copied (a replay holds one
    /// step's calls once); `truncated` says the recording was cut by its size bound.
    pub fn from_parts(calls: Vec<RecordedCall>, clock: ClockRecord, truncated: bool) -> Self {
        Self {
            calls: calls.into_iter().filter(|c| !c.is_log()).collect(),
            clock,
            truncated,
            next: Mutex::new(0),
            divergence: Mutex::new(None),
        }
    }

    /// The clocks and randomness to give the guest.
    pub fn clock(&self) -> &ClockRecord {
        &self.clock
    }

    /// The recorded answer to the next call, if the call is the recorded one. Otherwise
    /// the divergence is kept (see [`Player::divergence`]) and returned as the error that
    /// ends the step.
    pub fn answer(&self, op: &str, args: &Value) -> wasmtime::Result<Value> {
        let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
        let index = *next;
        let recorded = self.calls.get(index);
        if let Some(call) = recorded
            && call.op == op
            && &call.args == args
        {
            *next += 1;
            return Ok(call.result.clone());
        }
        let divergence = Divergence {
            index: index + 1,
            recorded: recorded.cloned(),
            new: RecordedCall {
                op: op.to_string(),
                args: args.clone(),
                result: Value::Null,
            },
        };
        let message = divergence.headline(self.truncated);
        *self.divergence.lock().unwrap_or_else(|e| e.into_inner()) = Some(divergence);
        Err(wasmtime::Error::msg(message))
    }

    /// The first divergence, if the replay met one.
    pub fn divergence(&self) -> Option<Divergence> {
        self.divergence
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// How many recorded calls were answered.
    pub fn answered(&self) -> usize {
        *self.next.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How many calls the recording holds (log lines not counted).
    pub fn len(&self) -> usize {
        self.calls.len()
    }

    /// Whether the recording holds no call.
    pub fn is_empty(&self) -> bool {
        self.calls.is_empty()
    }
}

impl Divergence {
    /// Whether the guest went past the recording's end (rather than making another call).
    pub fn past_the_end(&self) -> bool {
        self.recorded.is_none()
    }

    /// One line: which call, and how it differs.
    pub fn headline(&self, truncated: bool) -> String {
        match &self.recorded {
            None if truncated => format!(
                "replay reached the end of the recording (cut by its size bound) at call #{}: {}",
                self.index,
                describe(&self.new)
            ),
            None => format!(
                "replay went past the end of the recording at call #{}: {} (the recorded run made no more calls)",
                self.index,
                describe(&self.new)
            ),
            Some(recorded) => format!(
                "replay diverged at call #{}: recorded {}, new {}",
                self.index,
                describe(recorded),
                describe(&self.new)
            ),
        }
    }
}

/// Bytes of a call's detail (URL, collection, key) in a headline; a recording may hold
/// any length.
const DETAIL_MAX_BYTES: usize = 200;

/// Bytes of each side's arguments that are diffed: a 200 MiB body diffs and prints in
/// bounded time and size.
pub const DIFF_TEXT_MAX_BYTES: usize = 16 * 1024;

/// `text` cut to `max` bytes at a character boundary, with the number of bytes left out.
fn cut(text: &str, max: usize) -> String {
    let kept = crate::plugin::log::truncate(text, max);
    if kept.len() < text.len() {
        format!("{kept}… ({} more bytes)", text.len() - kept.len())
    } else {
        kept.to_string()
    }
}

/// `http.send POST http://...`, `mongo.find todos`, `state.set greeting`.
fn describe(call: &RecordedCall) -> String {
    let text = describe_whole(call);
    cut(&text, DETAIL_MAX_BYTES + call.op.len() + 1)
}

fn describe_whole(call: &RecordedCall) -> String {
    let a = &call.args;
    let text = |key: &str| a.get(key).and_then(Value::as_str).unwrap_or("");
    let detail = if let Some(request) = a.get("request") {
        format!(
            "{} {}",
            request.get("method").and_then(Value::as_str).unwrap_or(""),
            request.get("url").and_then(Value::as_str).unwrap_or("")
        )
    } else if a.get("collection").is_some() {
        text("collection").to_string()
    } else if a.get("key").is_some() {
        text("key").to_string()
    } else {
        String::new()
    };
    if detail.is_empty() {
        call.op.clone()
    } else {
        format!("{} {detail}", call.op)
    }
}

/// Arguments as indented JSON, a JSON text body shown as JSON, for a line diff.
fn pretty(args: &Value) -> String {
    let mut args = args.clone();
    if let Some(Value::String(body)) = args.pointer_mut("/request/body")
        && let Ok(parsed) = serde_json::from_str::<Value>(body)
    {
        args["request"]["body"] = parsed;
    }
    serde_json::to_string_pretty(&args).unwrap_or_default()
}

impl fmt::Display for Divergence {
    /// The recorded call and the new one side by side, then a diff of their arguments.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "call #{}:", self.index)?;
        let recorded = self
            .recorded
            .as_ref()
            .map_or("(the recording ends here)".to_string(), describe);
        writeln!(f, "  recorded: {recorded}")?;
        writeln!(f, "  new:      {}", describe(&self.new))?;
        let Some(old) = &self.recorded else {
            return Ok(());
        };
        let (old, new) = (pretty(&old.args), pretty(&self.new.args));
        let (old, new) = (
            cut(&old, DIFF_TEXT_MAX_BYTES),
            cut(&new, DIFF_TEXT_MAX_BYTES),
        );
        writeln!(f, "  arguments (- recorded, + new):")?;
        for change in TextDiff::from_lines(&old, &new).iter_all_changes() {
            let sign = match change.tag() {
                ChangeTag::Delete => '-',
                ChangeTag::Insert => '+',
                ChangeTag::Equal => ' ',
            };
            // A change's text ends with a newline, added by `similar` where the text had none.
            write!(f, "  {sign} {change}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn step(calls: Vec<RecordedCall>) -> StepRecording {
        StepRecording {
            calls,
            ..StepRecording::default()
        }
    }

    fn call(op: &str, args: Value, result: Value) -> RecordedCall {
        RecordedCall {
            op: op.into(),
            args,
            result,
        }
    }

    #[test]
    fn answers_in_order_and_names_the_first_difference() {
        let post = |body: &str| json!({"request": {"method": "POST", "url": "http://127.0.0.1:5600/greetings", "body": body}});
        let player = Player::new(&step(vec![
            call("state.get", json!({"key": "a"}), json!("1")),
            call(
                "log.log",
                json!({"level": "info", "message": "hi"}),
                Value::Null,
            ),
            call("http.send", post(r#"{"name":"x"}"#), json!({"Ok": {}})),
        ]));
        assert_eq!(player.len(), 2, "log lines are not matched");
        assert_eq!(
            player.answer("state.get", &json!({"key": "a"})).unwrap(),
            json!("1")
        );
        let err = player
            .answer("http.send", &post(r#"{"name":"y"}"#))
            .unwrap_err();
        assert!(
            err.to_string().contains(
                "replay diverged at call #2: recorded http.send POST http://127.0.0.1:5600/greetings"
            ),
            "{err}"
        );
        let shown = player.divergence().unwrap().to_string();
        assert!(shown.contains("-       \"name\": \"x\""), "{shown}");
        assert!(shown.contains("+       \"name\": \"y\""), "{shown}");
        assert_eq!(player.answered(), 1);
    }

    #[test]
    fn a_call_past_the_end_is_named() {
        let player = Player::new(&step(vec![]));
        let err = player
            .answer("mongo.find", &json!({"collection": "todos"}))
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("went past the end of the recording at call #1: mongo.find todos"),
            "{err}"
        );
        assert!(player.divergence().unwrap().past_the_end());
    }

    #[test]
    fn a_huge_recorded_argument_is_cut_in_the_headline_and_the_diff() {
        let big = "x".repeat(1 << 20);
        let player = Player::new(&step(vec![call(
            "state.get",
            json!({"key": big.clone()}),
            json!("1"),
        )]));
        let err = player
            .answer("state.get", &json!({"key": format!("{big}y")}))
            .unwrap_err()
            .to_string();
        assert!(err.len() < 1024, "{} bytes", err.len());
        assert!(err.contains("more bytes)"), "{err}");
        let shown = player.divergence().unwrap().to_string();
        assert!(
            shown.len() < 4 * DIFF_TEXT_MAX_BYTES,
            "{} bytes",
            shown.len()
        );
        assert!(shown.contains("more bytes)"));
    }
}
