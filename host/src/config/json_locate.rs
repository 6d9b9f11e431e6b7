//! Where a key's value is in a JSON text, for the line:column of workers-file errors.
//!
//! serde_json's `Value` carries no positions, so this is a best-effort scan like
//! [`super::location::find_key`] for YAML: it follows strings (decoded by serde_json, so
//! escapes compare right) and bracket depth, and finds the key path `["worker", "ready",
//! "timeout"]` nested object in object. A key it cannot find yields `None`, and the caller
//! prints no location.
//!
//! Imports only [`super::location`].

use super::location::Location;

/// Where the value of the nested key `path` starts (`path[0]` a top-level key, `path[1]` a
/// key of its object, ...); the first occurrence when a key is repeated.
pub(crate) fn find_json_key(text: &str, path: &[&str]) -> Option<Location> {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    // How many leading elements of `path` are the objects we are inside of.
    let mut matched = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                let end = string_end(bytes, i)?;
                let after = skip_whitespace(bytes, end);
                if bytes.get(after) != Some(&b':') {
                    i = end;
                    continue;
                }
                // A key at `depth` is a sibling of whatever we matched at that depth.
                matched = matched.min(depth.saturating_sub(1));
                let name: String = serde_json::from_str(&text[i..end]).ok()?;
                if depth == matched + 1 && path.get(matched) == Some(&name.as_str()) {
                    matched += 1;
                    let value = skip_whitespace(bytes, after + 1);
                    if matched == path.len() {
                        return Some(location_of(text, value));
                    }
                }
                i = after + 1;
                continue;
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth = depth.checked_sub(1)?;
                matched = matched.min(depth);
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// The index just past the closing quote of the string starting at `start`.
fn string_end(bytes: &[u8], start: usize) -> Option<usize> {
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

fn skip_whitespace(bytes: &[u8], mut i: usize) -> usize {
    while bytes.get(i).is_some_and(u8::is_ascii_whitespace) {
        i += 1;
    }
    i
}

/// 1-based line and column (in characters) of the byte offset `offset`.
fn location_of(text: &str, offset: usize) -> Location {
    let before = &text[..offset.min(text.len())];
    let line_start = before.rfind('\n').map_or(0, |n| n + 1);
    Location::new(
        before.matches('\n').count() + 1,
        before[line_start..].chars().count() + 1,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "{\n  \"a\": {\"ready\": {\"x\": 1}},\n  \"w\\u0031\": {\n    \"note\": \"\\\"ready\\\": 2\",\n    \"ready\": {\"http\": \"/h\", \"timeout\": -1},\n    \"url\": \"ftp://x\"\n  }\n}\n";

    #[test]
    fn finds_nested_values_of_the_right_worker() {
        assert_eq!(find_json_key(TEXT, &["w1"]), Some(Location::new(3, 14)));
        assert_eq!(
            find_json_key(TEXT, &["w1", "ready"]),
            Some(Location::new(5, 14))
        );
        assert_eq!(
            find_json_key(TEXT, &["w1", "ready", "timeout"]),
            Some(Location::new(5, 40))
        );
        assert_eq!(
            find_json_key(TEXT, &["w1", "url"]),
            Some(Location::new(6, 12))
        );
        assert_eq!(
            find_json_key(TEXT, &["a", "ready", "x"]),
            Some(Location::new(2, 24))
        );
    }

    #[test]
    fn keys_elsewhere_are_not_found() {
        assert_eq!(find_json_key(TEXT, &["w1", "x"]), None);
        assert_eq!(find_json_key(TEXT, &["ready"]), None);
        assert_eq!(find_json_key(TEXT, &["a", "url"]), None);
        assert_eq!(find_json_key("{\"a\": \"unterminated", &["a", "b"]), None);
    }
}
