//! Text taken from a recording, made printable: cut to a size (at a character boundary,
//! the number of bytes left out said), then every control, bidi or invisible character
//! escaped. A recording is hostile input; nothing from it reaches a message otherwise.

use std::borrow::Cow;

use crate::plugin::log::truncate;
use crate::report::sanitize::{sanitize_line, sanitize_text};

/// Bytes of a step or worker name as printed.
pub(crate) const NAME_MAX_BYTES: usize = 256;

/// Bytes of the recorded outcome's line as printed.
const OUTCOME_MAX_BYTES: usize = 4096;

/// Bytes of any other message printed from the recording or the replayed step (a
/// failure, a divergence with its diff, an error about the recording).
pub(crate) const MESSAGE_MAX_BYTES: usize = 16 * 1024;

/// `text` as one printable line: cut to `max` bytes (at a character boundary, the number
/// of bytes left out said), then every control, bidi or invisible character escaped.
pub(crate) fn bounded_line(text: &str, max: usize) -> String {
    sanitize_line(&cut(text, max)).into_owned()
}

/// Like [`bounded_line`], keeping newlines (a diff, a multi-line failure).
pub(crate) fn bounded_text(text: &str, max: usize) -> String {
    sanitize_text(&cut(text, max)).into_owned()
}

/// `text` cut to `max` bytes at a character boundary, with the number of bytes left out.
fn cut(text: &str, max: usize) -> Cow<'_, str> {
    let kept = truncate(text, max);
    if kept.len() == text.len() {
        return Cow::Borrowed(text);
    }
    Cow::Owned(format!("{kept}… ({} more bytes)", text.len() - kept.len()))
}

/// The first line of a recorded outcome, bounded; when it is cut, the bytes left out
/// count the other lines too.
pub(crate) fn first_line(text: &str) -> String {
    let line = text.lines().next().unwrap_or_default();
    let kept = truncate(line, OUTCOME_MAX_BYTES);
    if kept.len() == line.len() {
        return sanitize_line(line).into_owned();
    }
    format!(
        "{}… ({} more bytes)",
        sanitize_line(kept),
        text.len() - kept.len()
    )
}
