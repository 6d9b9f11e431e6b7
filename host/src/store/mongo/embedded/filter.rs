//! The embedded store's query matcher: MongoDB's filter semantics for the operators listed
//! in docs/mongodb.md; any other operator is refused by name.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use bson::{Bson, Document};

use super::in_set::InSet;
use super::value::{compare, equal, lookup, type_rank};
use crate::store::mongo::MongoError;

/// A filter ready to test many documents: what is worth preparing once per query (the
/// hash sets of `$in` lists) is prepared at first use and kept for the next documents.
pub(crate) struct Matcher<'f> {
    filter: &'f Document,
    cx: Cx<'f>,
}

impl<'f> Matcher<'f> {
    /// A matcher for `filter`.
    pub(crate) fn new(filter: &'f Document) -> Self {
        Self {
            filter,
            cx: Cx::default(),
        }
    }

    /// Whether `doc` matches the filter.
    pub(crate) fn matches(&self, doc: &Document) -> Result<bool, MongoError> {
        matches_in(doc, self.filter, &self.cx)
    }
}

/// What a [`Matcher`] prepared: `$in` lists by the address of their array in the filter
/// (stable and unique while the filter is borrowed).
#[derive(Default)]
struct Cx<'f> {
    in_sets: RefCell<HashMap<*const Bson, Rc<InSet<'f>>>>,
}

/// Whether `doc` matches `filter` (one document; a scan uses a [`Matcher`]).
#[cfg(test)]
pub(crate) fn matches(doc: &Document, filter: &Document) -> Result<bool, MongoError> {
    Matcher::new(filter).matches(doc)
}

fn matches_in<'f>(doc: &Document, filter: &'f Document, cx: &Cx<'f>) -> Result<bool, MongoError> {
    for (key, cond) in filter {
        let ok = match key.as_str() {
            "$and" => clauses(key, cond)?.iter().try_fold(true, |acc, f| {
                Ok::<_, MongoError>(acc && matches_in(doc, f, cx)?)
            })?,
            "$or" => {
                let mut any = false;
                for f in clauses(key, cond)? {
                    if matches_in(doc, f, cx)? {
                        any = true;
                        break;
                    }
                }
                any
            }
            "$nor" => {
                let mut any = false;
                for f in clauses(key, cond)? {
                    any |= matches_in(doc, f, cx)?;
                }
                !any
            }
            "$comment" => true,
            op if op.starts_with('$') => return Err(unsupported(op)),
            path => match_path(doc, path, cond, cx)?,
        };
        if !ok {
            return Ok(false);
        }
    }
    Ok(true)
}

fn clauses<'a>(op: &str, cond: &'a Bson) -> Result<Vec<&'a Document>, MongoError> {
    let Bson::Array(items) = cond else {
        return Err(bad_value(op, "a non-empty array of documents"));
    };
    if items.is_empty() {
        return Err(bad_value(op, "a non-empty array of documents"));
    }
    items
        .iter()
        .map(|i| match i {
            Bson::Document(d) => Ok(d),
            _ => Err(bad_value(op, "a non-empty array of documents")),
        })
        .collect()
}

fn unsupported(op: &str) -> MongoError {
    MongoError::Unsupported {
        operator: op.to_string(),
    }
}

/// MongoDB's error 2 (BadValue).
fn bad_value(op: &str, expected: &str) -> MongoError {
    MongoError::Server {
        code: 2,
        message: format!("{op} needs {expected}"),
    }
}

/// Whether `cond` is an operator document (`{"$gt": 1}`) rather than a value to equal.
pub(crate) fn is_operator_doc(cond: &Bson) -> bool {
    matches!(cond, Bson::Document(d) if d.keys().next().is_some_and(|k| k.starts_with('$')))
}

fn match_path<'f>(
    doc: &Document,
    path: &str,
    cond: &'f Bson,
    cx: &Cx<'f>,
) -> Result<bool, MongoError> {
    let leaves = lookup(doc, path);
    match cond {
        Bson::Document(ops) if is_operator_doc(cond) => match_ops(&leaves, ops, cx),
        Bson::RegularExpression(_) => Err(unsupported("$regex")),
        value => eq(&leaves, value),
    }
}

/// The values a condition is tested against: each leaf, and the elements of array leaves.
fn candidates<'a>(leaves: &[&'a Bson]) -> Vec<&'a Bson> {
    let mut out = Vec::new();
    for leaf in leaves {
        if let Bson::Array(items) = leaf {
            out.extend(items.iter());
        }
        out.push(*leaf);
    }
    out
}

fn eq(leaves: &[&Bson], value: &Bson) -> Result<bool, MongoError> {
    if matches!(value, Bson::Null) {
        // `null` matches a missing field, too.
        if leaves.is_empty() {
            return Ok(true);
        }
    }
    for c in candidates(leaves) {
        if equal(c, value)? {
            return Ok(true);
        }
    }
    Ok(false)
}

fn match_ops<'f>(leaves: &[&Bson], ops: &'f Document, cx: &Cx<'f>) -> Result<bool, MongoError> {
    for (op, arg) in ops {
        let ok = match op.as_str() {
            "$eq" => eq(leaves, arg)?,
            "$ne" => !eq(leaves, arg)?,
            "$gt" | "$gte" | "$lt" | "$lte" => range(leaves, op, arg)?,
            "$in" => in_list(leaves, op, arg, cx)?,
            "$nin" => !in_list(leaves, op, arg, cx)?,
            "$exists" => leaves.is_empty() != truthy(arg),
            "$not" => match arg {
                Bson::Document(inner) if is_operator_doc(arg) => !match_ops(leaves, inner, cx)?,
                Bson::RegularExpression(_) => return Err(unsupported("$regex")),
                _ => return Err(bad_value("$not", "an operator document")),
            },
            "$size" => {
                let n = match arg {
                    Bson::Int32(n) => i64::from(*n),
                    Bson::Int64(n) => *n,
                    Bson::Double(f) if f.fract() == 0.0 => *f as i64,
                    _ => return Err(bad_value("$size", "a whole number")),
                };
                leaves
                    .iter()
                    .any(|l| matches!(l, Bson::Array(a) if a.len() as i64 == n))
            }
            "$all" => {
                let Bson::Array(wanted) = arg else {
                    return Err(bad_value("$all", "an array"));
                };
                if wanted.is_empty() {
                    false
                } else {
                    let mut all = true;
                    for w in wanted {
                        if is_operator_doc(w) {
                            return Err(unsupported("$all with $elemMatch"));
                        }
                        all &= eq(leaves, w)?;
                    }
                    all
                }
            }
            "$elemMatch" => elem_match(leaves, arg, cx)?,
            other => return Err(unsupported(other)),
        };
        if !ok {
            return Ok(false);
        }
    }
    Ok(true)
}

fn truthy(v: &Bson) -> bool {
    match v {
        Bson::Boolean(b) => *b,
        Bson::Int32(n) => *n != 0,
        Bson::Int64(n) => *n != 0,
        Bson::Double(f) => *f != 0.0,
        Bson::Null | Bson::Undefined => false,
        _ => true,
    }
}

fn range(leaves: &[&Bson], op: &str, arg: &Bson) -> Result<bool, MongoError> {
    if matches!(arg, Bson::RegularExpression(_)) {
        return Err(unsupported("$regex"));
    }
    if matches!(arg, Bson::Null) {
        // `$gte: null` and `$lte: null` are equality on null; `$gt`/`$lt` match nothing.
        return if op == "$gte" || op == "$lte" {
            eq(leaves, arg)
        } else {
            Ok(false)
        };
    }
    for c in candidates(leaves) {
        // Type bracketing: only values of the argument's type bracket compare.
        if matches!(c, Bson::Array(_)) && !matches!(arg, Bson::Array(_)) {
            continue;
        }
        if type_rank(c) != type_rank(arg) {
            continue;
        }
        let o = compare(c, arg)?;
        let ok = match op {
            "$gt" => o.is_gt(),
            "$gte" => o.is_ge(),
            "$lt" => o.is_lt(),
            _ => o.is_le(),
        };
        if ok {
            return Ok(true);
        }
    }
    Ok(false)
}

fn in_list<'f>(leaves: &[&Bson], op: &str, arg: &'f Bson, cx: &Cx<'f>) -> Result<bool, MongoError> {
    let Bson::Array(values) = arg else {
        return Err(bad_value(op, "an array"));
    };
    let prepared = cx.in_sets.borrow().get(&(arg as *const Bson)).cloned();
    let set = match prepared {
        Some(set) => set,
        None => {
            let set = Rc::new(InSet::new(values)?);
            cx.in_sets
                .borrow_mut()
                .insert(arg as *const Bson, set.clone());
            set
        }
    };
    set.matches(&candidates(leaves))
}

fn elem_match<'f>(leaves: &[&Bson], arg: &'f Bson, cx: &Cx<'f>) -> Result<bool, MongoError> {
    let Bson::Document(inner) = arg else {
        return Err(bad_value("$elemMatch", "a document"));
    };
    for leaf in leaves {
        let Bson::Array(items) = leaf else { continue };
        for item in items {
            let ok = if is_operator_doc(arg) {
                match_ops(&[item], inner, cx)?
            } else {
                match item {
                    Bson::Document(d) => matches_in(d, inner, cx)?,
                    _ => false,
                }
            };
            if ok {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    fn m(d: Document, f: Document) -> bool {
        matches(&d, &f).unwrap()
    }

    #[test]
    fn equality_on_an_array_field_matches_its_elements() {
        assert!(m(doc! {"tags": ["a", "b"]}, doc! {"tags": "b"}));
        assert!(m(doc! {"tags": ["a", "b"]}, doc! {"tags": ["a", "b"]}));
        assert!(!m(doc! {"tags": ["a", "b"]}, doc! {"tags": ["b", "a"]}));
        assert!(m(doc! {"a": [{"b": 1}, {"b": 2}]}, doc! {"a.b": 2}));
    }

    #[test]
    fn null_matches_missing_and_exists_tells_them_apart() {
        assert!(m(doc! {}, doc! {"x": null}));
        assert!(!m(doc! {}, doc! {"x": {"$exists": true}}));
        assert!(m(doc! {"x": null}, doc! {"x": {"$exists": true}}));
        assert!(m(doc! {"x": 1}, doc! {"y": {"$exists": false}}));
    }

    #[test]
    fn comparisons_bracket_by_type() {
        assert!(m(doc! {"n": 5}, doc! {"n": {"$gt": 4.5, "$lte": 5}}));
        assert!(!m(doc! {"n": "5"}, doc! {"n": {"$gt": 4}}));
        assert!(m(doc! {"n": [1, 10]}, doc! {"n": {"$gt": 5}}));
        assert!(m(
            doc! {"n": 1},
            doc! {"$or": [{"n": 2}, {"n": {"$in": [1, 3]}}]}
        ));
        assert!(m(doc! {"n": 1}, doc! {"n": {"$nin": [2]}, "m": {"$ne": 1}}));
        assert!(m(doc! {"n": 1}, doc! {"n": {"$not": {"$gt": 3}}}));
    }

    #[test]
    fn unknown_operators_are_refused_by_name() {
        let e = matches(&doc! {}, &doc! {"$where": "1"}).unwrap_err();
        assert_eq!(
            e,
            MongoError::Unsupported {
                operator: "$where".into()
            }
        );
        let e = matches(&doc! {}, &doc! {"a": {"$regex": "x"}}).unwrap_err();
        assert_eq!(
            e,
            MongoError::Unsupported {
                operator: "$regex".into()
            }
        );
    }

    #[test]
    fn the_deepest_filters_and_documents_fit_a_small_stack() {
        // Host calls run on wasmtime's fiber stack (2 MiB, the guest may use 512 KiB of
        // it). Guest filters are at most 128 levels (serde_json's parser), stored
        // documents at most 100 (MAX_NESTING): matching the deepest of both must fit.
        let result = std::thread::Builder::new()
            .stack_size(512 << 10)
            .spawn(|| {
                let mut deep = doc! {"leaf": 1};
                for _ in 1..crate::store::limits::MAX_NESTING {
                    deep = doc! {"a": deep};
                }
                let mut filter = doc! {"a": deep.get("a").cloned().unwrap_or(Bson::Null)};
                // $and nests two levels per step (object, array): 63 of them is 126 levels.
                for _ in 0..63 {
                    filter = doc! {"$and": [filter]};
                }
                let mut elem = doc! {"$elemMatch": {"$gte": 0}};
                for _ in 0..60 {
                    elem = doc! {"$not": elem};
                }
                (
                    matches(&deep, &filter),
                    matches(&doc! {"xs": [1]}, &doc! {"xs": elem}),
                )
            })
            .expect("spawn")
            .join()
            .expect("no stack overflow");
        assert_eq!(result.0, Ok(true));
        assert!(result.1.is_ok() || result.1.is_err());
    }
}
