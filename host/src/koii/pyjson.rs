//! Python's `json.loads` followed by `json.dumps(value, sort_keys=True)`, byte for byte: the
//! payload serialisation of Koii's `create_signature`.
//!
//! A guest hands the payload over as JSON text; Python would parse it into `dict`/`list`/
//! `str`/`int`/`float` and write it back with its own rules. [`PyValue`] keeps exactly what
//! Python keeps: integers as their digits (any size), floats as `f64` (written as `repr`
//! writes them: `1.0`, `1e+16`, `1e-05`), strings as code points (lone surrogates from
//! `\ud800` escapes included), objects with the last of duplicate keys. A local parser,
//! rather than serde_json's workspace-wide `arbitrary_precision` feature, so nothing else
//! in the workspace changes how it reads numbers.
//!
//! Pure: imports nothing of the crate. Start from [`python_dumps`].

use std::fmt::Write as _;

/// Deepest nesting accepted: protects the host's stack from a hostile payload (Python
/// itself stops near its recursion limit of 1000).
pub const MAX_DEPTH: usize = 500;

/// Most digits in one integer: Python 3.11+ refuses to parse longer ones
/// (`sys.get_int_max_str_digits()`), so the reference could not sign them either.
pub const MAX_INT_DIGITS: usize = 4300;

/// A value as Python's `json.loads` returns it.
#[derive(Debug, Clone, PartialEq)]
pub enum PyValue {
    /// `None`.
    Null,
    /// `True` / `False`.
    Bool(bool),
    /// An `int`: its decimal digits, `-` first when negative, never `-0`.
    Int(String),
    /// A `float`, including `NaN` and the infinities.
    Float(f64),
    /// A `str` as Unicode code points (lone surrogates possible).
    Str(Vec<u32>),
    /// A `list`.
    List(Vec<PyValue>),
    /// A `dict`, sorted by key code points, one entry per key (the last one written).
    Dict(Vec<(Vec<u32>, PyValue)>),
}

/// Why text is not JSON that Python's `json.loads` accepts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} at byte {offset}")]
pub struct PyJsonError {
    /// What is wrong.
    pub message: String,
    /// Where, as a byte offset into the text.
    pub offset: usize,
}

/// `json.dumps(json.loads(text), sort_keys=True)` as Python 3 computes it.
pub fn python_dumps(text: &str) -> Result<String, PyJsonError> {
    Ok(dumps(&loads(text)?))
}

/// Parses `text` as Python's `json.loads` does (strict mode: no control characters in
/// strings; `NaN`, `Infinity` and `-Infinity` accepted; surrounding whitespace ignored).
pub fn loads(text: &str) -> Result<PyValue, PyJsonError> {
    let mut parser = Parser {
        text,
        bytes: text.as_bytes(),
        pos: 0,
    };
    parser.skip_ws();
    let value = parser.value(0)?;
    parser.skip_ws();
    if parser.pos != parser.bytes.len() {
        return Err(parser.error("extra data after the value"));
    }
    Ok(value)
}

/// Writes `value` as `json.dumps(value, sort_keys=True)`: separators `", "` and `": "`,
/// ASCII only.
pub fn dumps(value: &PyValue) -> String {
    let mut out = String::new();
    write_value(&mut out, value);
    out
}

fn write_value(out: &mut String, value: &PyValue) {
    match value {
        PyValue::Null => out.push_str("null"),
        PyValue::Bool(true) => out.push_str("true"),
        PyValue::Bool(false) => out.push_str("false"),
        PyValue::Int(digits) => out.push_str(digits),
        PyValue::Float(x) => out.push_str(&float_repr(*x)),
        PyValue::Str(s) => write_str(out, s),
        PyValue::List(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_value(out, item);
            }
            out.push(']');
        }
        PyValue::Dict(entries) => {
            out.push('{');
            for (i, (key, item)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_str(out, key);
                out.push_str(": ");
                write_value(out, item);
            }
            out.push('}');
        }
    }
}

/// A string as `ensure_ascii=True` writes it: printable ASCII as is, short escapes for
/// `"` `\` and `\n \r \t \b \f`, `\uXXXX` (lowercase hex) for the rest, surrogate pairs
/// above U+FFFF.
fn write_str(out: &mut String, s: &[u32]) {
    out.push('"');
    for &cp in s {
        match cp {
            0x22 => out.push_str("\\\""),
            0x5c => out.push_str("\\\\"),
            0x0a => out.push_str("\\n"),
            0x0d => out.push_str("\\r"),
            0x09 => out.push_str("\\t"),
            0x08 => out.push_str("\\b"),
            0x0c => out.push_str("\\f"),
            0x20..=0x7e => out.push(char::from(cp as u8)),
            0..=0xffff => {
                let _ = write!(out, "\\u{cp:04x}");
            }
            _ => {
                let v = cp - 0x10000;
                let _ = write!(
                    out,
                    "\\u{:04x}\\u{:04x}",
                    0xd800 | (v >> 10),
                    0xdc00 | (v & 0x3ff)
                );
            }
        }
    }
    out.push('"');
}

/// Python's `float.__repr__` (and what `json.dumps` writes for a float): the shortest
/// digits that round-trip, in positional notation for exponents -4..16, else
/// `d.ddde+XX`; `.0` added to integral values; `NaN`, `Infinity`, `-Infinity`.
pub fn float_repr(x: f64) -> String {
    if x.is_nan() {
        return "NaN".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    if x == 0.0 {
        return if x.is_sign_negative() { "-0.0" } else { "0.0" }.into();
    }
    // Rust's `{:e}` also yields the shortest round-tripping digits: "-1.2345e-5".
    let sci = format!("{x:e}");
    let (mantissa, exponent) = sci.split_once('e').expect("{:e} always writes an exponent");
    let exponent: i32 = exponent.parse().expect("{:e} writes a decimal exponent");
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let decpt = exponent + 1; // value = 0.DIGITS × 10^decpt
    let len = digits.len() as i32;
    let body = if decpt <= -4 || decpt > 16 {
        let (first, rest) = digits.split_at(1);
        let dot = if rest.is_empty() { "" } else { "." };
        let exp_sign = if exponent < 0 { '-' } else { '+' };
        format!("{first}{dot}{rest}e{exp_sign}{:02}", exponent.abs())
    } else if decpt <= 0 {
        format!("0.{}{digits}", "0".repeat((-decpt) as usize))
    } else if decpt >= len {
        format!("{digits}{}.0", "0".repeat((decpt - len) as usize))
    } else {
        let (int, frac) = digits.split_at(decpt as usize);
        format!("{int}.{frac}")
    };
    format!("{sign}{body}")
}

struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn error(&self, message: &str) -> PyJsonError {
        PyJsonError {
            message: message.to_string(),
            offset: self.pos,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn eat(&mut self, literal: &str) -> bool {
        if self.bytes[self.pos..].starts_with(literal.as_bytes()) {
            self.pos += literal.len();
            true
        } else {
            false
        }
    }

    fn value(&mut self, depth: usize) -> Result<PyValue, PyJsonError> {
        if depth > MAX_DEPTH {
            return Err(self.error(&format!("nested deeper than {MAX_DEPTH} levels")));
        }
        match self.peek() {
            Some(b'{') => self.dict(depth),
            Some(b'[') => self.list(depth),
            Some(b'"') => Ok(PyValue::Str(self.string()?)),
            Some(b'-' | b'0'..=b'9') => {
                if self.eat("-Infinity") {
                    return Ok(PyValue::Float(f64::NEG_INFINITY));
                }
                self.number()
            }
            _ if self.eat("null") => Ok(PyValue::Null),
            _ if self.eat("true") => Ok(PyValue::Bool(true)),
            _ if self.eat("false") => Ok(PyValue::Bool(false)),
            _ if self.eat("NaN") => Ok(PyValue::Float(f64::NAN)),
            _ if self.eat("Infinity") => Ok(PyValue::Float(f64::INFINITY)),
            None => Err(self.error("expected a value, found the end")),
            Some(_) => Err(self.error("expected a value")),
        }
    }

    fn dict(&mut self, depth: usize) -> Result<PyValue, PyJsonError> {
        self.pos += 1;
        let mut entries: Vec<(Vec<u32>, PyValue)> = Vec::new();
        self.skip_ws();
        if self.eat("}") {
            return Ok(PyValue::Dict(entries));
        }
        loop {
            self.skip_ws();
            if self.peek() != Some(b'"') {
                return Err(self.error("expected a property name in double quotes"));
            }
            let key = self.string()?;
            self.skip_ws();
            if !self.eat(":") {
                return Err(self.error("expected ':'"));
            }
            self.skip_ws();
            let value = self.value(depth + 1)?;
            entries.push((key, value));
            self.skip_ws();
            if self.eat("}") {
                break;
            }
            if !self.eat(",") {
                return Err(self.error("expected ',' or '}'"));
            }
        }
        // A stable sort keeps duplicates in file order; the last one wins, as in a dict.
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        let mut unique: Vec<(Vec<u32>, PyValue)> = Vec::with_capacity(entries.len());
        for entry in entries {
            match unique.last_mut() {
                Some(last) if last.0 == entry.0 => *last = entry,
                _ => unique.push(entry),
            }
        }
        Ok(PyValue::Dict(unique))
    }

    fn list(&mut self, depth: usize) -> Result<PyValue, PyJsonError> {
        self.pos += 1;
        let mut items = Vec::new();
        self.skip_ws();
        if self.eat("]") {
            return Ok(PyValue::List(items));
        }
        loop {
            self.skip_ws();
            items.push(self.value(depth + 1)?);
            self.skip_ws();
            if self.eat("]") {
                return Ok(PyValue::List(items));
            }
            if !self.eat(",") {
                return Err(self.error("expected ',' or ']'"));
            }
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
        self.pos - start
    }

    /// `-?(0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?`: an `int` without fraction and exponent,
    /// else a `float`.
    fn number(&mut self) -> Result<PyValue, PyJsonError> {
        let start = self.pos;
        let negative = self.eat("-");
        let int_start = self.pos;
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.error("expected a digit")),
        }
        let int_digits = self.pos - int_start;
        let mut is_float = false;
        if self.peek() == Some(b'.') && matches!(self.bytes.get(self.pos + 1), Some(b'0'..=b'9')) {
            self.pos += 1;
            self.digits();
            is_float = true;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            let mark = self.pos;
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if self.digits() == 0 {
                // Python's pattern does not match the exponent: the number ends before it.
                self.pos = mark;
            } else {
                is_float = true;
            }
        }
        let text = std::str::from_utf8(&self.bytes[start..self.pos]).expect("ASCII digits");
        if is_float {
            let x: f64 = text
                .parse()
                .map_err(|_| self.error("number out of range"))?;
            return Ok(PyValue::Float(x));
        }
        if int_digits > MAX_INT_DIGITS {
            return Err(self.error(&format!(
                "integer longer than {MAX_INT_DIGITS} digits (Python refuses it too)"
            )));
        }
        let digits = &text[usize::from(negative)..];
        Ok(PyValue::Int(if digits == "0" {
            digits.to_string()
        } else {
            text.to_string()
        }))
    }

    fn hex4(&mut self) -> Result<u32, PyJsonError> {
        let hex = self
            .bytes
            .get(self.pos..self.pos + 4)
            .and_then(|h| std::str::from_utf8(h).ok())
            .filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(|| self.error("invalid \\uXXXX escape"))?;
        let value = u32::from_str_radix(hex, 16).expect("four hex digits");
        self.pos += 4;
        Ok(value)
    }

    /// A string; `\ud83d\ude00` becomes one code point, a lone surrogate stays one.
    fn string(&mut self) -> Result<Vec<u32>, PyJsonError> {
        self.pos += 1;
        let mut out = Vec::new();
        loop {
            // `pos` is always on a character boundary: only ASCII is stepped over bytewise.
            let Some(c) = self.text[self.pos..].chars().next() else {
                return Err(self.error("unterminated string"));
            };
            match c {
                '"' => {
                    self.pos += 1;
                    return Ok(out);
                }
                '\\' => {
                    self.pos += 1;
                    let Some(escape) = self.peek() else {
                        return Err(self.error("unterminated string"));
                    };
                    self.pos += 1;
                    let cp = match escape {
                        b'"' => 0x22,
                        b'\\' => 0x5c,
                        b'/' => 0x2f,
                        b'b' => 0x08,
                        b'f' => 0x0c,
                        b'n' => 0x0a,
                        b'r' => 0x0d,
                        b't' => 0x09,
                        b'u' => {
                            let high = self.hex4()?;
                            if (0xd800..=0xdbff).contains(&high)
                                && self.bytes[self.pos..].starts_with(b"\\u")
                            {
                                let mark = self.pos;
                                self.pos += 2;
                                let low = self.hex4()?;
                                if (0xdc00..=0xdfff).contains(&low) {
                                    0x10000 + ((high - 0xd800) << 10) + (low - 0xdc00)
                                } else {
                                    self.pos = mark;
                                    high
                                }
                            } else {
                                high
                            }
                        }
                        _ => {
                            self.pos -= 1;
                            return Err(self.error("invalid escape"));
                        }
                    };
                    out.push(cp);
                }
                c if u32::from(c) < 0x20 => {
                    return Err(self.error("invalid control character in string"));
                }
                c => {
                    out.push(u32::from(c));
                    self.pos += c.len_utf8();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dumps_of(text: &str) -> String {
        python_dumps(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn floats_are_written_as_python_repr() {
        let cases = [
            ("1", "1"),
            ("1.0", "1.0"),
            ("1e16", "1e+16"),
            ("1e15", "1000000000000000.0"),
            ("1E-5", "1e-05"),
            ("0.0001", "0.0001"),
            ("0.1", "0.1"),
            ("-0.0", "-0.0"),
            ("-0", "0"),
            ("1.5e300", "1.5e+300"),
            ("5e-324", "5e-324"),
            ("123456789012345678.0", "1.2345678901234568e+17"),
            ("1e400", "Infinity"),
            ("-1e400", "-Infinity"),
            ("NaN", "NaN"),
            ("2.50", "2.5"),
        ];
        for (input, python) in cases {
            assert_eq!(dumps_of(input), python, "{input}");
        }
    }

    #[test]
    fn big_ints_keep_every_digit() {
        let big = "123456789012345678901234567890123456789";
        assert_eq!(
            dumps_of(&format!("[{big}, -{big}]")),
            format!("[{big}, -{big}]")
        );
        let too_long = "9".repeat(MAX_INT_DIGITS + 1);
        assert!(python_dumps(&too_long).is_err());
    }

    #[test]
    fn strings_are_ascii_escaped_with_surrogate_pairs() {
        assert_eq!(
            dumps_of(r#""é😀\u007f/""#),
            r#""\u00e9\ud83d\ude00\u007f/""#
        );
        assert_eq!(dumps_of(r#""\ud800x""#), r#""\ud800x""#);
        assert_eq!(dumps_of(r#""\ud83d\ude00""#), r#""\ud83d\ude00""#);
        assert_eq!(
            dumps_of("\"\\b\\f\\n\\r\\t\\\"\\\\\""),
            "\"\\b\\f\\n\\r\\t\\\"\\\\\""
        );
        assert_eq!(dumps_of(r#""\u0001""#), r#""\u0001""#);
    }

    #[test]
    fn keys_are_sorted_by_code_point_and_the_last_duplicate_wins() {
        assert_eq!(
            dumps_of(
                r#"{"b": 1, "a": {"z": [], "y": {}}, "B": 2, "é": 3, "😀": 4, "\uffff": 5, "a": 6}"#
            ),
            r#"{"B": 2, "a": 6, "b": 1, "\u00e9": 3, "\uffff": 5, "\ud83d\ude00": 4}"#
        );
        assert_eq!(dumps_of(" { } "), "{}");
        assert_eq!(dumps_of("[ ]"), "[]");
    }

    #[test]
    fn invalid_json_is_refused_as_python_refuses_it() {
        for text in [
            "",
            "{",
            "[1,]",
            "01",
            "1.",
            "1e",
            "+1",
            "'a'",
            "\"a\nb\"",
            "\"\\x\"",
            "{\"a\" 1}",
            "[1] 2",
            "-NaN",
            "\u{feff}{}",
            "\"\\u12\"",
        ] {
            assert!(python_dumps(text).is_err(), "{text:?} should be refused");
        }
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 2), "]".repeat(MAX_DEPTH + 2));
        assert!(python_dumps(&deep).is_err());
    }

    #[test]
    fn the_deepest_accepted_payload_fits_a_small_stack() {
        // Host calls run on wasmtime's fiber stack (2 MiB, of which the guest may use 512 KiB);
        // parsing, writing and dropping the deepest payload must fit inside the rest, even in
        // an unoptimised build (whose frames are several times larger): 1 MiB here.
        let text = format!("{}1{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        let out = std::thread::Builder::new()
            .stack_size(1 << 20)
            .spawn(move || python_dumps(&text))
            .expect("spawn")
            .join()
            .expect("no stack overflow");
        assert!(out.is_ok());
    }
}
