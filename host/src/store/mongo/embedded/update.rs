//! Update operators of the embedded store (`$set`, `$unset`, `$inc`, `$mul`, `$min`,
//! `$max`, `$push`, `$addToSet`, `$pull` of values, `$rename`, `$setOnInsert`,
//! `$currentDate`) and the document an upsert starts from.

use bson::{Bson, Document};

use super::filter::is_operator_doc;
use super::value::{compare, equal, number};
use crate::store::mongo::{MongoError, check_path};

fn unsupported(op: &str) -> MongoError {
    MongoError::Unsupported {
        operator: op.to_string(),
    }
}

fn server(code: i32, message: String) -> MongoError {
    MongoError::Server { code, message }
}

/// Refuses an update document that MongoDB would refuse or the store does not implement,
/// before any document changes.
pub(crate) fn check(update: &Document) -> Result<(), MongoError> {
    if update.is_empty() {
        return Err(server(9, "update document must not be empty".into()));
    }
    for (op, fields) in update {
        if !op.starts_with('$') {
            return Err(server(
                9,
                format!(
                    "update document must contain only operators; found field `{op}` (use replace-one to replace a document)"
                ),
            ));
        }
        if !matches!(
            op.as_str(),
            "$set"
                | "$unset"
                | "$inc"
                | "$mul"
                | "$min"
                | "$max"
                | "$push"
                | "$addToSet"
                | "$pull"
                | "$rename"
                | "$setOnInsert"
                | "$currentDate"
        ) {
            return Err(unsupported(op));
        }
        let Bson::Document(fields) = fields else {
            return Err(server(9, format!("{op} needs a document of fields")));
        };
        for path in fields.keys() {
            check_path(path)?;
            if path.split('.').any(|p| p.starts_with('$')) {
                return Err(unsupported(&format!("positional path `{path}`")));
            }
        }
        if op == "$rename" {
            for target in fields.values() {
                if let Bson::String(to) = target {
                    check_path(to)?;
                }
            }
        }
    }
    Ok(())
}

/// Applies `update` (already [`check`]ed) to `doc`. `inserting` enables `$setOnInsert`.
pub(crate) fn apply(
    doc: &mut Document,
    update: &Document,
    inserting: bool,
) -> Result<(), MongoError> {
    let id_before = doc.get("_id").cloned();
    for (op, fields) in update {
        let Bson::Document(fields) = fields else {
            continue;
        };
        for (path, arg) in fields {
            match op.as_str() {
                "$set" => set_path(doc, path, arg.clone())?,
                "$setOnInsert" if inserting => set_path(doc, path, arg.clone())?,
                "$setOnInsert" => {}
                "$unset" => {
                    remove_path(doc, path);
                }
                "$inc" | "$mul" => arith(doc, op, path, arg)?,
                "$min" | "$max" => {
                    let replace = match get_path(doc, path) {
                        None => true,
                        Some(current) => {
                            let o = compare(arg, current)?;
                            if op == "$min" { o.is_lt() } else { o.is_gt() }
                        }
                    };
                    if replace {
                        set_path(doc, path, arg.clone())?;
                    }
                }
                "$push" | "$addToSet" => push(doc, op, path, arg)?,
                "$pull" => pull(doc, path, arg)?,
                "$rename" => {
                    let Bson::String(to) = arg else {
                        return Err(server(2, "$rename needs a string target".into()));
                    };
                    if let Some(value) = remove_path(doc, path) {
                        set_path(doc, to, value)?;
                    }
                }
                "$currentDate" => match arg {
                    Bson::Boolean(true) => {
                        set_path(doc, path, Bson::DateTime(bson::DateTime::now()))?
                    }
                    Bson::Document(d) if d.get_str("$type") == Ok("date") => {
                        set_path(doc, path, Bson::DateTime(bson::DateTime::now()))?
                    }
                    _ => {
                        return Err(unsupported(
                            "$currentDate other than true or {$type: \"date\"}",
                        ));
                    }
                },
                _ => return Err(unsupported(op)),
            }
        }
    }
    if id_before.is_some() && doc.get("_id") != id_before.as_ref() {
        return Err(server(
            66,
            "Performing an update on the path '_id' would modify the immutable field '_id'".into(),
        ));
    }
    Ok(())
}

fn arith(doc: &mut Document, op: &str, path: &str, arg: &Bson) -> Result<(), MongoError> {
    if !matches!(arg, Bson::Int32(_) | Bson::Int64(_) | Bson::Double(_)) {
        return Err(server(14, format!("{op} needs a number, got {arg}")));
    }
    let current = get_path(doc, path).cloned();
    let result = match (current, op) {
        (None, "$inc") => arg.clone(),
        (None, _) => combine(&Bson::Int32(0), arg, |a, b| a.checked_mul(b), |a, b| a * b)?,
        (Some(c), "$inc") => combine(&c, arg, |a, b| a.checked_add(b), |a, b| a + b)?,
        (Some(c), _) => combine(&c, arg, |a, b| a.checked_mul(b), |a, b| a * b)?,
    };
    set_path(doc, path, result)
}

/// Integer arithmetic stays integral (int32 widening to int64 on overflow, as MongoDB
/// does); anything with a double becomes a double.
fn combine(
    a: &Bson,
    b: &Bson,
    int: impl Fn(i64, i64) -> Option<i64>,
    float: impl Fn(f64, f64) -> f64,
) -> Result<Bson, MongoError> {
    let as_int = |v: &Bson| match v {
        Bson::Int32(n) => Some(i64::from(*n)),
        Bson::Int64(n) => Some(*n),
        _ => None,
    };
    match (as_int(a), as_int(b)) {
        (Some(x), Some(y)) => {
            let r = int(x, y).ok_or_else(|| server(2, "integer overflow".into()))?;
            let both32 = matches!((a, b), (Bson::Int32(_), Bson::Int32(_)));
            Ok(match i32::try_from(r) {
                Ok(small) if both32 => Bson::Int32(small),
                _ => Bson::Int64(r),
            })
        }
        _ => {
            if !matches!(a, Bson::Int32(_) | Bson::Int64(_) | Bson::Double(_)) {
                return Err(server(
                    14,
                    format!("cannot apply arithmetic to non-numeric value {a}"),
                ));
            }
            Ok(Bson::Double(float(number(a)?, number(b)?)))
        }
    }
}

fn push(doc: &mut Document, op: &str, path: &str, arg: &Bson) -> Result<(), MongoError> {
    let items: Vec<Bson> = match arg {
        Bson::Document(d) if is_operator_doc(arg) => {
            if d.keys().any(|k| k != "$each") {
                return Err(unsupported(&format!("{op} modifiers other than $each")));
            }
            match d.get("$each") {
                Some(Bson::Array(each)) => each.clone(),
                _ => return Err(server(2, "$each needs an array".into())),
            }
        }
        other => vec![other.clone()],
    };
    let mut array = match get_path(doc, path) {
        None => Vec::new(),
        Some(Bson::Array(a)) => a.clone(),
        Some(other) => {
            return Err(server(
                2,
                format!("{op} needs an array at `{path}`, found {other}"),
            ));
        }
    };
    for item in items {
        if op == "$addToSet" {
            let mut present = false;
            for existing in &array {
                present |= equal(existing, &item)?;
            }
            if present {
                continue;
            }
        }
        array.push(item);
    }
    set_path(doc, path, Bson::Array(array))
}

fn pull(doc: &mut Document, path: &str, arg: &Bson) -> Result<(), MongoError> {
    if matches!(arg, Bson::Document(_) | Bson::RegularExpression(_)) {
        return Err(unsupported("$pull with a condition or document"));
    }
    let Some(Bson::Array(items)) = get_path(doc, path) else {
        return Ok(());
    };
    let mut kept = Vec::new();
    for item in items {
        if !equal(item, arg)? {
            kept.push(item.clone());
        }
    }
    set_path(doc, path, Bson::Array(kept))
}

/// The value at dotted `path`, through documents only.
pub(crate) fn get_path<'a>(doc: &'a Document, path: &str) -> Option<&'a Bson> {
    let (head, rest) = match path.split_once('.') {
        Some((h, r)) => (h, Some(r)),
        None => (path, None),
    };
    let value = doc.get(head)?;
    match (rest, value) {
        (None, v) => Some(v),
        (Some(rest), Bson::Document(d)) => get_path(d, rest),
        _ => None,
    }
}

/// Sets dotted `path`, creating documents on the way; refuses to go through arrays and
/// scalars (MongoDB's error 28 for scalars), and paths with more parts than a document may
/// nest (a 3000-part path overflowed the host's stack).
pub(crate) fn set_path(doc: &mut Document, path: &str, value: Bson) -> Result<(), MongoError> {
    check_path(path)?;
    set_checked_path(doc, path, value)
}

/// [`set_path`] once the path's length is checked: recursion is at most
/// [`MAX_NESTING`](crate::store::limits::MAX_NESTING) deep.
fn set_checked_path(doc: &mut Document, path: &str, value: Bson) -> Result<(), MongoError> {
    match path.split_once('.') {
        None => {
            doc.insert(path, value);
            Ok(())
        }
        Some((head, rest)) => {
            if !doc.contains_key(head) {
                doc.insert(head, Document::new());
            }
            match doc.get_mut(head) {
                Some(Bson::Document(inner)) => set_checked_path(inner, rest, value),
                Some(Bson::Array(_)) => {
                    Err(unsupported(&format!("update through the array `{head}`")))
                }
                _ => Err(server(
                    28,
                    format!("Cannot create field '{rest}' in element {{{head}: ...}}"),
                )),
            }
        }
    }
}

fn remove_path(doc: &mut Document, path: &str) -> Option<Bson> {
    match path.split_once('.') {
        None => doc.remove(path),
        Some((head, rest)) => match doc.get_mut(head) {
            Some(Bson::Document(inner)) => remove_path(inner, rest),
            _ => None,
        },
    }
}

/// The document an upsert inserts before applying its update: the filter's equality
/// conditions (`{a: 1}`, `{a: {$eq: 1}}`, inside `$and`).
pub(crate) fn upsert_seed(filter: &Document) -> Result<Document, MongoError> {
    let mut doc = Document::new();
    add_equalities(&mut doc, filter)?;
    Ok(doc)
}

fn add_equalities(doc: &mut Document, filter: &Document) -> Result<(), MongoError> {
    for (key, cond) in filter {
        if key == "$and" {
            if let Bson::Array(items) = cond {
                for item in items {
                    if let Bson::Document(d) = item {
                        add_equalities(doc, d)?;
                    }
                }
            }
        } else if key.starts_with('$') {
            continue;
        } else if let Bson::Document(ops) = cond
            && is_operator_doc(cond)
        {
            if let Some(v) = ops.get("$eq") {
                set_path(doc, key, v.clone())?;
            }
        } else {
            set_path(doc, key, cond.clone())?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::{bson, doc};

    fn run(mut d: Document, u: Document) -> Document {
        check(&u).unwrap();
        apply(&mut d, &u, false).unwrap();
        d
    }

    #[test]
    fn operators_change_documents_like_mongodb() {
        let d = run(
            doc! {"_id": 1, "n": 1, "tags": ["a"], "old": 1},
            doc! {"$set": {"s.t": "x"}, "$inc": {"n": 2}, "$push": {"tags": {"$each": ["b", "c"]}},
            "$rename": {"old": "new"}, "$unset": {"gone": ""}},
        );
        assert_eq!(
            d,
            doc! {"_id": 1, "n": 3, "tags": ["a", "b", "c"], "s": {"t": "x"}, "new": 1}
        );
        let d = run(
            doc! {"n": 1.5, "t": ["a"]},
            doc! {"$mul": {"n": 2}, "$addToSet": {"t": "a"}},
        );
        assert_eq!(d.get("n"), Some(&bson!(3.0)));
        assert_eq!(d.get("t"), Some(&bson!(["a"])));
    }

    #[test]
    fn changing_the_id_or_a_plain_document_is_refused() {
        let mut d = doc! {"_id": 1};
        let e = apply(&mut d, &doc! {"$set": {"_id": 2}}, false).unwrap_err();
        assert_eq!(e.code(), Some(66));
        assert_eq!(check(&doc! {"a": 1}).unwrap_err().code(), Some(9));
        assert_eq!(
            check(&doc! {"$pop": {"a": 1}}).unwrap_err(),
            MongoError::Unsupported {
                operator: "$pop".into()
            }
        );
    }

    #[test]
    fn upsert_starts_from_the_filter_equalities() {
        let seed =
            upsert_seed(&doc! {"a": 1, "b": {"$eq": 2}, "c": {"$gt": 3}, "$and": [{"d.e": 4}]})
                .unwrap();
        assert_eq!(seed, doc! {"a": 1, "b": 2, "d": {"e": 4}});
    }

    #[test]
    fn a_path_deeper_than_a_document_may_nest_is_refused_not_followed() {
        let deep = vec!["a"; 3000].join(".");
        let update = doc! {"$set": {deep.as_str(): 1}};
        assert!(
            check(&update)
                .unwrap_err()
                .to_string()
                .contains("3000 parts")
        );
        // Also where paths come from a filter (the upsert seed) or a rename target.
        let err = upsert_seed(&doc! {deep.as_str(): 1}).unwrap_err();
        assert!(err.to_string().contains("3000 parts"), "{err}");
        let rename = doc! {"$rename": {"x": deep.as_str()}};
        assert!(check(&rename).is_err());
        // A path at the limit still works.
        let ok = vec!["a"; crate::store::limits::MAX_NESTING].join(".");
        let d = run(doc! {}, doc! {"$set": {ok.as_str(): 1}});
        assert_eq!(get_path(&d, &ok), Some(&bson!(1)));
    }
}
