//! How each interface's calls are shown as traces ([`Shown`]): the summary line
//! (`POST http://127.0.0.1:5600/greetings -> 201 Created`, `insert_one todos -> ok`,
//! `worker.sign worker1 staking -> ok`) and the request and answer texts.

use crate::model::CallKind;
use crate::plugin::bindings::prometheus::step::http::{HttpError, Request, Response};
use crate::plugin::bindings::prometheus::step::mongo::{
    Json, MongoError as WitError, UpdateResult as WitUpdateResult,
};
use crate::plugin::bindings::prometheus::step::worker::SigningError;

use super::show::{Shown, body_text, shown_part};

/// How an `http.send` of `request` with `body` is shown.
pub fn http(
    request: &Request,
    body: Option<&[u8]>,
) -> impl FnOnce(&Result<Response, HttpError>) -> Option<Shown> + use<> {
    let line = format!(
        "{} {}",
        shown_part(&request.method).to_ascii_uppercase(),
        shown_part(&request.url)
    );
    let sent = request_text(request, body);
    move |result| {
        let shown = Shown::new(CallKind::Http, String::new()).request(sent);
        Some(match result {
            Ok(response) => {
                let status = status_line(response.status);
                let mut text = format!("HTTP {status}\n");
                for (name, value) in &response.headers {
                    text.push_str(&format!("{name}: {value}\n"));
                }
                text.push('\n');
                text.push_str(&body_text(&response.body));
                Shown {
                    summary: format!("{line} -> {status}"),
                    ..shown.response(text, false)
                }
            }
            Err(error) => {
                let text = error_text(error);
                Shown {
                    summary: format!("{line} -> {text}"),
                    ..shown.response(text, true)
                }
            }
        })
    }
}

/// Headers, a blank line, the body: the request as a trace shows it (`body` is the
/// request's, which may have been taken out of it).
pub fn request_text(request: &Request, body: Option<&[u8]>) -> String {
    let mut text = String::new();
    for (name, value) in &request.headers {
        if text.len() > shown_part(&text).len() {
            break;
        }
        text.push_str(&format!("{}: {}\n", shown_part(name), shown_part(value)));
    }
    if let Some(body) = body.or(request.body.as_deref()) {
        text.push('\n');
        text.push_str(&body_text(body));
    }
    text
}

/// `201 Created`.
fn status_line(status: u16) -> String {
    match reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
    {
        Some(reason) => format!("{status} {reason}"),
        None => status.to_string(),
    }
}

/// `connection error: ...`, as a trace shows a failed request.
fn error_text(error: &HttpError) -> String {
    let (kind, message) = match error {
        HttpError::Denied(m) => ("denied", m),
        HttpError::InvalidRequest(m) => ("invalid request", m),
        HttpError::Connection(m) => ("connection error", m),
        HttpError::Timeout(m) => ("timeout", m),
        HttpError::TooLarge(m) => ("too large", m),
    };
    format!("{kind}: {message}")
}

/// How a Mongo call is shown: `insert_one todos -> ok`, `find todos -> 3 documents`.
pub fn mongo<T: MongoAnswer>(
    op: &'static str,
    collection: &str,
    request: &str,
) -> impl FnOnce(&Result<T, WitError>) -> Option<Shown> + use<T> {
    let summary = format!("{op} {}", shown_part(collection));
    let request = shown_part(request).to_string();
    move |result| {
        let shown = Shown::new(CallKind::Mongo, String::new()).request(request);
        Some(match result {
            Ok(answer) => Shown {
                summary: format!("{summary} -> {}", answer.brief()),
                ..shown.response(answer.text(), false)
            },
            Err(e) => Shown {
                summary: format!("{summary} -> error"),
                ..shown.response(e.message.clone(), true)
            },
        })
    }
}

/// What a Mongo call answered, for traces.
pub trait MongoAnswer {
    /// A few words for the summary line.
    fn brief(&self) -> String {
        "ok".into()
    }
    /// The answer as text.
    fn text(&self) -> String;
}

impl MongoAnswer for Vec<Json> {
    fn brief(&self) -> String {
        match self.len() {
            1 => "1 document".into(),
            n => format!("{n} documents"),
        }
    }
    fn text(&self) -> String {
        // Only what a trace can show: a reply may be 16 MiB.
        let mut text = String::new();
        for (i, doc) in self.iter().enumerate() {
            if i > 0 {
                text.push('\n');
            }
            text.push_str(shown_part(doc));
            if text.len() > shown_part(&text).len() {
                break;
            }
        }
        text
    }
}

impl MongoAnswer for Option<Json> {
    fn brief(&self) -> String {
        if self.is_some() { "1 document" } else { "none" }.into()
    }
    fn text(&self) -> String {
        shown_part(self.as_deref().unwrap_or_default()).to_string()
    }
}

impl MongoAnswer for Json {
    fn text(&self) -> String {
        shown_part(self).to_string()
    }
}

impl MongoAnswer for WitUpdateResult {
    fn brief(&self) -> String {
        format!("matched {}, modified {}", self.matched, self.modified)
    }
    fn text(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

impl MongoAnswer for u64 {
    fn brief(&self) -> String {
        self.to_string()
    }
    fn text(&self) -> String {
        self.to_string()
    }
}

/// A worker read as a trace shows it: `worker.get w url -> "http://..."`.
pub fn worker_read(summary: String, value: Option<&str>) -> Shown {
    Shown::new(CallKind::Worker, summary).response(value.unwrap_or("(none)"), false)
}

/// A signing call's answer as a trace shows it.
pub fn signing(shown: Shown, result: &Result<String, SigningError>) -> Shown {
    let (ok, text) = match result {
        Ok(text) => (true, text.clone()),
        Err(SigningError::NoKeypair(m)) => (false, format!("no keypair: {m}")),
        Err(SigningError::InvalidPayload(m)) => (false, format!("invalid payload: {m}")),
        Err(SigningError::InvalidSignature(m)) => (false, format!("invalid signature: {m}")),
    };
    let summary = format!("{} -> {}", shown.summary, if ok { "ok" } else { "error" });
    Shown {
        summary,
        ..shown.response(text, !ok)
    }
}
