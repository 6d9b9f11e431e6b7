//! JSON helpers shared by the interfaces.

use serde_json::Value;

/// Looks up `key` in `root`: first as a literal key (keys may contain dots), then by
/// walking nested objects along the dot-separated path.
pub fn lookup_dotted<'v>(root: &'v Value, key: &str) -> Option<&'v Value> {
    if let Some(v) = root.get(key) {
        return Some(v);
    }
    let mut current = root;
    for part in key.split('.') {
        current = current.as_object()?.get(part)?;
    }
    Some(current)
}

/// Parses JSON text that a guest sent, naming what it was for in the error.
pub fn parse_guest_json(text: &str, what: &str) -> Result<Value, String> {
    serde_json::from_str(text)
        .map_err(|e| format!("{what} is not valid JSON ({e}): {}", preview(text)))
}

/// The first characters of a text, for error messages.
pub fn preview(text: &str) -> String {
    const MAX: usize = 120;
    if text.chars().count() <= MAX {
        text.to_string()
    } else {
        let cut: String = text.chars().take(MAX).collect();
        format!("{cut}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn literal_keys_win_over_paths() {
        let v = json!({"a.b": 1, "a": {"b": 2, "c": {"d": 3}}});
        assert_eq!(lookup_dotted(&v, "a.b"), Some(&json!(1)));
        assert_eq!(lookup_dotted(&v, "a.c.d"), Some(&json!(3)));
        assert_eq!(lookup_dotted(&v, "a.x"), None);
        assert_eq!(lookup_dotted(&json!(5), "a"), None);
    }

    #[test]
    fn bad_json_names_its_purpose() {
        let err = parse_guest_json("{oops", "the value of state.set(\"k\")").unwrap_err();
        assert!(err.starts_with("the value of state.set(\"k\") is not valid JSON"));
    }
}
