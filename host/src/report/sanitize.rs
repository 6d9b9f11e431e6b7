//! The one sanitizer every report passes guest and worker text through before writing it
//! (terminal, JUnit, JSON): control characters are rendered visibly (`\u{1b}`, `\r`), so a
//! step name, log line or worker line can never drive the terminal (OSC 52 clipboard
//! writes, cursor moves, `\r` overwriting a line with a fake `✓`, hidden text, bidi
//! reordering) and the JUnit file stays well-formed XML 1.0.
//!
//! Apply it *after* [`Redactor::redact`](super::Redactor::redact), which matches secrets
//! on the raw text with escape sequences ignored; [`Redactor::scrub`](super::Redactor::scrub)
//! does both in that order.
//!
//! It also bounds them: [`cut`] keeps at most [`MESSAGE_MAX_BYTES`] of a message's
//! *rendered* text (an escape takes up to 10 bytes for one character of input), cut on a
//! character boundary and never inside an escape, and says how many bytes it left out.
//! Imports nothing but the redactor's cut mark.

use std::borrow::Cow;
use std::fmt::Write as _;

/// The most bytes one message — a failure or skip reason, a log line, a host call's request
/// or response, an error — takes in the terminal and in every report once sanitized (plus
/// the few bytes of the cut note): a 100 MiB failure message is shown as its first 64 KiB.
pub const MESSAGE_MAX_BYTES: usize = 64 * 1024;

/// Room left for the cut note past the cap (`… [cut: 18446744073709551615 more bytes]` is
/// 42 bytes), so that cutting a text already cut changes nothing.
pub const CUT_NOTE_ROOM: usize = 64;

/// True for a character the sanitizer renders visibly: C0 controls (tab and newline are
/// decided by the caller), DEL, C1 controls, invisible characters that hide or reorder text
/// (zero-width space, word joiner, byte-order mark, bidi marks, embeddings, overrides and
/// isolates), the Unicode line and paragraph separators some terminals break lines at, and
/// U+FFFE/U+FFFF, which XML 1.0 forbids.
pub fn is_unsafe(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{8}'
        | '\u{b}'..='\u{1f}'
        | '\u{7f}'..='\u{9f}'
        | '\u{061c}'
        | '\u{200b}'
        | '\u{200e}'
        | '\u{200f}'
        | '\u{2028}'..='\u{202e}'
        | '\u{2060}'..='\u{2064}'
        | '\u{2066}'..='\u{2069}'
        | '\u{feff}'
        | '\u{fffe}'
        | '\u{ffff}')
}

/// `text` with every [unsafe](is_unsafe) character rendered visibly; newlines and tabs
/// are kept, for multi-line text (failure messages, tracebacks, `check` and `inspect` output).
pub fn sanitize_text(text: &str) -> Cow<'_, str> {
    render(text, false)
}

/// `text` as one line: like [`sanitize_text`], and newlines are rendered as `\n` too, for
/// names, descriptions, skip reasons, log and worker lines and XML attributes.
pub fn sanitize_line(text: &str) -> Cow<'_, str> {
    render(text, true)
}

fn render(text: &str, one_line: bool) -> Cow<'_, str> {
    let escape = |c: char| is_unsafe(c) || (one_line && c == '\n');
    if !text.chars().any(escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '\n' if one_line => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if escape(c) => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// How many bytes `c` takes once rendered by [`sanitize_line`] (the wider of the two
/// renderings: a newline counts as its escape `\n`).
fn rendered_len(c: char) -> usize {
    match c {
        '\n' | '\r' => 2,
        // `\u{` + hex digits + `}`
        c if is_unsafe(c) => 4 + (32 - u32::from(c).leading_zeros()).div_ceil(4).max(1) as usize,
        c => c.len_utf8(),
    }
}

/// `text` cut so that its sanitized rendering takes at most `max` bytes, followed by the
/// note `… [cut: N more bytes]` (N: the bytes of `text` left out); borrowed when it fits
/// in `max` plus [`CUT_NOTE_ROOM`], so cutting twice is cutting once. The cut falls on a
/// character boundary, before the character whose escape would not fit, and the note
/// starts with the redactor's [`CUT_MARK`](super::redact::CUT_MARK) so that a secret cut
/// in half is still masked. Reads at most `max + CUT_NOTE_ROOM` characters of `text`:
/// cut *before* redacting or sanitizing a text of unknown size.
pub fn cut(text: &str, max: usize) -> Cow<'_, str> {
    let mut width = 0usize;
    let mut cut_at = None;
    for (i, c) in text.char_indices() {
        width += rendered_len(c);
        if width > max && cut_at.is_none() {
            cut_at = Some(i);
        }
        if width > max + CUT_NOTE_ROOM {
            let at = cut_at.unwrap_or(i);
            return Cow::Owned(format!(
                "{}{} [cut: {} more bytes]",
                &text[..at],
                super::redact::CUT_MARK,
                text.len() - at
            ));
        }
    }
    Cow::Borrowed(text)
}

/// [`sanitize_text`] of `text` [cut] to [`MESSAGE_MAX_BYTES`]: at most that many
/// bytes plus [`CUT_NOTE_ROOM`], whatever `text` holds.
pub fn bounded_text(text: &str) -> String {
    sanitize_text(&cut(text, MESSAGE_MAX_BYTES)).into_owned()
}

/// [`sanitize_line`] of `text` [cut] to [`MESSAGE_MAX_BYTES`].
pub fn bounded_line(text: &str) -> String {
    sanitize_line(&cut(text, MESSAGE_MAX_BYTES)).into_owned()
}

/// Every string of a JSON value (keys included) passed through [`bounded_line`]: serde
/// escapes C0 controls but writes C1 controls and bidi overrides as they are.
pub fn sanitize_json(value: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    let line = |s: String| bounded_line(&s);
    match value {
        Value::String(s) => Value::String(line(s)),
        Value::Array(items) => Value::Array(items.into_iter().map(sanitize_json).collect()),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (line(k), sanitize_json(v)))
                .collect(),
        ),
        other => other,
    }
}

/// True for a character XML 1.0 allows in a document (`Char` of the specification).
pub fn is_xml_char(c: char) -> bool {
    matches!(c,
        '\t' | '\n' | '\r'
        | '\u{20}'..='\u{d7ff}'
        | '\u{e000}'..='\u{fffd}'
        | '\u{10000}'..='\u{10ffff}')
}

/// `text` with every character XML 1.0 forbids replaced by U+FFFD: the last guard of the
/// JUnit writer, for text that did not pass [`sanitize_line`] (which already escapes them).
pub fn xml_safe(text: &str) -> Cow<'_, str> {
    if text.chars().all(is_xml_char) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.chars()
            .map(|c| if is_xml_char(c) { c } else { '\u{fffd}' })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_control_class_is_rendered_visibly() {
        let cases = [
            ("\x1b]52;c;aGk=\x07", "\\u{1b}]52;c;aGk=\\u{7}"),
            ("a\x1b[2Kb", "a\\u{1b}[2Kb"),
            ("\r  ✓ fake", "\\r  ✓ fake"),
            ("nul\0", "nul\\u{0}"),
            ("del\x7f", "del\\u{7f}"),
            ("c1 \u{9b}31m", "c1 \\u{9b}31m"),
            ("rlo \u{202e}gnp.exe", "rlo \\u{202e}gnp.exe"),
            ("iso \u{2066}x\u{2069}", "iso \\u{2066}x\\u{2069}"),
            ("zw\u{200b}sp", "zw\\u{200b}sp"),
            ("bom\u{feff}", "bom\\u{feff}"),
            ("ls\u{2028}", "ls\\u{2028}"),
            ("non\u{fffe}\u{ffff}", "non\\u{fffe}\\u{ffff}"),
            ("vt\x0bff\x0c", "vt\\u{b}ff\\u{c}"),
        ];
        for (raw, shown) in cases {
            assert_eq!(sanitize_text(raw), shown, "{raw:?}");
            assert_eq!(sanitize_line(raw), shown, "{raw:?}");
        }
    }

    #[test]
    fn newlines_are_kept_in_text_and_escaped_in_lines() {
        assert_eq!(sanitize_text("a\n\tb"), "a\n\tb");
        assert_eq!(sanitize_line("a\n\tb"), "a\\n\tb");
    }

    #[test]
    fn ordinary_text_is_borrowed_untouched() {
        for text in ["plain", "é ✓ ━ — 日本語 👨‍👩‍👧", ""] {
            assert!(matches!(sanitize_line(text), Cow::Borrowed(t) if t == text));
        }
    }

    #[test]
    fn sanitized_text_has_no_raw_control_and_is_xml_safe() {
        let all: String = (0u32..0x110000).filter_map(char::from_u32).collect();
        let line = sanitize_line(&all);
        assert!(!line.chars().any(|c| c.is_control() && c != '\t'));
        assert!(line.chars().all(is_xml_char));
        assert!(matches!(xml_safe(&line), Cow::Borrowed(_)));
    }

    #[test]
    fn json_strings_and_keys_are_sanitized() {
        let doc = serde_json::json!({"a\u{9b}": ["x\u{202e}y", 1, {"k": "\x1b]52;c;x\x07"}]});
        assert_eq!(
            sanitize_json(doc),
            serde_json::json!({"a\\u{9b}": ["x\\u{202e}y", 1, {"k": "\\u{1b}]52;c;x\\u{7}"}]})
        );
    }

    #[test]
    fn xml_safe_replaces_what_xml_forbids() {
        assert_eq!(xml_safe("a\x01b\u{fffe}\tc"), "a\u{fffd}b\u{fffd}\tc");
    }
}
