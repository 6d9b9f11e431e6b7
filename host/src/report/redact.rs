//! Secret redaction: every text a report writes passes through a [`Redactor`], then the
//! [sanitizer](super::sanitize); [`Redactor::scrub`] does both, in that order.
//!
//! A secret is masked as a whole value: an occurrence counts when it is not glued to
//! letters, digits or `_` on a side where the secret itself starts or ends with one (the
//! `\b` of regular expressions), so the secret `test` masks `test` and `"test"` but not
//! `testing` or `latest`. Matching ignores what a terminal would not show, so a secret
//! split by escape codes (`s3cr\x1b[0met`), control characters or zero-width characters is
//! still found; the whole span, escapes included, becomes [`MASK`]. Every cutter marks its
//! cut with [`CUT_MARK`]; next to one, any start (or end) of a secret is masked too, so a
//! line cut in the middle of a secret leaks none of it.

use std::borrow::Cow;

use super::sanitize::{is_unsafe, sanitize_line, sanitize_text};

/// The text that replaces a secret.
pub const MASK: &str = "***";

/// The character every cutter of guest or worker text puts where it cut (`…`): a log line
/// cut at its length limit, output cut at its budget, a worker line split at its limit.
pub const CUT_MARK: char = '…';

/// A line of a multi-line secret (a PEM key) is masked on its own from this length: a
/// worker prints such a key line by line.
const MIN_SECRET_LINE_CHARS: usize = 8;

/// Replaces known secret values with [`MASK`], as whole values; see the module docs.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    /// Each secret without the characters matching skips, longest first.
    secrets: Vec<Vec<char>>,
}

impl Redactor {
    /// A redactor for these values; empty values are ignored. The caller decides which
    /// values are secret and how short a secret may be (`config::MIN_SECRET_LEN`).
    pub fn new(secrets: impl IntoIterator<Item = String>) -> Self {
        let mut patterns: Vec<Vec<char>> = Vec::new();
        for secret in secrets {
            if secret.contains('\n') {
                patterns.extend(
                    secret
                        .lines()
                        .map(str::trim)
                        .filter(|line| line.chars().count() >= MIN_SECRET_LINE_CHARS)
                        .map(pattern),
                );
            }
            patterns.push(pattern(&secret));
        }
        patterns.retain(|p| !p.is_empty());
        patterns.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        patterns.dedup();
        Self { secrets: patterns }
    }

    /// True when there is nothing to mask.
    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }

    /// `text` with every secret replaced by [`MASK`]; control characters are left as they
    /// are (see [`Redactor::scrub`]).
    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        if self.secrets.is_empty() || text.is_empty() {
            return Cow::Borrowed(text);
        }
        let mut spans = Vec::new();
        // Two readings of the text: every hidden character skipped on its own, and whole
        // escape sequences skipped (`\x1b[0m` hides `[0m` too). A span either finds is masked.
        for sequences in [false, true] {
            let view = View::new(text, sequences);
            for secret in &self.secrets {
                view.find(secret, &mut spans);
            }
            view.find_at_cuts(&self.secrets, &mut spans);
        }
        if spans.is_empty() {
            return Cow::Borrowed(text);
        }
        spans.sort_unstable();
        let mut out = String::with_capacity(text.len());
        let mut done = 0;
        for (start, end) in spans {
            if end <= done {
                continue;
            }
            if start >= done {
                out.push_str(&text[done..start]);
                out.push_str(MASK);
            }
            done = end;
        }
        out.push_str(&text[done..]);
        Cow::Owned(out)
    }

    /// What a report writes of multi-line guest or worker text: secrets masked, then control
    /// characters rendered visibly (newlines and tabs kept).
    pub fn scrub(&self, text: &str) -> String {
        sanitize_text(&self.redact(text)).into_owned()
    }

    /// Like [`Redactor::scrub`] for one line: newlines are rendered as `\n` too.
    pub fn scrub_line(&self, text: &str) -> String {
        sanitize_line(&self.redact(text)).into_owned()
    }
}

/// A character matching skips: what the sanitizer escapes, newlines, tabs, and the joiners
/// and soft hyphen that a terminal draws as nothing.
fn is_hidden(c: char) -> bool {
    is_unsafe(c) || matches!(c, '\n' | '\t' | '\u{ad}' | '\u{200c}' | '\u{200d}')
}

/// Letters, digits and `_`: what a whole value must not be glued to.
fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn pattern(secret: &str) -> Vec<char> {
    secret.chars().filter(|&c| !is_hidden(c)).collect()
}

/// The text as matching sees it: the shown characters, where each came from, and whether
/// hidden characters preceded it (which counts as a token boundary).
struct View {
    chars: Vec<char>,
    spans: Vec<(usize, usize)>,
    gap_before: Vec<bool>,
}

impl View {
    fn new(text: &str, sequences: bool) -> Self {
        let all: Vec<(usize, char)> = text.char_indices().collect();
        let mut view = View {
            chars: Vec::with_capacity(all.len()),
            spans: Vec::with_capacity(all.len()),
            gap_before: Vec::with_capacity(all.len()),
        };
        let (mut i, mut gap) = (0, false);
        while i < all.len() {
            let (at, c) = all[i];
            if let Some(n) = sequences.then(|| sequence_len(&all, i)).flatten() {
                (i, gap) = (i + n, true);
            } else if is_hidden(c) {
                (i, gap) = (i + 1, true);
            } else {
                view.chars.push(c);
                view.spans.push((at, at + c.len_utf8()));
                view.gap_before.push(gap);
                (i, gap) = (i + 1, false);
            }
        }
        view
    }

    fn starts_token(&self, i: usize, first: char) -> bool {
        !is_word(first) || i == 0 || self.gap_before[i] || !is_word(self.chars[i - 1])
    }

    fn ends_token(&self, j: usize, last: char) -> bool {
        !is_word(last) || j == self.chars.len() || self.gap_before[j] || !is_word(self.chars[j])
    }

    fn span(&self, from: usize, to: usize) -> (usize, usize) {
        (self.spans[from].0, self.spans[to - 1].1)
    }

    /// Every whole-value occurrence of `secret`.
    fn find(&self, secret: &[char], out: &mut Vec<(usize, usize)>) {
        let (n, m) = (self.chars.len(), secret.len());
        if m > n {
            return;
        }
        for i in 0..=n - m {
            if self.chars[i] == secret[0]
                && self.chars[i..i + m] == *secret
                && self.starts_token(i, secret[0])
                && self.ends_token(i + m, secret[m - 1])
            {
                out.push(self.span(i, i + m));
            }
        }
    }

    /// The longest start of a secret right before each [`CUT_MARK`], and the longest end
    /// of one right after it.
    fn find_at_cuts(&self, secrets: &[Vec<char>], out: &mut Vec<(usize, usize)>) {
        let n = self.chars.len();
        for k in (0..n).filter(|&k| self.chars[k] == CUT_MARK) {
            let before = secrets
                .iter()
                .flat_map(|s| (1..s.len().min(k + 1)).map(move |len| (s, len)))
                .filter(|(s, len)| {
                    self.chars[k - len..k] == s[..*len] && self.starts_token(k - len, s[0])
                })
                .map(|(_, len)| len)
                .max();
            if let Some(len) = before {
                out.push(self.span(k - len, k));
            }
            let after = secrets
                .iter()
                .flat_map(|s| (1..s.len().min(n - k)).map(move |len| (s, len)))
                .filter(|(s, len)| {
                    let from = k + 1;
                    self.chars[from..from + len] == s[s.len() - len..]
                        && self.ends_token(from + len, s[s.len() - 1])
                })
                .map(|(_, len)| len)
                .max();
            if let Some(len) = after {
                out.push(self.span(k + 1, k + 1 + len));
            }
        }
    }
}

/// The length in characters of the escape sequence starting at `all[i]`, if one does: a
/// CSI (`ESC [` … final byte), a string (OSC `ESC ]`, DCS, SOS, PM, APC, ended by BEL or
/// `ESC \`), or a two-character `ESC x`; C1 forms too. Unterminated ones are not sequences.
fn sequence_len(all: &[(usize, char)], i: usize) -> Option<usize> {
    let next = all.get(i + 1).map(|&(_, c)| c);
    let (is_csi, body) = match (all[i].1, next) {
        ('\x1b', Some('[')) => (true, i + 2),
        ('\x1b', Some(']' | 'P' | 'X' | '^' | '_')) => (false, i + 2),
        ('\x1b', Some('\u{20}'..='\u{7e}')) => return Some(2),
        ('\u{9b}', _) => (true, i + 1),
        ('\u{90}' | '\u{98}' | '\u{9d}' | '\u{9e}' | '\u{9f}', _) => (false, i + 1),
        _ => return None,
    };
    for k in body..all.len() {
        let c = all[k].1;
        if is_csi {
            match c {
                '\u{20}'..='\u{3f}' => {}
                '\u{40}'..='\u{7e}' => return Some(k + 1 - i),
                _ => return None,
            }
        } else if c == '\x07' || c == '\u{9c}' {
            return Some(k + 1 - i);
        } else if c == '\x1b' && all.get(k + 1).map(|&(_, c)| c) == Some('\\') {
            return Some(k + 2 - i);
        }
    }
    None
}

#[cfg(test)]
#[path = "redact_tests.rs"]
mod tests;
