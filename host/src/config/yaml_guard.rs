//! Checks a YAML text (config.yaml, a plan, a `--set` value) must pass before serde_yaml
//! builds anything from it, so that parsing stays linear in the text and its result stays
//! proportional to it:
//!
//! - [`check_flow_depth`]: flow collections (`[[[...` or `{a: {a: ...`) nested deeper than
//!   [`MAX_NESTING`]. libyaml's scanner keeps one "simple key" per open flow level and
//!   walks all of them for every token, so 100 000 levels took 26 s (quadratic) before
//!   serde_yaml's own limit of 128 could refuse them. Block nesting is cheap to scan and
//!   serde_yaml refuses it past 128 levels; [`nesting_error`] words that refusal.
//! - [`check_expansion`]: aliases (`*a`) that would copy an anchored value so often that
//!   the parsed document is far larger than its text (a 15 KB "billion laughs" took 1.3 GB).
//!   serde_yaml limits alias *jumps* to 100 per event, not the size they copy.
//!
//! Imports only sibling config modules and the crate's `bounded_read` constants.

use std::cell::Cell;
use std::fmt;

use serde::de::{self, DeserializeSeed, EnumAccess, MapAccess, SeqAccess, VariantAccess, Visitor};

use super::location::Location;
pub(crate) use crate::bounded_read::MAX_NESTING;

/// Why a YAML text was refused before parsing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GuardError {
    /// Where, when known (the opening bracket past the limit).
    pub location: Option<Location>,
    /// What is wrong, a fragment for "file:line:col: <message>".
    pub message: String,
}

/// Refuses flow collections nested deeper than [`MAX_NESTING`], in one pass over `text`.
///
/// A small YAML lexer that only tracks what can open or close a flow collection: quoted
/// scalars, comments and block scalars are skipped; outside flow collections a `[` or `{`
/// counts only where a value can start (after `key: `, `- `, `? `, a tag or anchor, or at
/// the start of a line), as YAML reads it. When unsure it counts, so it may refuse odd
/// text early but never lets deep nesting through to libyaml.
pub(crate) fn check_flow_depth(text: &str) -> Result<(), GuardError> {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut line = 1usize;
    let mut line_start = 0usize;
    // Whether a node may start here (block context): at the start of a line's content or
    // after an indicator followed by a space.
    let mut node_start = true;
    let mut i = 0usize;
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b'\n' => {
                line += 1;
                line_start = i + 1;
                node_start = true;
                i += 1;
                continue;
            }
            b' ' | b'\t' | b'\r' => {
                i += 1;
                continue;
            }
            b'#' if i == line_start || matches!(bytes[i - 1], b' ' | b'\t') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            _ => {}
        }
        let may_start = depth > 0 || node_start;
        match c {
            b'[' | b'{' if may_start => {
                depth += 1;
                if depth > MAX_NESTING {
                    let column = text[line_start..i].chars().count() + 1;
                    return Err(GuardError {
                        location: Some(Location::new(line, column)),
                        message: format!(
                            "lists and mappings are nested more than {MAX_NESTING} levels deep \
                             here; flatten the document"
                        ),
                    });
                }
                node_start = true;
                i += 1;
            }
            b']' | b'}' if depth > 0 => {
                depth -= 1;
                node_start = false;
                i += 1;
            }
            b',' if depth > 0 => {
                node_start = true;
                i += 1;
            }
            b'\'' | b'"' if node_start => {
                // A quoted scalar: skip to its closing quote ('' and \" are escapes).
                let quote = c;
                i += 1;
                while i < bytes.len() {
                    match bytes[i] {
                        b'\\' if quote == b'"' => i += 1,
                        b'\'' if quote == b'\'' && bytes.get(i + 1) == Some(&b'\'') => i += 1,
                        q if q == quote => break,
                        b'\n' => {
                            line += 1;
                            line_start = i + 1;
                        }
                        _ => {}
                    }
                    i += 1;
                }
                i += 1;
                node_start = false;
            }
            b'|' | b'>' if depth == 0 && node_start => {
                // A block scalar: its content is the lines indented at least as deep as
                // its first non-blank line, when that is deeper than this line.
                let indent = leading_spaces(&bytes[line_start..]);
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
                let mut content: Option<usize> = None;
                while i < bytes.len() {
                    let next = i + 1;
                    let rest = &bytes[next.min(bytes.len())..];
                    let spaces = leading_spaces(rest);
                    let blank = matches!(rest.get(spaces), None | Some(b'\n') | Some(b'\r'));
                    if !blank {
                        let needed = *content.get_or_insert(spaces);
                        if spaces <= indent || spaces < needed {
                            break;
                        }
                    }
                    line += 1;
                    line_start = next;
                    i = next;
                    while i < bytes.len() && bytes[i] != b'\n' {
                        i += 1;
                    }
                }
            }
            b':' | b'-' | b'?' => {
                // An indicator when followed by a space or the end of the line (or, in
                // flow context, `:` before anything: JSON-style `"a":[`).
                let next = bytes.get(i + 1).copied();
                let indicator = matches!(next, None | Some(b' ' | b'\t' | b'\n' | b'\r'))
                    || (depth > 0 && c == b':');
                node_start = indicator;
                i += 1;
            }
            b'!' | b'&' if may_start => {
                // A tag or an anchor: the node starts after it.
                while i < bytes.len() && !matches!(bytes[i], b' ' | b'\t' | b'\n' | b'\r') {
                    if depth > 0 && matches!(bytes[i], b',' | b'[' | b']' | b'{' | b'}') {
                        break;
                    }
                    i += 1;
                }
                node_start = true;
            }
            _ => {
                node_start = false;
                i += 1;
            }
        }
    }
    Ok(())
}

fn leading_spaces(bytes: &[u8]) -> usize {
    bytes.iter().take_while(|b| **b == b' ').count()
}

/// serde_yaml's refusal of deep block nesting ("recursion limit exceeded") in our words;
/// other messages unchanged.
pub(crate) fn nesting_error(message: &str) -> Option<String> {
    message.contains("recursion limit exceeded").then(|| {
        format!(
            "lists and mappings are nested more than {MAX_NESTING} levels deep here; flatten \
             the document"
        )
    })
}

/// How much a parsed document may weigh (one per node plus the bytes of its strings) per
/// byte of its text, plus a constant. A document without aliases weighs at most about
/// twice its text (a node takes at least one byte, a string's bytes are written out), so
/// only alias copies can reach this.
const WEIGHT_PER_TEXT_BYTE: usize = 3;
const WEIGHT_MIN: usize = 64 * 1024;

/// Refuses a document whose aliases expand it past [`WEIGHT_PER_TEXT_BYTE`] times its
/// text. Walks the document once without keeping anything, stopping as soon as the
/// budget is spent, so the walk itself is bounded by the budget. Syntax errors are left
/// for the real parse to report.
pub(crate) fn check_expansion(text: &str) -> Result<(), GuardError> {
    let budget = text
        .len()
        .saturating_mul(WEIGHT_PER_TEXT_BYTE)
        .max(WEIGHT_MIN);
    let left = Cell::new(budget);
    let counter = Counter { left: &left };
    let result = counter.deserialize(serde_yaml::Deserializer::from_str(text));
    if result.is_err() && left.get() == 0 {
        return Err(GuardError {
            location: None,
            message: format!(
                "its aliases (`*name`) expand it to more than {WEIGHT_PER_TEXT_BYTE} times its \
                 own size; repeat fewer or smaller anchored values"
            ),
        });
    }
    Ok(())
}

/// Counts nodes and string bytes against `left`, keeping nothing.
#[derive(Clone, Copy)]
struct Counter<'a> {
    left: &'a Cell<usize>,
}

impl Counter<'_> {
    fn spend<E: de::Error>(self, weight: usize) -> Result<(), E> {
        match self.left.get().checked_sub(weight) {
            Some(left) => {
                self.left.set(left);
                Ok(())
            }
            None => {
                self.left.set(0);
                Err(E::custom("alias expansion budget spent"))
            }
        }
    }
}

impl<'de> DeserializeSeed<'de> for Counter<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Counter<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        self.spend(1)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        self.spend(1)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        self.spend(1)
    }
    fn visit_i128<E: de::Error>(self, _: i128) -> Result<(), E> {
        self.spend(1)
    }
    fn visit_u128<E: de::Error>(self, _: u128) -> Result<(), E> {
        self.spend(1)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        self.spend(1)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        self.spend(1 + v.len())
    }
    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<(), E> {
        self.spend(1 + v.len())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.spend(1)
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        self.spend(1)
    }
    fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        self.spend(1)?;
        d.deserialize_any(self)
    }
    fn visit_newtype_struct<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        self.spend(1)?;
        d.deserialize_any(self)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.spend(1)?;
        while seq.next_element_seed(self)?.is_some() {}
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        self.spend(1)?;
        while map.next_key_seed(self)?.is_some() {
            map.next_value_seed(self)?;
        }
        Ok(())
    }
    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<(), A::Error> {
        // A tagged value (`!Tag value`): the tag, then the value.
        let ((), variant) = data.variant_seed(self)?;
        variant.newtype_variant_seed(self)
    }
}

/// Both checks, flow depth first (it is what makes the other slow).
pub(crate) fn check_yaml(text: &str) -> Result<(), GuardError> {
    check_flow_depth(text)?;
    check_expansion(text)
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;

    #[test]
    fn ordinary_documents_pass() {
        let texts = [
            "task_id: x\nlimits: {fuel: 3, memory_mb: 64}\nallowed_hosts: [a, 'b[', \"c{\"]\n",
            "key: a[b{c\nother: it's [fine]\n# [[[[ comment\n",
            "text: |\n  {{{{{{{{\n  [[[[[[[[\nnext: 1\n",
            "base: &b {x: 1}\nderived:\n  <<: *b\n  y: 2\n",
            "{\"a\":[[1],[2]], \"b\": {\"c\":\"]]\"}}\n",
        ];
        for text in texts {
            assert_eq!(check_yaml(text), Ok(()), "{text}");
            serde_yaml::from_str::<serde_yaml::Value>(text)
                .unwrap_or_else(|e| panic!("{text}: {e}"));
        }
    }

    #[test]
    fn nesting_at_the_limit_passes_and_one_more_is_refused_at_its_bracket() {
        let at = format!(
            "a: {}{}\n",
            "[".repeat(MAX_NESTING),
            "]".repeat(MAX_NESTING)
        );
        assert_eq!(check_flow_depth(&at), Ok(()));
        let over = format!(
            "x: 1\na: {}{}\n",
            "{b: ".repeat(MAX_NESTING + 1),
            "}".repeat(MAX_NESTING + 1)
        );
        let err = check_flow_depth(&over).unwrap_err();
        assert_eq!(
            err.location,
            Some(Location::new(2, 4 + 4 * MAX_NESTING)),
            "{err:?}"
        );
        assert!(err.message.contains("nested more than 128"), "{err:?}");
    }

    #[test]
    fn a_hundred_thousand_levels_are_refused_quickly() {
        let n = 100_000;
        let text = format!("a: {}{}\n", "[".repeat(n), "]".repeat(n));
        let started = Instant::now();
        assert!(check_yaml(&text).is_err());
        assert!(started.elapsed() < Duration::from_secs(30), "did not hang");
    }

    #[test]
    fn brackets_in_quotes_comments_and_plain_scalars_do_not_count() {
        let deep = "[".repeat(MAX_NESTING * 2);
        let texts = [
            format!("a: '{deep}'\n"),
            format!("a: \"{deep}\"\n"),
            format!("a: 1 # {deep}\n"),
            format!("a: x{deep}\n"),
            format!("a: |\n  {deep}\nb: 2\n"),
        ];
        for text in &texts {
            assert_eq!(check_flow_depth(text), Ok(()), "{text}");
        }
    }

    #[test]
    fn alias_bombs_are_refused_and_plain_aliases_are_not() {
        let n = 3000;
        let bomb = format!(
            "a: &a [{}]\nb: [{}]\n",
            vec!["1"; n].join(","),
            vec!["*a"; n].join(",")
        );
        let err = check_expansion(&bomb).unwrap_err();
        assert!(err.message.contains("aliases"), "{err:?}");
        let ok = "a: &a [1, 2, 3]\nb: [*a, *a]\nc: *a\n";
        assert_eq!(check_expansion(ok), Ok(()));
    }

    #[test]
    fn a_large_document_without_aliases_is_within_its_weight() {
        let text = format!("a: [{}]\n", vec!["0"; 200_000].join(","));
        assert_eq!(check_expansion(&text), Ok(()));
    }
}
