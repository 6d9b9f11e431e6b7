//! The one sanitizer every report passes guest and worker text through before writing it
//! (terminal, JUnit, JSON): control characters are rendered visibly (`\u{1b}`, `\r`), so a
//! step name, log line or worker line can never drive the terminal (OSC 52 clipboard
//! writes, cursor moves, `\r` overwriting a line with a fake `✓`, hidden text, bidi
//! reordering) and the JUnit file stays well-formed XML 1.0.
//!
//! Apply it *after* [`Redactor::redact`](super::Redactor::redact), which matches secrets
//! on the raw text with escape sequences ignored; [`Redactor::scrub`](super::Redactor::scrub)
//! does both in that order. Imports nothing.

use std::borrow::Cow;
use std::fmt::Write as _;

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

/// Every string of a JSON value (keys included) passed through [`sanitize_line`]: serde
/// escapes C0 controls but writes C1 controls and bidi overrides as they are.
pub fn sanitize_json(value: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    let line = |s: String| sanitize_line(&s).into_owned();
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
