//! Python source as the analysis needs it: comments and the contents of string literals
//! blanked out (so that `"open("` in a message is not a call), cut into logical lines
//! (brackets and backslashes join physical lines), each knowing its first line number.
//!
//! This is not a Python parser: `migrate` looks for import statements and a few call
//! names, for which the token boundaries of strings, comments and brackets are enough.

/// One logical line of Python source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogicalLine {
    /// 1-based number of its first physical line.
    pub line: usize,
    /// Columns of indentation of its first physical line.
    pub indent: usize,
    /// The text, without the indentation, with string contents and comments blanked;
    /// physical line breaks inside it are kept as `\n`.
    pub text: String,
    /// Byte offsets of the `\n`s of `text`, ascending: [`LogicalLine::line_at`] looks a
    /// line up in them instead of counting breaks from the start, which made a steps.py
    /// whose `steps = [...]` spans 100 000 lines with a finding on each quadratic
    /// (minutes for 3.5 MiB).
    breaks: Vec<usize>,
}

impl LogicalLine {
    fn new(line: usize, indent: usize, text: String) -> Self {
        let breaks = text.match_indices('\n').map(|(at, _)| at).collect();
        LogicalLine {
            line,
            indent,
            text,
            breaks,
        }
    }

    /// The physical line number of byte `offset` of [`LogicalLine::text`].
    pub fn line_at(&self, offset: usize) -> usize {
        self.line + self.breaks.partition_point(|&at| at < offset)
    }
}

/// `source` with every comment and the contents of every string literal replaced by
/// spaces (line breaks kept), so positions and line numbers stay those of the source.
pub fn blank(source: &str) -> String {
    let chars: Vec<char> = source.chars().collect();
    let mut out = String::with_capacity(source.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '#' {
            while i < chars.len() && chars[i] != '\n' {
                out.push(' ');
                i += 1;
            }
            continue;
        }
        if c == '"' || c == '\'' {
            let triple = i + 2 < chars.len() && chars[i + 1] == c && chars[i + 2] == c;
            let quote_len = if triple { 3 } else { 1 };
            let raw = is_raw_prefix(&chars, i);
            for _ in 0..quote_len {
                out.push(c);
            }
            i += quote_len;
            while i < chars.len() {
                let d = chars[i];
                if d == '\\' && !raw && i + 1 < chars.len() {
                    out.push(' ');
                    out.push(if chars[i + 1] == '\n' { '\n' } else { ' ' });
                    i += 2;
                    continue;
                }
                if d == '\\' && raw && i + 1 < chars.len() && chars[i + 1] == c {
                    // A raw string still cannot end on an escaped quote.
                    out.push_str("  ");
                    i += 2;
                    continue;
                }
                let closes = d == c
                    && (!triple || (i + 2 < chars.len() && chars[i + 1] == c && chars[i + 2] == c));
                if closes {
                    for _ in 0..quote_len {
                        out.push(c);
                    }
                    i += quote_len;
                    break;
                }
                if d == '\n' && !triple {
                    // An unterminated single-quoted string ends at the line break.
                    break;
                }
                out.push(if d == '\n' { '\n' } else { ' ' });
                i += 1;
            }
            continue;
        }
        out.push(c);
        i += 1;
    }
    out
}

/// Whether the string literal whose quote is at `quote` has an `r` among its prefix
/// letters (`r"..."`, `rb'...'`, `Rf"..."`).
fn is_raw_prefix(chars: &[char], quote: usize) -> bool {
    let mut j = quote;
    let mut raw = false;
    while j > 0 && chars[j - 1].is_ascii_alphabetic() && quote - j < 2 {
        j -= 1;
        raw |= chars[j].eq_ignore_ascii_case(&'r');
    }
    let starts_word = j == 0 || !(chars[j - 1].is_alphanumeric() || chars[j - 1] == '_');
    raw && starts_word
}

/// The logical lines of `source` (blanked as by [`blank`]); blank lines are left out.
pub fn logical_lines(source: &str) -> Vec<LogicalLine> {
    let blanked = blank(source);
    let mut lines = Vec::new();
    let mut current = String::new();
    let mut start = 1;
    let mut indent = 0;
    let mut depth: i32 = 0;
    for (index, physical) in blanked.split('\n').enumerate() {
        let number = index + 1;
        if current.is_empty() {
            if physical.trim().is_empty() {
                continue;
            }
            start = number;
            indent = physical.len() - physical.trim_start().len();
            current.push_str(physical.trim_start());
        } else {
            current.push('\n');
            current.push_str(physical);
        }
        for c in physical.chars() {
            match c {
                '(' | '[' | '{' => depth += 1,
                ')' | ']' | '}' => depth = (depth - 1).max(0),
                _ => {}
            }
        }
        let continued = physical.trim_end().ends_with('\\');
        if depth == 0 && !continued {
            let text = std::mem::take(&mut current).trim_end().to_owned();
            lines.push(LogicalLine::new(start, indent, text));
        }
    }
    if !current.trim().is_empty() {
        lines.push(LogicalLine::new(
            start,
            indent,
            current.trim_end().to_owned(),
        ));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_and_comments_are_blanked_with_lines_kept() {
        let src = "x = open('a.txt')  # open(\ny = \"\"\"open(\nz\"\"\" + r'\\'' + f\"{open}\"\n";
        let b = blank(src);
        assert_eq!(b.lines().count(), src.lines().count());
        assert_eq!(b.matches("open(").count(), 1, "{b}");
        assert!(b.starts_with("x = open('     ')"), "{b}");
    }

    #[test]
    fn brackets_and_backslashes_join_lines() {
        let src =
            "from .stages import (\n    a,\n    b,\n)\nimport os, \\\n    sys\n\n  def f():\n";
        let lines = logical_lines(src);
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert_eq!(lines[0].line, 1);
        assert!(lines[0].text.contains("b,"));
        assert_eq!(lines[1].line, 5);
        assert_eq!(lines[1].line_at(lines[1].text.find("sys").unwrap()), 6);
        assert_eq!(lines[2].indent, 2);
    }
}
