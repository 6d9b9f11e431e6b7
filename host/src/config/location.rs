//! Where something is in a config file: 1-based line and column, found either in a parser's
//! error or, for values the parsers accept but we reject, by scanning the YAML text for a key.
//!
//! Imports nothing from the crate; start from [`Location`].

use std::fmt;

/// A 1-based line and column in a text file, displayed as `line:column`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Location {
    /// Line number, counting from 1.
    pub line: usize,
    /// Column number (in characters), counting from 1.
    pub column: usize,
}

impl Location {
    /// A location from 1-based numbers; a column of 0 (serde_json's "start of line") becomes 1.
    pub fn new(line: usize, column: usize) -> Self {
        Location {
            line: line.max(1),
            column: column.max(1),
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// Removes the ` at line L column C` that serde_yaml and serde_json append to their messages,
/// since we print the location in front as `file:L:C`.
pub(crate) fn strip_location_suffix(message: &str, line: usize, column: usize) -> String {
    let suffix = format!(" at line {line} column {column}");
    message.replacen(&suffix, "", 1)
}

/// Splits serde_yaml's `mongodb.collections.x.required_count: invalid type ...` into the key
/// path and the rest. serde's own phrases ("invalid type: ...") contain a space before their
/// colon, which tells them apart from a key path.
pub(crate) fn split_key_path(message: &str) -> (Option<String>, String) {
    match message.split_once(": ") {
        Some((head, rest)) if !head.is_empty() && !head.contains(' ') => {
            (Some(head.to_string()), rest.to_string())
        }
        _ => (None, message.to_string()),
    }
}

/// Where a key and its value start in a YAML text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct KeySpan {
    /// The first character of the key.
    pub key: Location,
    /// The first character of the value on the key's line, or the key itself when the value
    /// is a block on the following lines.
    pub value: Location,
}

/// Finds the block-style key `path[0]`, then `path[1]` nested under it, and so on, in a YAML
/// text. A best-effort scan (serde_yaml's `Value` carries no positions): flow mappings and
/// keys written on the same line as a `- ` are not found, and then the caller prints no
/// location.
pub(crate) fn find_key(text: &str, path: &[&str]) -> Option<KeySpan> {
    let (first, rest) = path.split_first()?;
    let mut target = *first;
    let mut remaining = rest;
    // Indentation of the parent key: a child must be indented deeper; a line at the parent's
    // level or shallower ends the parent's block.
    let mut parent_indent: Option<usize> = None;
    for (index, line) in text.lines().enumerate() {
        let body = line.trim_start_matches(' ');
        if body.is_empty() || body.starts_with('#') {
            continue;
        }
        let indent = line.len() - body.len();
        if let Some(parent) = parent_indent
            && indent <= parent
        {
            return None;
        }
        if parent_indent.is_none() && indent != 0 {
            continue;
        }
        let Some(after_colon) = key_prefix_len(body, target) else {
            continue;
        };
        let key = Location::new(index + 1, indent + 1);
        match remaining.split_first() {
            None => {
                let value_text = &body[after_colon..];
                let skipped = value_text.len() - value_text.trim_start().len();
                let value = if value_text.trim().is_empty() || value_text.trim().starts_with('#') {
                    key
                } else {
                    let column = line[..indent + after_colon + skipped].chars().count() + 1;
                    Location::new(index + 1, column)
                };
                return Some(KeySpan { key, value });
            }
            Some((next, rest)) => {
                parent_indent = Some(indent);
                target = next;
                remaining = rest;
            }
        }
    }
    None
}

/// If `body` starts with `key:` (the key optionally quoted), the byte length up to and
/// including the colon.
fn key_prefix_len(body: &str, key: &str) -> Option<usize> {
    let quoted = [format!("\"{key}\""), format!("'{key}'"), key.to_string()];
    quoted.iter().find_map(|spelled| {
        let rest = body.strip_prefix(spelled.as_str())?;
        let trimmed = rest.trim_start_matches([' ', '\t']);
        let tail = trimmed.strip_prefix(':')?;
        if tail.is_empty() || tail.starts_with([' ', '\t']) {
            Some(body.len() - tail.len())
        } else {
            None
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "# comment\ntask_id: \"x\"\nmongodb:\n  database: db\n  collections:\n    todos:\n      required_count:   3 # c\nbase_port: 5000\n";

    #[test]
    fn finds_top_level_key_and_value_columns() {
        let span = find_key(TEXT, &["base_port"]).expect("found");
        assert_eq!(span.key, Location::new(8, 1));
        assert_eq!(span.value, Location::new(8, 12));
    }

    #[test]
    fn finds_nested_key_under_its_parent_only() {
        let span =
            find_key(TEXT, &["mongodb", "collections", "todos", "required_count"]).expect("found");
        assert_eq!(span.key, Location::new(7, 7));
        assert_eq!(span.value, Location::new(7, 25));
        assert_eq!(find_key(TEXT, &["database"]), None, "not at top level");
        assert_eq!(find_key(TEXT, &["mongodb", "base_port"]), None);
    }

    #[test]
    fn block_value_points_at_the_key() {
        let span = find_key(TEXT, &["mongodb"]).expect("found");
        assert_eq!(span.value, span.key);
    }

    #[test]
    fn key_prefix_needs_a_colon_then_space_or_end() {
        assert_eq!(key_prefix_len("max_rounds: 3", "max_rounds"), Some(11));
        assert_eq!(key_prefix_len("\"max_rounds\" : 3", "max_rounds"), Some(14));
        assert_eq!(key_prefix_len("max_roundsx: 3", "max_rounds"), None);
        assert_eq!(key_prefix_len("url:http", "url"), None);
    }

    #[test]
    fn serde_messages_lose_their_suffix_and_split_the_key() {
        let message = "base_port: invalid type: string \"abc\", expected u16 at line 1 column 12";
        let stripped = strip_location_suffix(message, 1, 12);
        let (key, rest) = split_key_path(&stripped);
        assert_eq!(key.as_deref(), Some("base_port"));
        assert_eq!(rest, "invalid type: string \"abc\", expected u16");
        assert_eq!(split_key_path("invalid type: sequence").0, None);
    }
}
