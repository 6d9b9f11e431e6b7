//! BSON values as MongoDB compares them: the cross-type order, numeric equality across
//! int32/int64/double, and dotted-path lookup through arrays.

use std::cmp::Ordering;

use bson::{Bson, Document};

use crate::store::mongo::MongoError;

/// MongoDB's order of BSON types (numbers form one bracket, strings and symbols another).
pub(crate) fn type_rank(v: &Bson) -> u8 {
    match v {
        Bson::MinKey => 0,
        Bson::Null | Bson::Undefined => 1,
        Bson::Int32(_) | Bson::Int64(_) | Bson::Double(_) | Bson::Decimal128(_) => 2,
        Bson::String(_) | Bson::Symbol(_) => 3,
        Bson::Document(_) => 4,
        Bson::Array(_) => 5,
        Bson::Binary(_) => 6,
        Bson::ObjectId(_) => 7,
        Bson::Boolean(_) => 8,
        Bson::DateTime(_) => 9,
        Bson::Timestamp(_) => 10,
        Bson::RegularExpression(_) => 11,
        Bson::MaxKey => 13,
        _ => 12,
    }
}

/// Compares two values in MongoDB's order. Decimal128, regular expressions and JavaScript
/// are refused: the embedded store does not implement their comparison.
pub(crate) fn compare(a: &Bson, b: &Bson) -> Result<Ordering, MongoError> {
    let rank = type_rank(a).cmp(&type_rank(b));
    if rank != Ordering::Equal {
        return Ok(rank);
    }
    Ok(match (a, b) {
        (Bson::Int32(x), Bson::Int32(y)) => x.cmp(y),
        (Bson::Int64(x), Bson::Int64(y)) => x.cmp(y),
        (Bson::Int32(x), Bson::Int64(y)) => i64::from(*x).cmp(y),
        (Bson::Int64(x), Bson::Int32(y)) => x.cmp(&i64::from(*y)),
        (x, y) if type_rank(x) == 2 => {
            let (x, y) = (number(x)?, number(y)?);
            x.partial_cmp(&y)
                .unwrap_or_else(|| x.is_nan().cmp(&y.is_nan()).reverse())
        }
        (Bson::String(x) | Bson::Symbol(x), Bson::String(y) | Bson::Symbol(y)) => x.cmp(y),
        (Bson::Document(x), Bson::Document(y)) => compare_docs(x, y)?,
        (Bson::Array(x), Bson::Array(y)) => {
            for (p, q) in x.iter().zip(y) {
                let o = compare(p, q)?;
                if o != Ordering::Equal {
                    return Ok(o);
                }
            }
            x.len().cmp(&y.len())
        }
        (Bson::Binary(x), Bson::Binary(y)) => x
            .bytes
            .len()
            .cmp(&y.bytes.len())
            .then(u8::from(x.subtype).cmp(&u8::from(y.subtype)))
            .then(x.bytes.cmp(&y.bytes)),
        (Bson::ObjectId(x), Bson::ObjectId(y)) => x.bytes().cmp(&y.bytes()),
        (Bson::Boolean(x), Bson::Boolean(y)) => x.cmp(y),
        (Bson::DateTime(x), Bson::DateTime(y)) => x.cmp(y),
        (Bson::Timestamp(x), Bson::Timestamp(y)) => {
            (x.time, x.increment).cmp(&(y.time, y.increment))
        }
        (Bson::Null | Bson::Undefined, _) | (Bson::MinKey, _) | (Bson::MaxKey, _) => {
            Ordering::Equal
        }
        (other, _) => {
            return Err(MongoError::Unsupported {
                operator: format!("comparison of {:?} values", other.element_type()),
            });
        }
    })
}

fn compare_docs(x: &Document, y: &Document) -> Result<Ordering, MongoError> {
    for ((kx, vx), (ky, vy)) in x.iter().zip(y) {
        let o = type_rank(vx).cmp(&type_rank(vy)).then_with(|| kx.cmp(ky));
        if o != Ordering::Equal {
            return Ok(o);
        }
        let o = compare(vx, vy)?;
        if o != Ordering::Equal {
            return Ok(o);
        }
    }
    Ok(x.len().cmp(&y.len()))
}

/// A number as f64; Decimal128 is refused.
pub(crate) fn number(v: &Bson) -> Result<f64, MongoError> {
    match v {
        Bson::Int32(x) => Ok(f64::from(*x)),
        // Precision loss past 2^53 only affects mixed int64/double comparisons.
        #[allow(clippy::cast_precision_loss)]
        Bson::Int64(x) => Ok(*x as f64),
        Bson::Double(x) => Ok(*x),
        Bson::Decimal128(_) => Err(MongoError::Unsupported {
            operator: "Decimal128 arithmetic".into(),
        }),
        _ => Err(MongoError::Invalid(format!("{v} is not a number"))),
    }
}

/// MongoDB equality: same type bracket and equal (1 == 1.0; documents field by field, in
/// order).
pub(crate) fn equal(a: &Bson, b: &Bson) -> Result<bool, MongoError> {
    Ok(type_rank(a) == type_rank(b) && compare(a, b)? == Ordering::Equal)
}

/// The values at dotted `path` in `doc`, traversing arrays of documents as MongoDB does
/// (`tags.name` reaches the `name` of every element of `tags`). Arrays at the end of the
/// path are returned whole; the caller decides whether to look at their elements.
pub(crate) fn lookup<'a>(doc: &'a Document, path: &str) -> Vec<&'a Bson> {
    let parts: Vec<&str> = path.split('.').collect();
    let mut out = Vec::new();
    lookup_in_doc(doc, &parts, &mut out);
    out
}

fn lookup_in_doc<'a>(doc: &'a Document, parts: &[&str], out: &mut Vec<&'a Bson>) {
    if let Some(value) = doc.get(parts[0]) {
        lookup_value(value, &parts[1..], out);
    }
}

fn lookup_value<'a>(value: &'a Bson, parts: &[&str], out: &mut Vec<&'a Bson>) {
    if parts.is_empty() {
        out.push(value);
        return;
    }
    match value {
        Bson::Document(d) => lookup_in_doc(d, parts, out),
        Bson::Array(items) => {
            if let Ok(index) = parts[0].parse::<usize>() {
                if let Some(item) = items.get(index) {
                    lookup_value(item, &parts[1..], out);
                }
            } else {
                for item in items {
                    if let Bson::Document(d) = item {
                        lookup_in_doc(d, parts, out);
                    }
                }
            }
        }
        _ => {}
    }
}

/// The single value of a field path in an aggregation expression (`$a.b`); refuses paths
/// through arrays, whose MongoDB result (an array of the values) the store does not build.
pub(crate) fn field_value<'a>(
    doc: &'a Document,
    path: &str,
) -> Result<Option<&'a Bson>, MongoError> {
    let mut current = doc;
    let mut parts = path.split('.').peekable();
    while let Some(part) = parts.next() {
        let Some(value) = current.get(part) else {
            return Ok(None);
        };
        if parts.peek().is_none() {
            return Ok(Some(value));
        }
        match value {
            Bson::Document(d) => current = d,
            Bson::Array(_) => {
                return Err(MongoError::Unsupported {
                    operator: format!("field path `${path}` through an array"),
                });
            }
            _ => return Ok(None),
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::{bson, doc};

    #[test]
    fn numbers_compare_across_types_and_types_in_mongodb_order() {
        assert!(equal(&bson!(1), &bson!(1.0)).unwrap());
        assert!(!equal(&bson!(1), &bson!("1")).unwrap());
        assert_eq!(compare(&Bson::Null, &bson!(0)).unwrap(), Ordering::Less);
        assert_eq!(compare(&bson!("a"), &bson!(5)).unwrap(), Ordering::Greater);
    }

    #[test]
    fn lookup_traverses_arrays_of_documents() {
        let d = doc! {"a": [{"b": 1}, {"b": 2}, 3], "c": {"d": [4]}};
        assert_eq!(lookup(&d, "a.b"), vec![&bson!(1), &bson!(2)]);
        assert_eq!(lookup(&d, "a.1.b"), vec![&bson!(2)]);
        assert_eq!(lookup(&d, "c.d"), vec![&bson!([4])]);
        assert!(lookup(&d, "x.y").is_empty());
    }
}
