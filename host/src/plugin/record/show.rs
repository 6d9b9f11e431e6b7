//! How host calls are shown ([`Shown`] → [`HostCall`]) and how HTTP bodies are kept
//! compact in a recording (text when they are UTF-8, not arrays of byte numbers).

use std::time::Duration;

use serde_json::Value;

use super::Masker;
use crate::cut::CUT_MARK;
use crate::model::{CALL_TEXT_MAX_BYTES, CallKind, HostCall};
use crate::plugin::log::truncate;

/// A host call as an interface describes it, before it is cut and masked.
#[derive(Debug, Clone)]
pub struct Shown {
    /// Which interface.
    pub kind: CallKind,
    /// One line, see [`HostCall::summary`].
    pub summary: String,
    /// The request text.
    pub request: String,
    /// The answer text (the error for a failed call).
    pub response: String,
    /// Whether the guest got an error value.
    pub failed: bool,
}

impl Shown {
    /// A call of `kind` summarised as `summary`, with no texts yet.
    pub fn new(kind: CallKind, summary: impl Into<String>) -> Self {
        Self {
            kind,
            summary: summary.into(),
            request: String::new(),
            response: String::new(),
            failed: false,
        }
    }

    /// With this request text (only the part a trace can show is copied).
    pub fn request(mut self, text: impl AsRef<str>) -> Self {
        self.request = shown_part(text.as_ref()).to_string();
        self
    }

    /// With this answer text (only the part a trace can show is copied); `failed` marks
    /// an error value.
    pub fn response(mut self, text: impl AsRef<str>, failed: bool) -> Self {
        self.response = shown_part(text.as_ref()).to_string();
        self.failed = failed;
        self
    }

    /// The [`HostCall`]: texts cut to [`CALL_TEXT_MAX_BYTES`] (the cut marked), then
    /// masked, so a secret cut in the middle is masked too.
    pub fn into_call(self, duration: Duration, mask: &Masker) -> HostCall {
        HostCall {
            kind: self.kind,
            summary: mask.text(&cut(&self.summary)),
            request: mask.text(&cut(&self.request)),
            response: mask.text(&cut(&self.response)),
            failed: self.failed,
            duration,
        }
    }
}

/// The start of `text` a trace can show: [`CALL_TEXT_MAX_BYTES`] and a few bytes more, so
/// [`Shown::into_call`] still sees that it was longer and marks the cut. Taken before a
/// guest's text is copied for a trace, so a 64 MiB argument costs 4 KiB, not 64 MiB.
pub fn shown_part(text: &str) -> &str {
    truncate(text, CALL_TEXT_MAX_BYTES + 4)
}

fn cut(text: &str) -> String {
    let kept = truncate(text, CALL_TEXT_MAX_BYTES);
    if kept.len() < text.len() {
        format!("{kept}{CUT_MARK}")
    } else {
        kept.to_string()
    }
}

/// Bytes as text for people: UTF-8 as it is, anything else as a count. Only the part a
/// trace can show ([`shown_part`]) is copied.
pub fn body_text(body: &[u8]) -> String {
    let head = &body[..body.len().min(CALL_TEXT_MAX_BYTES + 4)];
    match std::str::from_utf8(head) {
        Ok(text) => text.to_string(),
        // A character cut at the end of the head is still text.
        Err(e) if e.error_len().is_none() && head.len() < body.len() => {
            String::from_utf8_lossy(&head[..e.valid_up_to()]).into_owned()
        }
        Err(_) => format!("<{} bytes of binary data>", body.len()),
    }
}

/// Rewrites every `body` array of byte numbers in an `http.send` argument or answer into
/// a string when it is UTF-8 (`{"text": ...}` would be ambiguous; a JSON string can only
/// come from this rewrite, since the WIT type is `list<u8>`).
pub fn compact_http(mut value: Value) -> Value {
    walk_bodies(&mut value, &|body| {
        let Value::Array(items) = body else { return };
        let bytes: Option<Vec<u8>> = items
            .iter()
            .map(|v| v.as_u64().and_then(|n| u8::try_from(n).ok()))
            .collect();
        if let Some(text) = bytes.and_then(|b| String::from_utf8(b).ok()) {
            *body = Value::String(text);
        }
    });
    value
}

/// The inverse of [`compact_http`]: string bodies back to byte arrays for the WIT types.
pub fn expand_http(mut value: Value) -> Value {
    walk_bodies(&mut value, &|body| {
        if let Value::String(text) = body {
            *body = Value::Array(text.bytes().map(Value::from).collect());
        }
    });
    value
}

/// Applies `f` to the `body` fields of a request, a response, or the `Ok` of a result.
fn walk_bodies(value: &mut Value, f: &dyn Fn(&mut Value)) {
    if let Value::Object(map) = value {
        if let Some(body) = map.get_mut("body") {
            f(body);
        }
        for key in ["Ok", "request"] {
            if let Some(inner) = map.get_mut(key) {
                walk_bodies(inner, f);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn bodies_become_text_and_back() {
        let response = json!({"Ok": {"status": 200, "headers": [], "body": [104, 105]}});
        let compact = compact_http(response.clone());
        assert_eq!(compact["Ok"]["body"], json!("hi"));
        assert_eq!(expand_http(compact), response);
        let binary = json!({"Ok": {"status": 200, "headers": [], "body": [255, 0]}});
        assert_eq!(compact_http(binary.clone()), binary);
    }

    #[test]
    fn long_texts_are_cut_marked_and_masked() {
        let mask = Masker::new(|t| t.replace("s3cret", "***"));
        let call = Shown::new(CallKind::Http, "GET x?token=s3cret -> 200 OK")
            .request("a".repeat(CALL_TEXT_MAX_BYTES + 10))
            .response("token s3cret", false)
            .into_call(Duration::ZERO, &mask);
        assert_eq!(call.summary, "GET x?token=*** -> 200 OK");
        assert!(call.request.ends_with(CUT_MARK));
        assert_eq!(call.response, "token ***");
    }
}
