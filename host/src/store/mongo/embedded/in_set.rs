//! `$in` and `$nin` lists as hash sets: a list of N values is indexed once per query and
//! each document's values are looked up in it, instead of comparing every document with
//! every value (a `$in` of a few thousand ids over a few thousand documents took tens of
//! seconds that way). Values whose equality is not a plain key (documents, arrays, numbers
//! beyond 2^53, NaN, decimals…) stay in a short list compared the old way, so the result is
//! exactly MongoDB's equality ([`equal`]).

use std::collections::HashSet;

use bson::Bson;

use super::value::equal;
use crate::store::mongo::MongoError;

/// Largest integer every number type represents exactly: integral values up to it key as
/// integers, so `1`, `1i64` and `1.0` share a key as MongoDB's equality says they should.
const EXACT_INT: i64 = 1 << 53;

/// A value as a hash key, when its equality is exactly key equality.
#[derive(Debug, Hash, PartialEq, Eq)]
enum Key<'a> {
    Null,
    Int(i64),
    Float(u64),
    Str(&'a str),
    Bool(bool),
    ObjectId([u8; 12]),
    Date(i64),
}

fn key(v: &Bson) -> Option<Key<'_>> {
    let int = |i: i64| (-EXACT_INT..=EXACT_INT).contains(&i).then_some(Key::Int(i));
    match v {
        Bson::Null | Bson::Undefined => Some(Key::Null),
        Bson::Int32(i) => Some(Key::Int(i64::from(*i))),
        Bson::Int64(i) => int(*i),
        Bson::Double(f) if f.is_nan() => None,
        Bson::Double(f) if f.fract() == 0.0 && f.abs() <= EXACT_INT as f64 => int(*f as i64),
        Bson::Double(f) => Some(Key::Float(f.to_bits())),
        Bson::String(s) => Some(Key::Str(s)),
        Bson::Boolean(b) => Some(Key::Bool(*b)),
        Bson::ObjectId(o) => Some(Key::ObjectId(o.bytes())),
        Bson::DateTime(d) => Some(Key::Date(d.timestamp_millis())),
        _ => None,
    }
}

/// The values of one `$in`/`$nin` list.
#[derive(Debug)]
pub(crate) struct InSet<'f> {
    keys: HashSet<Key<'f>>,
    rest: Vec<&'f Bson>,
}

impl<'f> InSet<'f> {
    /// Indexes `values`; a regular expression among them is refused (the store does not
    /// match regular expressions).
    pub(crate) fn new(values: &'f [Bson]) -> Result<Self, MongoError> {
        let mut keys = HashSet::with_capacity(values.len());
        let mut rest = Vec::new();
        for v in values {
            if matches!(v, Bson::RegularExpression(_)) {
                return Err(MongoError::Unsupported {
                    operator: "$regex".into(),
                });
            }
            match key(v) {
                Some(k) => {
                    keys.insert(k);
                }
                None => rest.push(v),
            }
        }
        Ok(Self { keys, rest })
    }

    /// Whether a field with these `candidates` (its values and their array elements;
    /// none when missing) matches the list: `null` in the list matches a missing field.
    pub(crate) fn matches(&self, candidates: &[&Bson]) -> Result<bool, MongoError> {
        if candidates.is_empty() {
            return Ok(self.keys.contains(&Key::Null));
        }
        for c in candidates {
            if key(c).is_some_and(|k| self.keys.contains(&k)) {
                return Ok(true);
            }
            for v in &self.rest {
                if equal(c, v)? {
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::{bson, doc};

    fn any(list: Bson, candidates: &[Bson]) -> bool {
        let Bson::Array(values) = list else {
            panic!("a list")
        };
        let set = InSet::new(&values).unwrap();
        set.matches(&candidates.iter().collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn numbers_match_across_types_and_other_values_by_equality() {
        assert!(any(bson!([1, "a"]), &[Bson::Double(1.0)]));
        assert!(any(bson!([1.5]), &[Bson::Double(1.5)]));
        assert!(!any(bson!([1.5]), &[Bson::Int32(1)]));
        assert!(any(bson!([2i64]), &[Bson::Int32(2)]));
        assert!(!any(bson!(["1"]), &[Bson::Int32(1)]));
        assert!(any(bson!([{"a": 1}]), &[Bson::Document(doc! {"a": 1.0})]));
        assert!(any(bson!([[1, 2]]), &[bson!([1, 2])]));
        assert!(any(bson!([null]), &[]));
        assert!(!any(bson!([1]), &[]));
        let big = (1i64 << 60) + 1;
        assert!(any(bson!([big]), &[Bson::Int64(big)]));
        assert!(!any(bson!([big]), &[Bson::Int64(big - 1)]));
    }

    #[test]
    fn a_long_list_is_looked_up_not_scanned() {
        let values: Vec<Bson> = (0..20_000).map(Bson::Int32).collect();
        let set = InSet::new(&values).unwrap();
        let started = std::time::Instant::now();
        for i in 0..20_000 {
            assert!(set.matches(&[&Bson::Int64(i)]).unwrap());
        }
        // 20 000 × 20 000 comparisons would take many seconds.
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
    }
}
