//! Where the items of a plan's `steps:` list are in the YAML text, for error locations.
//!
//! serde_yaml's values carry no positions, so this is a best-effort scan like
//! [`super::location::find_key`]: block sequences only (`- use: x` items under a top-level
//! `steps:`); a flow sequence (`steps: [...]`) yields no location and the caller prints none.
//!
//! Imports only [`super::location`].

use super::location::Location;

/// One item of a top-level block sequence: where its `-` is and which lines it spans.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ItemSpan {
    /// The item's `-`.
    pub dash: Location,
    /// 0-based index of the item's first line.
    first_line: usize,
    /// Byte offset of the item's first line in the text, so that looking inside one item
    /// does not rescan the lines before it.
    first_offset: usize,
    /// 0-based index one past the item's last line.
    end_line: usize,
}

/// The items of the block sequence under the top-level key `key`, in order.
pub(crate) fn sequence_items(text: &str, key: &str) -> Vec<ItemSpan> {
    let lines: Vec<&str> = text.lines().collect();
    let Some(start) = lines.iter().position(|l| {
        l.strip_prefix(key)
            .and_then(|rest| rest.trim_start().strip_prefix(':'))
            .is_some_and(|tail| tail.trim().is_empty() || tail.trim_start().starts_with('#'))
    }) else {
        return Vec::new();
    };
    let mut items: Vec<ItemSpan> = Vec::new();
    let mut item_indent: Option<usize> = None;
    let mut end = lines.len();
    for (index, line) in lines.iter().enumerate().skip(start + 1) {
        let body = line.trim_start_matches(' ');
        if body.is_empty() || body.starts_with('#') {
            continue;
        }
        let indent = line.len() - body.len();
        let is_dash = body == "-" || body.starts_with("- ");
        // A line at column 0 that is not a `- ` item ends the sequence (next top-level key).
        if indent == 0 && !is_dash {
            end = index;
            break;
        }
        match item_indent {
            None if is_dash => item_indent = Some(indent),
            Some(i) if is_dash && indent == i => {}
            _ => continue,
        }
        if let Some(last) = items.last_mut() {
            last.end_line = index;
        }
        items.push(ItemSpan {
            dash: Location::new(index + 1, indent + 1),
            first_line: index,
            // `line` is a slice of `text`.
            first_offset: line.as_ptr() as usize - text.as_ptr() as usize,
            end_line: lines.len(),
        });
    }
    if let Some(last) = items.last_mut() {
        last.end_line = last.end_line.min(end);
    }
    items
}

/// Where `key:`'s value starts inside `item` (or the key when the value is a block), if
/// the key is written in block style on its own line or right after the item's `- `.
pub(crate) fn key_in_item(text: &str, item: &ItemSpan, key: &str) -> Option<Location> {
    let lines = text[item.first_offset..]
        .lines()
        .take(item.end_line.saturating_sub(item.first_line));
    for (index, line) in (item.first_line..).zip(lines) {
        let mut body = line.trim_start_matches(' ');
        let mut indent = line.len() - body.len();
        if index == item.first_line {
            let Some(rest) = body.strip_prefix('-') else {
                continue;
            };
            let trimmed = rest.trim_start_matches(' ');
            indent += 1 + rest.len() - trimmed.len();
            body = trimmed;
        }
        let Some(rest) = body.strip_prefix(key) else {
            continue;
        };
        let Some(value) = rest.trim_start().strip_prefix(':') else {
            continue;
        };
        let value_trimmed = value.trim_start();
        if value_trimmed.is_empty() || value_trimmed.starts_with('#') {
            return Some(Location::new(index + 1, indent + 1));
        }
        let column = indent + (body.len() - value_trimmed.len());
        return Some(Location::new(index + 1, column + 1));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAN: &str = "packages:\n  a:\n    path: a.wasm\nsteps:\n  - use: a/one\n  # comment\n  - name: two\n    use: a/two\n    params:\n      - nested\nother: 1\n";

    #[test]
    fn items_are_found_with_their_dash() {
        let items = sequence_items(PLAN, "steps");
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].dash, Location::new(5, 3));
        assert_eq!(items[1].dash, Location::new(7, 3));
    }

    #[test]
    fn keys_are_found_on_the_dash_line_and_below() {
        let items = sequence_items(PLAN, "steps");
        assert_eq!(
            key_in_item(PLAN, &items[0], "use"),
            Some(Location::new(5, 10))
        );
        assert_eq!(
            key_in_item(PLAN, &items[1], "use"),
            Some(Location::new(8, 10))
        );
        assert_eq!(
            key_in_item(PLAN, &items[1], "params"),
            Some(Location::new(9, 5))
        );
        assert_eq!(key_in_item(PLAN, &items[0], "name"), None, "not in item 0");
        assert_eq!(key_in_item(PLAN, &items[1], "other"), None, "past the list");
    }

    #[test]
    fn a_flow_sequence_has_no_items() {
        assert!(sequence_items("steps: [{use: a/b}]\n", "steps").is_empty());
    }
}
