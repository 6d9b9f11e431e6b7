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

use super::sanitize::{MESSAGE_MAX_BYTES, cut, is_unsafe, sanitize_line, sanitize_text};

/// The text that replaces a secret.
pub const MASK: &str = "***";

/// Next to this mark any start (or end) of a secret is masked.
pub use crate::cut::CUT_MARK;

/// A line of a multi-line secret (a PEM key) is masked on its own from this length: a
/// worker prints such a key line by line.
const MIN_SECRET_LINE_CHARS: usize = 8;

/// Replaces known secret values with [`MASK`], as whole values; see the module docs.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    /// Each secret without the characters matching skips, longest first.
    secrets: Vec<Vec<char>>,
    /// The same secrets as strings, for [`Redactor::surely_clean`].
    plain: Vec<String>,
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
        let plain = patterns.iter().map(|p| p.iter().collect()).collect();
        Self {
            secrets: patterns,
            plain,
        }
    }

    /// True when there is nothing to mask.
    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }

    /// `text` with every secret replaced by [`MASK`]; control characters are left as they
    /// are (see [`Redactor::scrub`]).
    ///
    /// Matching holds about 50 bytes per character of the text it looks at, so a long text
    /// is matched in windows of about `REDACT_WINDOW_BYTES`, split only where no match,
    /// token boundary or escape sequence can straddle the split (`safe_splits`): the
    /// result is the same as matching the whole text, in memory bounded by the window.
    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        if self.surely_clean(text) {
            return Cow::Borrowed(text);
        }
        self.redact_in_windows(text, REDACT_WINDOW_BYTES)
    }

    /// True when matching would mask nothing in `text`, found without building its
    /// readings (which cost ~50 bytes and several allocations per character, for every
    /// text every report writes): `text` holds no escape sequence and no [`CUT_MARK`], so
    /// both readings are its shown characters, and no secret occurs in those. False means
    /// "match to find out", never "there is a secret".
    fn surely_clean(&self, text: &str) -> bool {
        if self.plain.is_empty() {
            return true;
        }
        // Printable ASCII is shown whole: the text is its own reading.
        let shown: Cow<'_, str> = if text.bytes().all(|b| (0x20..0x7f).contains(&b)) {
            Cow::Borrowed(text)
        } else {
            let mut shown = String::with_capacity(text.len());
            for c in text.chars() {
                if c == CUT_MARK || starts_sequence(c) {
                    return false;
                }
                if !is_hidden(c) {
                    shown.push(c);
                }
            }
            Cow::Owned(shown)
        };
        !self
            .plain
            .iter()
            .any(|secret| shown.contains(secret.as_str()))
    }

    fn redact_in_windows<'a>(&self, text: &'a str, window: usize) -> Cow<'a, str> {
        if self.secrets.is_empty() || text.len() <= window {
            return self.redact_whole(text);
        }
        let splits = safe_splits(text, window, &self.secrets);
        if splits.is_empty() {
            return self.redact_whole(text);
        }
        let mut out: Option<String> = None;
        let mut start = 0;
        for end in splits.into_iter().chain([text.len()]) {
            let piece = &text[start..end];
            match (self.redact_whole(piece), &mut out) {
                (Cow::Borrowed(_), None) => {}
                (Cow::Borrowed(p), Some(o)) => o.push_str(p),
                (Cow::Owned(p), out) => {
                    let o = out.get_or_insert_with(|| {
                        let mut o = String::with_capacity(text.len());
                        o.push_str(&text[..start]);
                        o
                    });
                    o.push_str(&p);
                }
            }
            start = end;
        }
        out.map_or(Cow::Borrowed(text), Cow::Owned)
    }

    fn redact_whole<'a>(&self, text: &'a str) -> Cow<'a, str> {
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

    /// What a report writes of one multi-line message of guest or worker text: cut to
    /// [`MESSAGE_MAX_BYTES`] (before anything else looks at a text of unknown size; the cut
    /// note's mark masks a secret cut in half), secrets masked, then control characters
    /// rendered visibly (newlines and tabs kept). At most `MESSAGE_MAX_BYTES` plus
    /// [`CUT_NOTE_ROOM`](super::sanitize::CUT_NOTE_ROOM) bytes.
    pub fn scrub(&self, text: &str) -> String {
        sanitize_text(&self.redact(&cut(text, MESSAGE_MAX_BYTES))).into_owned()
    }

    /// Like [`Redactor::scrub`] for one line: newlines are rendered as `\n` too.
    pub fn scrub_line(&self, text: &str) -> String {
        sanitize_line(&self.redact(&cut(text, MESSAGE_MAX_BYTES))).into_owned()
    }

    /// Like [`Redactor::scrub`] without the cut: for a whole document the program built
    /// itself from bounded parts (`check`'s plan), not for one message from elsewhere.
    pub fn scrub_document(&self, text: &str) -> String {
        sanitize_text(&self.redact(text)).into_owned()
    }
}

/// About how much of a text one matching pass looks at (see [`Redactor::redact`]).
const REDACT_WINDOW_BYTES: usize = 1 << 20;

/// Byte offsets, about `window` apart, where `text` may be split for matching without
/// changing what is masked: each is the offset of a *separator* — a shown, non-word
/// character in no secret (so no match contains it and a token boundary next to it reads
/// the same from either side), not the cut mark — that is outside every escape sequence as
/// the sequence reading parses them (so both sides parse as they do in the whole text).
/// Empty when no separator character is free (every candidate occurs in a secret).
fn safe_splits(text: &str, window: usize, secrets: &[Vec<char>]) -> Vec<usize> {
    let Some(sep) = [' ', ',', ';', '=', '"', '<', '>', '{', '}', '(', ')']
        .into_iter()
        .find(|c| !secrets.iter().any(|s| s.contains(c)))
    else {
        return Vec::new();
    };
    // A string sequence (OSC, DCS…) is one only when a terminator follows it somewhere.
    let last_terminator = text
        .char_indices()
        .rev()
        .find(|&(_, c)| matches!(c, '\x07' | '\u{9c}' | '\\'))
        .map(|(i, _)| i);
    let terminated_after = |at: usize| last_terminator.is_some_and(|t| t >= at);
    enum State {
        Shown,
        /// After ESC: the next character decides.
        Escape,
        /// Inside a CSI's parameters.
        Csi,
        /// Inside a string sequence, until BEL, ST or `ESC \\`.
        Str,
        /// Inside a string, after an ESC (a `\\` ends it).
        StrEscape,
    }
    let is_string_start = |c: char| matches!(c, ']' | 'P' | 'X' | '^' | '_');
    let mut state = State::Shown;
    let mut splits = Vec::new();
    let mut last = 0;
    for (i, c) in text.char_indices() {
        // Whether `c` belongs to the sequence in progress, and the state after it. A CSI
        // that breaks off is no sequence, so its parameters were shown: not splitting
        // there is merely cautious.
        let (in_sequence, next) = match state {
            State::Shown => (false, State::Shown),
            State::Escape => match c {
                '[' => (true, State::Csi),
                c if is_string_start(c) && terminated_after(i) => (true, State::Str),
                c if is_string_start(c) => (false, State::Shown),
                '\u{20}'..='\u{7e}' => (true, State::Shown),
                _ => (false, State::Shown),
            },
            State::Csi => match c {
                '\u{20}'..='\u{3f}' => (true, State::Csi),
                '\u{40}'..='\u{7e}' => (true, State::Shown),
                _ => (false, State::Shown),
            },
            State::Str | State::StrEscape => match c {
                '\x07' | '\u{9c}' => (true, State::Shown),
                '\\' if matches!(state, State::StrEscape) => (true, State::Shown),
                '\x1b' => (true, State::StrEscape),
                _ => (true, State::Str),
            },
        };
        state = next;
        if in_sequence {
            continue;
        }
        match c {
            '\x1b' => state = State::Escape,
            '\u{9b}' => state = State::Csi,
            '\u{90}' | '\u{98}' | '\u{9d}' | '\u{9e}' | '\u{9f}' if terminated_after(i) => {
                state = State::Str
            }
            c if c == sep && i - last >= window => {
                splits.push(i);
                last = i;
            }
            _ => {}
        }
    }
    splits
}

/// A character matching skips: what the sanitizer escapes, newlines, tabs, and the joiners
/// and soft hyphen that a terminal draws as nothing.
fn is_hidden(c: char) -> bool {
    is_unsafe(c) || matches!(c, '\n' | '\t' | '\u{ad}' | '\u{200c}' | '\u{200d}')
}

/// A character that may start an escape sequence (see [`sequence_len`]): where one is, the
/// two readings of a text differ.
fn starts_sequence(c: char) -> bool {
    matches!(
        c,
        '\x1b' | '\u{9b}' | '\u{90}' | '\u{98}' | '\u{9d}' | '\u{9e}' | '\u{9f}'
    )
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
        let ends = if sequences {
            string_ends(&all)
        } else {
            Vec::new()
        };
        let (mut i, mut gap) = (0, false);
        while i < all.len() {
            let (at, c) = all[i];
            if let Some(n) = sequences.then(|| sequence_len(&all, &ends, i)).flatten() {
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
/// `ends` is [`string_ends`] of `all`.
fn sequence_len(all: &[(usize, char)], ends: &[Option<usize>], i: usize) -> Option<usize> {
    let next = all.get(i + 1).map(|&(_, c)| c);
    let (is_csi, body) = match (all[i].1, next) {
        ('\x1b', Some('[')) => (true, i + 2),
        ('\x1b', Some(']' | 'P' | 'X' | '^' | '_')) => (false, i + 2),
        ('\x1b', Some('\u{20}'..='\u{7e}')) => return Some(2),
        ('\u{9b}', _) => (true, i + 1),
        ('\u{90}' | '\u{98}' | '\u{9d}' | '\u{9e}' | '\u{9f}', _) => (false, i + 1),
        _ => return None,
    };
    if !is_csi {
        // Looked up, not scanned for: scanning from every unterminated `ESC ]` to the end
        // made a hostile log of many of them quadratic.
        return ends.get(body).copied().flatten().map(|end| end + 1 - i);
    }
    // A CSI's scan stops at the first character that is not a parameter, an ESC included,
    // so the scans of all the CSIs in a text add up to its length.
    for (k, &(_, c)) in all.iter().enumerate().skip(body) {
        match c {
            '\u{20}'..='\u{3f}' => {}
            '\u{40}'..='\u{7e}' => return Some(k + 1 - i),
            _ => return None,
        }
    }
    None
}

/// For each position, where the first string terminator at or after it ends (the index of
/// its last character): BEL, ST (`\u{9c}`) or `ESC \\`. One backward pass.
fn string_ends(all: &[(usize, char)]) -> Vec<Option<usize>> {
    let mut ends = vec![None; all.len() + 1];
    for k in (0..all.len()).rev() {
        ends[k] = match all[k].1 {
            '\x07' | '\u{9c}' => Some(k),
            '\x1b' if all.get(k + 1).map(|&(_, c)| c) == Some('\\') => Some(k + 1),
            _ => ends[k + 1],
        };
    }
    ends
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redactor(secrets: &[&str]) -> Redactor {
        Redactor::new(secrets.iter().map(|s| s.to_string()))
    }

    #[test]
    fn masks_every_occurrence_longest_first() {
        let r = redactor(&["tok1", "tok1-123", ""]);
        assert_eq!(r.redact("a tok1-123 b tok1"), "a *** b ***");
        assert!(matches!(r.redact("nothing here"), Cow::Borrowed(_)));
    }

    #[test]
    fn masks_whole_values_only() {
        let r = redactor(&["test"]);
        let cases = [
            ("testing latest contest test_x xtest", None),
            ("NODE_ENV=test", Some("NODE_ENV=***")),
            ("\"test\", (test). test", Some("\"***\", (***). ***")),
            ("test-suite", Some("***-suite")),
            ("test", Some("***")),
        ];
        for (text, masked) in cases {
            assert_eq!(r.redact(text), masked.unwrap_or(text), "{text:?}");
        }
    }

    #[test]
    fn secrets_with_symbols_at_their_edges_match_inside_words() {
        // A boundary is only required where the secret itself starts or ends with a letter,
        // digit or `_`, as `\b` does.
        let r = redactor(&["==abc==", "p@ss:w0rd"]);
        assert_eq!(r.redact("x==abc==y"), "x***y");
        assert_eq!(r.redact("mongodb://u:p@ss:w0rd@h"), "mongodb://u:***@h");
    }

    #[test]
    fn uri_credentials_are_masked_between_separators() {
        let r = redactor(&["hunter22"]);
        assert_eq!(
            r.redact("mongodb://admin:hunter22@db:27017/x?pw=hunter22&a=1"),
            "mongodb://admin:***@db:27017/x?pw=***&a=1"
        );
    }

    #[test]
    fn a_secret_split_by_escapes_or_controls_is_still_caught() {
        let r = redactor(&["s3cret-token"]);
        let hostile = [
            "s3cr\x1b[0met-token",
            "s3cr\x1b[1;31met-token",
            "s3cr\x1b]8;;http://x\x07et-token",
            "s3cr\x1b]52;c;aGk=\x1b\\et-token",
            "s3cr\x07et-token",
            "s3cr\ret-token",
            "s3cr\net-token",
            "s3cr\u{200b}et-\u{200d}token",
            "s3cr\u{202e}et-token",
            "s3cr\u{9b}0met-token",
            "s3cr\x1bcet-token",
            "\x1b[1ms3cret-token\x1b[0m",
            "x\x1b[0ms3cret-token",
            "\x1b[s3cret-token",
            "\x1b]s3cret-token",
        ];
        for text in hostile {
            let out = r.scrub_line(&format!("key: {text} end"));
            assert!(out.starts_with("key: "), "{text:?} -> {out}");
            assert!(out.contains(MASK), "{text:?} -> {out}");
            for part in ["s3cr", "et-token", "cret"] {
                assert!(!out.contains(part), "{text:?} -> {out}");
            }
        }
    }

    #[test]
    fn a_cut_at_any_position_of_a_secret_leaks_none_of_it() {
        let secret = "s3cret-Tok_9.x";
        let r = redactor(&[secret]);
        let chars: Vec<char> = secret.chars().collect();
        for p in 1..chars.len() {
            let head: String = chars[..p].iter().collect();
            let tail: String = chars[p..].iter().collect();
            assert_eq!(
                r.redact(&format!("value: {head}{CUT_MARK}")),
                format!("value: {MASK}{CUT_MARK}"),
                "cut after {p}"
            );
            assert_eq!(
                r.redact(&format!("{CUT_MARK}{tail} rest")),
                format!("{CUT_MARK}{MASK} rest"),
                "continued after {p}"
            );
            if p < 2 {
                continue;
            }
            // Split by escapes and cut.
            let split = format!("value: {}\x1b[0m{}{CUT_MARK}", &head[..1], &head[1..]);
            assert!(!r.scrub_line(&split).contains(&head[1..]), "{split:?}");
        }
    }

    #[test]
    fn cut_marks_mask_only_starts_at_a_boundary() {
        let r = redactor(&["s3cret"]);
        // `xs3c` cannot be the start of the whole value `s3cret`.
        assert_eq!(r.redact("xs3c…"), "xs3c…");
        assert_eq!(r.redact("starting workers…"), "starting workers…");
    }

    #[test]
    fn multi_line_secrets_are_masked_whole_and_line_by_line() {
        let pem = "-----BEGIN KEY-----\nMIIBOgIBAAJBAKj34GkxFhD9\n-----END KEY-----";
        let r = redactor(&[pem]);
        assert_eq!(r.redact(&format!("key={pem}")), "key=***");
        assert_eq!(r.redact("line MIIBOgIBAAJBAKj34GkxFhD9"), "line ***");
    }

    #[test]
    fn scrub_masks_then_renders_controls() {
        let r = redactor(&["tok3n"]);
        assert_eq!(
            r.scrub("a\x1b[31mtok3n\x1b[0m\n\x1b]52;c;eA==\x07b"),
            "a\\u{1b}[31m***\\u{1b}[0m\n\\u{1b}]52;c;eA==\\u{7}b"
        );
        assert_eq!(r.scrub_line("a\nb\rc"), "a\\nb\\rc");
    }

    /// Many unterminated string sequences (a hostile log) are not sequences, and a secret
    /// split by a terminated one is still found: each start looks its end up instead of
    /// scanning to the end of the text, which made such a log quadratic.
    #[test]
    fn many_unterminated_string_sequences_leave_secrets_found() {
        let r = redactor(&["s3cret"]);
        let hostile = "\x1b]".repeat(20_000);
        let text = format!("key s3\x1b]0;t\x07cret {hostile}s3cret");
        let out = r.redact(&text);
        assert!(out.starts_with("key *** "), "the split secret is masked");
        assert!(out.ends_with("\x1b]***"), "the secret after them is masked");
        assert_eq!(out.matches("\x1b]").count(), 20_000);
        // A terminator far away still ends the first sequence: everything up to it is hidden.
        let far = format!("\x1b]{}\x07s3cret", "x".repeat(10_000));
        assert_eq!(
            r.redact(&far),
            format!("\x1b]{}\x07***", "x".repeat(10_000))
        );
    }

    /// Texts built from the pieces matching cares about: secrets whole and in parts, escape
    /// sequences complete and broken off, terminators, cut marks, separators, word characters.
    fn hostile_texts(count: usize) -> Vec<String> {
        let pieces = [
            "tok3n-XYZ",
            "tok3",
            "n-XYZ",
            "s3cr",
            "et",
            "s3cret",
            " ",
            " ",
            ",",
            "=",
            "a",
            "Z9_",
            "\x1b",
            "\x1b[",
            "\x1b[0m",
            "\x1b[31;1",
            "\x1b]",
            "\x1b]52;c;",
            "\x07",
            "\u{9c}",
            "\x1b\\",
            "\\",
            "\u{9b}",
            "\u{9d}",
            "…",
            "\n",
            "\t",
            "\u{200b}",
            "é",
            "{",
            "}",
        ];
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        (0..count)
            .map(|_| {
                let len = 20 + (next() % 200) as usize;
                (0..len)
                    .map(|_| pieces[(next() % pieces.len() as u64) as usize])
                    .collect()
            })
            .collect()
    }

    #[test]
    fn matching_in_windows_masks_exactly_what_matching_the_whole_text_masks() {
        let r = Redactor::new(["tok3n-XYZ".to_string(), "s3cret".to_string()]);
        let mut split = 0;
        for text in hostile_texts(3000) {
            let whole = r.redact_whole(&text).into_owned();
            for window in [1, 2, 5, 16, 64] {
                let windowed = r.redact_in_windows(&text, window).into_owned();
                assert_eq!(windowed, whole, "window {window}: {text:?}");
                split += usize::from(!super::safe_splits(&text, window, &r.secrets).is_empty());
            }
        }
        assert!(split > 1000, "the texts were split ({split})");
    }

    #[test]
    fn the_clean_text_shortcut_never_skips_a_match() {
        // Every text the shortcut calls clean is one matching leaves as it is; texts of
        // printable ASCII, with hidden characters, and with sequences and cut marks (which
        // it must leave to matching).
        let r = Redactor::new(["tok3n-XYZ".to_string(), "s3cret".to_string()]);
        // Without sequences and cut marks, and with fewer whole secrets (their parts
        // still meet, across hidden characters too).
        let mut plain = hostile_texts(3000);
        for text in &mut plain {
            text.retain(|c| c != '…' && !super::starts_sequence(c));
            *text = text.replace("s3cret", "x").replace("tok3n-XYZ", "x");
        }
        let (mut clean, mut matched) = (0, 0);
        for text in plain.iter().chain(&hostile_texts(3000)) {
            let whole = r.redact_whole(text);
            if r.surely_clean(text) {
                clean += 1;
                assert_eq!(whole, text.as_str(), "called clean: {text:?}");
            }
            matched += usize::from(whole != text.as_str());
            assert_eq!(r.redact(text), whole, "{text:?}");
        }
        assert!(
            clean > 500 && matched > 500,
            "{clean} clean, {matched} masked"
        );
        assert!(r.surely_clean("a log line without secrets, s3cre t"));
        assert!(!r.surely_clean("a log line with s3cret"));
        assert!(!r.surely_clean("split s3\u{200b}cret"));
        assert!(Redactor::default().surely_clean("s3cret"));
    }

    #[test]
    fn a_long_text_is_matched_in_windows_with_the_same_result() {
        let r = Redactor::new(["tok3n-XYZ".to_string()]);
        let unit = "log tok3n-XYZ and tok\x1b[0m3n-XYZ, \x1b]52;c;x\x07 more …n-XYZ\n";
        let text = unit.repeat((3 << 20) / unit.len());
        let splits = super::safe_splits(&text, super::REDACT_WINDOW_BYTES, &r.secrets);
        assert!(splits.len() >= 2, "{} splits", splits.len());
        let redacted = r.redact(&text);
        assert_eq!(redacted, r.redact_whole(&text));
        assert!(!redacted.contains("tok3n"));
    }
}
