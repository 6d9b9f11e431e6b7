//! Shape limits of what is persisted: how deep a state value or a document may nest and
//! how large one document may be, with the functions that measure both without recursion.
//!
//! These are format invariants rather than tunable budgets: a value nested deeper than
//! [`MAX_NESTING`] could not be read back by the next run (serde_json stops at 128 levels),
//! and every recursive walker over stored data (filters, updates, comparisons, value
//! conversion, serialisation) stays far from the host's stack limit because nothing deeper
//! ever enters. Pure: imports nothing of the crate.

use bson::{Bson, Document};
use serde_json::Value;

/// Deepest nesting of a state value (counting the parts of its dotted key) or a document:
/// MongoDB's own limit. It protects the host's stack from guest data (a 3000-part `$set`
/// path or a 300 000-part state key crashed the runner) and keeps `test_state.json` and the
/// embedded store's files readable by the next run (serde_json's parser refuses more than
/// 128 levels; the state file adds 3 around a value, canonical Extended JSON adds 1).
pub const MAX_NESTING: usize = 100;

/// Largest document MongoDB stores (its `BSONObjectMaxUserSize`): one insert, replacement
/// or updated document past it is refused, by the embedded store and before sending to a
/// server.
pub const MAX_DOCUMENT_BYTES: usize = 16 << 20;

/// Largest reply (documents as BSON) one database call collects in host memory before it
/// is turned into text for the guest: a find over a large collection is refused, not held
/// whole. Page with `limit`/`skip` instead.
pub const MAX_RESULT_BYTES: usize = 16 << 20;

/// Largest output of one aggregation stage that multiplies documents (`$unwind`, `$group`)
/// in the embedded store, as host memory ([`bson_memory`]): MongoDB's per-stage memory
/// limit without disk use. Before it, `$unwind` of a large array cloned a 120 KB document
/// per element: 3 GiB.
pub const MAX_STAGE_BYTES: usize = 100 << 20;

/// What each JSON value (number, string, array, object, ...) counts in
/// [`json_cost`] beyond its text: the host's bookkeeping of a parsed value, so that a
/// state of many tiny values (`[0,0,0,…]`: 2 bytes of text each) is counted near the
/// memory it takes rather than a sixteenth of it.
pub const JSON_VALUE_COST: usize = 16;

/// What a JSON value counts against the run state budget: its compact JSON text plus
/// [`JSON_VALUE_COST`] per value in it.
pub fn json_cost(value: &Value) -> usize {
    json_text_bytes(value) + json_values(value) * JSON_VALUE_COST
}

/// Length of the compact JSON text of `value`, counted without keeping it.
pub fn json_text_bytes(value: &impl serde::Serialize) -> usize {
    /// Counts bytes written, keeping none.
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut text = Count(0);
    // Writing to a counter fails only if `Serialize` does, which JSON values never do.
    serde_json::to_writer(&mut text, value).map_or(0, |()| text.0)
}

/// How many values `value` holds, itself included. Iterative.
pub fn json_values(value: &Value) -> usize {
    let mut values = 0usize;
    let mut stack = vec![value];
    while let Some(v) = stack.pop() {
        values += 1;
        match v {
            Value::Array(items) => stack.extend(items),
            Value::Object(map) => stack.extend(map.values()),
            _ => {}
        }
    }
    values
}

/// How many values JSON `text` holds, counted without parsing it: one per `[`, `{` and `,`
/// outside strings, plus one (exact for valid JSON without empty arrays or objects, one
/// more per empty one). Lets a caller refuse text whose parsed form would be too large
/// before building it: `[0,0,0,…]` takes 2 bytes of text and some 32 of memory per value.
pub fn json_value_count(text: &str) -> usize {
    let mut count = 1;
    let mut in_string = false;
    let mut escaped = false;
    for &b in text.as_bytes() {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
        } else {
            match b {
                b'"' => in_string = true,
                b'[' | b'{' | b',' => count += 1,
                _ => {}
            }
        }
    }
    count
}

/// Nesting depth of a JSON value: 0 for a scalar, 1 for `[]` or `{}` of scalars, and so on.
/// Iterative, so a value of any depth is measured without touching the stack.
pub fn json_depth(value: &Value) -> usize {
    let mut deepest = 0;
    let mut stack = vec![(value, 0usize)];
    while let Some((v, depth)) = stack.pop() {
        let children: Box<dyn Iterator<Item = &Value>> = match v {
            Value::Array(items) => Box::new(items.iter()),
            Value::Object(map) => Box::new(map.values()),
            _ => continue,
        };
        deepest = deepest.max(depth + 1);
        stack.extend(children.map(|c| (c, depth + 1)));
    }
    deepest
}

/// Nesting depth of a BSON value, counted as [`json_depth`] counts it. Iterative.
pub fn bson_depth(value: &Bson) -> usize {
    let mut deepest = 0;
    let mut stack = vec![(value, 0usize)];
    while let Some((v, depth)) = stack.pop() {
        let children: Box<dyn Iterator<Item = &Bson>> = match v {
            Bson::Array(items) => Box::new(items.iter()),
            Bson::Document(doc) => Box::new(doc.values()),
            Bson::JavaScriptCodeWithScope(code) => Box::new(code.scope.values()),
            _ => continue,
        };
        deepest = deepest.max(depth + 1);
        stack.extend(children.map(|c| (c, depth + 1)));
    }
    deepest
}

/// Nesting depth of a document: 1, plus the depth of its deepest value.
pub fn document_depth(doc: &Document) -> usize {
    1 + doc.values().map(bson_depth).max().unwrap_or(0)
}

/// Size of `doc` encoded as BSON, computed without encoding it (and without recursion);
/// exact for every type but the deprecated DBPointer and old binary subtype 2.
pub fn document_bytes(doc: &Document) -> usize {
    encoded_bytes(vec![doc], Vec::new())
}

/// Size of the encoding of `value` as a BSON element's value (a document or array
/// counted as its embedded document).
pub fn bson_bytes(value: &Bson) -> usize {
    let (mut docs, mut arrays) = (Vec::new(), Vec::new());
    let own = value_bytes(value, &mut docs, &mut arrays);
    own + encoded_bytes(docs, arrays)
}

/// Host memory one BSON value takes beyond its encoding in the embedded store's
/// in-memory form: the `Bson` value itself and, in a document, its entry (key string and
/// hash). Without it, `$unwind` of an 8000-element array of small numbers beside another
/// was counted at 10 bytes per number and took 1.16 GiB under a 100 MiB stage limit.
pub const BSON_VALUE_COST: usize = std::mem::size_of::<Bson>() + 32;

/// What `value` takes in host memory, about: its encoding plus [`BSON_VALUE_COST`] per
/// value in it (itself included). Iterative.
pub fn bson_memory(value: &Bson) -> usize {
    bson_bytes(value) + bson_values(value) * BSON_VALUE_COST
}

/// What `doc` takes in host memory, about (see [`bson_memory`]).
pub fn document_memory(doc: &Document) -> usize {
    document_bytes(doc) + (1 + doc.values().map(bson_values).sum::<usize>()) * BSON_VALUE_COST
}

/// How many values `value` holds, itself included. Iterative.
fn bson_values(value: &Bson) -> usize {
    let mut count = 0usize;
    let mut stack = vec![value];
    while let Some(v) = stack.pop() {
        count += 1;
        match v {
            Bson::Document(d) => stack.extend(d.values()),
            Bson::Array(items) => stack.extend(items),
            Bson::JavaScriptCodeWithScope(c) => stack.extend(c.scope.values()),
            _ => {}
        }
    }
    count
}

/// Size of the documents and arrays given, and everything in them.
fn encoded_bytes<'a>(mut docs: Vec<&'a Document>, mut arrays: Vec<&'a Vec<Bson>>) -> usize {
    // A document is its length (4), its elements, and a NUL; an element is a type byte,
    // the key as a C string, and the value.
    let mut total = 0;
    loop {
        let element = |key_len: usize| 1 + key_len + 1;
        if let Some(d) = docs.pop() {
            total += 5;
            for (k, v) in d {
                total += element(k.len()) + value_bytes(v, &mut docs, &mut arrays);
            }
        } else if let Some(items) = arrays.pop() {
            total += 5;
            for (i, v) in items.iter().enumerate() {
                total += element(decimal_len(i)) + value_bytes(v, &mut docs, &mut arrays);
            }
        } else {
            return total;
        }
    }
}

/// Size of a value's encoding, except that nested documents and arrays are pushed for
/// [`document_bytes`] to count.
fn value_bytes<'a>(
    v: &'a Bson,
    docs: &mut Vec<&'a Document>,
    arrays: &mut Vec<&'a Vec<Bson>>,
) -> usize {
    let string = |s: &str| 4 + s.len() + 1;
    match v {
        Bson::Double(_) | Bson::DateTime(_) | Bson::Int64(_) | Bson::Timestamp(_) => 8,
        Bson::Int32(_) => 4,
        Bson::Boolean(_) => 1,
        Bson::Null | Bson::Undefined | Bson::MaxKey | Bson::MinKey => 0,
        Bson::ObjectId(_) => 12,
        Bson::Decimal128(_) => 16,
        Bson::String(s) | Bson::JavaScriptCode(s) | Bson::Symbol(s) => string(s),
        Bson::Binary(b) => 4 + 1 + b.bytes.len(),
        Bson::RegularExpression(r) => r.pattern.len() + 1 + r.options.len() + 1,
        Bson::DbPointer(_) => 4 + 1 + 12,
        Bson::JavaScriptCodeWithScope(c) => {
            docs.push(&c.scope);
            4 + string(&c.code)
        }
        Bson::Document(d) => {
            docs.push(d);
            0
        }
        Bson::Array(items) => {
            arrays.push(items);
            0
        }
    }
}

fn decimal_len(mut n: usize) -> usize {
    let mut len = 1;
    while n >= 10 {
        n /= 10;
        len += 1;
    }
    len
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::{bson, doc};
    use serde_json::json;

    #[test]
    fn depth_counts_containers_not_scalars() {
        assert_eq!(json_depth(&json!(1)), 0);
        assert_eq!(json_depth(&json!([])), 1);
        assert_eq!(json_depth(&json!({"a": [1, {"b": {}}], "c": 2})), 4);
        assert_eq!(bson_depth(&bson!({"a": [1, {"b": {}}], "c": 2})), 4);
    }

    #[test]
    fn value_count_matches_the_parsed_value_and_skips_strings() {
        for text in [
            r#"1"#,
            r#"[1,2,3]"#,
            r#"{"a":1,"b":[true,null]}"#,
            r#"["a,b[{", "\\\"", 2]"#,
        ] {
            let v: Value = serde_json::from_str(text).unwrap();
            assert_eq!(json_value_count(text), json_values(&v), "{text}");
        }
        assert_eq!(json_value_count("[[],{}]"), 5);
    }

    #[test]
    fn json_cost_is_text_plus_a_share_per_value() {
        assert_eq!(json_cost(&json!("ab")), 4 + JSON_VALUE_COST);
        assert_eq!(json_cost(&json!([0, 0])), 5 + 3 * JSON_VALUE_COST);
        assert_eq!(json_cost(&json!({"k": null})), 10 + 2 * JSON_VALUE_COST);
    }

    #[test]
    fn depth_of_a_very_deep_value_does_not_touch_the_stack() {
        // Built and dropped by hand below: serde_json's own Drop would recurse.
        let mut v = json!(0);
        for _ in 0..200_000 {
            v = Value::Array(vec![v]);
        }
        assert_eq!(json_depth(&v), 200_000);
        // Unnest iteratively so dropping does not recurse either.
        let mut cur = v;
        while let Value::Array(mut items) = cur {
            cur = items.pop().unwrap_or(Value::Null);
        }
    }

    #[test]
    fn document_bytes_equals_the_encoded_size() {
        let docs = [
            doc! {},
            doc! {"a": 1, "b": "text", "c": [1.5, true, null, {"d": [[]]}], "e": {"f": 9i64}},
            doc! {"_id": bson::oid::ObjectId::new(), "t": bson::DateTime::now(),
            "bin": bson::Binary { subtype: bson::spec::BinarySubtype::Generic, bytes: vec![1, 2, 3] },
            "re": bson::Regex { pattern: "a+".into(), options: "i".into() },
            "long": (0..12).map(Bson::Int32).collect::<Vec<_>>()},
        ];
        for d in docs {
            assert_eq!(document_bytes(&d), bson::to_vec(&d).unwrap().len(), "{d}");
            // As a value: the same bytes (an embedded document is encoded whole).
            assert_eq!(bson_bytes(&Bson::Document(d.clone())), document_bytes(&d));
        }
        let with = doc! {"a": [1, "xy"]};
        let without = doc! {};
        assert_eq!(
            bson_bytes(&bson!([1, "xy"])),
            document_bytes(&with) - document_bytes(&without) - 3
        );
    }

    #[test]
    fn memory_counts_each_value_not_only_its_encoding() {
        let numbers = Bson::Array((0..8000).map(Bson::Int32).collect());
        let encoded = bson_bytes(&numbers);
        // Ten-odd bytes of BSON per number, several times that in memory.
        assert!(
            bson_memory(&numbers) > 5 * encoded,
            "{}",
            bson_memory(&numbers)
        );
        let doc = bson::doc! {"a": numbers.clone(), "b": numbers};
        assert_eq!(
            document_memory(&doc),
            document_bytes(&doc) + (1 + 2 + 2 * 8000) * BSON_VALUE_COST
        );
    }
}
