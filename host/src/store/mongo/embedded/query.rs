//! Sorting, projection and the aggregation stages of the embedded store (`$match`,
//! `$sort`, `$skip`, `$limit`, `$project` with 0/1, `$count`, `$unwind` of a path,
//! `$group` with field-path keys and `$sum`/`$avg`/`$min`/`$max`/`$first`/`$last`/
//! `$push`/`$addToSet`/`$count`). Other stages and expressions are refused by name.

use std::cmp::Ordering;

use bson::{Bson, Document};

use super::cancel::Cancel;
use super::filter::Matcher;
use super::value::{compare, equal, field_value, lookup};
use crate::store::limits::{bson_memory, document_memory};
use crate::store::mongo::MongoError;
use crate::store::mongo::checks::StageBytes;

fn unsupported(op: impl Into<String>) -> MongoError {
    MongoError::Unsupported {
        operator: op.into(),
    }
}

fn bad(code: i32, message: impl Into<String>) -> MongoError {
    MongoError::Server {
        code,
        message: message.into(),
    }
}

/// Sorts `docs` by `spec` (`{field: 1 | -1, ...}`); a missing field sorts as null.
pub(crate) fn sort(docs: &mut [Document], spec: &Document) -> Result<(), MongoError> {
    let mut keys = Vec::new();
    for (path, dir) in spec {
        let descending = match dir {
            Bson::Int32(1) | Bson::Int64(1) => false,
            Bson::Int32(-1) | Bson::Int64(-1) => true,
            Bson::Double(d) if *d == 1.0 => false,
            Bson::Double(d) if *d == -1.0 => true,
            Bson::Document(_) => return Err(unsupported("$meta sort")),
            _ => {
                return Err(bad(
                    15974,
                    format!("sort value of `{path}` must be 1 or -1"),
                ));
            }
        };
        keys.push((path.as_str(), descending));
    }
    // Keys are computed up front so comparison errors surface before sorting.
    let mut keyed: Vec<(Vec<Bson>, Document)> = Vec::with_capacity(docs.len());
    for doc in docs.iter() {
        let mut values = Vec::new();
        for (path, _) in &keys {
            let leaves = lookup(doc, path);
            match leaves.as_slice() {
                [] => values.push(Bson::Null),
                [Bson::Array(_)] | [_, _, ..] => {
                    return Err(unsupported(format!("sort by the array field `{path}`")));
                }
                [one] => values.push((*one).clone()),
            }
        }
        keyed.push((values, doc.clone()));
    }
    let mut failure = None;
    keyed.sort_by(|(a, _), (b, _)| {
        for (i, (_, descending)) in keys.iter().enumerate() {
            match compare(&a[i], &b[i]) {
                Ok(Ordering::Equal) => continue,
                Ok(o) => return if *descending { o.reverse() } else { o },
                Err(e) => {
                    failure.get_or_insert(e);
                    return Ordering::Equal;
                }
            }
        }
        Ordering::Equal
    });
    if let Some(e) = failure {
        return Err(e);
    }
    for (slot, (_, doc)) in docs.iter_mut().zip(keyed) {
        *slot = doc;
    }
    Ok(())
}

/// A checked projection: top-level fields included or excluded (`_id` may be excluded
/// from an inclusion).
pub(crate) struct Projection {
    include: bool,
    fields: Vec<String>,
    keep_id: bool,
}

impl Projection {
    /// Parses `spec`; operators, expressions and dotted fields are refused.
    pub(crate) fn parse(spec: &Document) -> Result<Self, MongoError> {
        let mut include = None;
        let mut fields = Vec::new();
        let mut keep_id = true;
        for (field, value) in spec {
            let on = match value {
                Bson::Boolean(b) => *b,
                Bson::Int32(n) => *n != 0,
                Bson::Int64(n) => *n != 0,
                Bson::Double(f) => *f != 0.0,
                _ => return Err(unsupported(format!("projection expression for `{field}`"))),
            };
            if field.contains('.') || field.starts_with('$') {
                return Err(unsupported(format!("projection of the path `{field}`")));
            }
            if field == "_id" {
                keep_id = on;
                continue;
            }
            match include {
                Some(mode) if mode != on => {
                    return Err(bad(
                        31254,
                        format!(
                            "cannot mix inclusion and exclusion in a projection (field `{field}`)"
                        ),
                    ));
                }
                _ => include = Some(on),
            }
            fields.push(field.clone());
        }
        Ok(Self {
            include: include.unwrap_or(false),
            fields,
            keep_id,
        })
    }

    /// `doc` projected.
    pub(crate) fn apply(&self, doc: Document) -> Document {
        if self.include {
            doc.into_iter()
                .filter(|(k, _)| {
                    if k == "_id" {
                        self.keep_id
                    } else {
                        self.fields.contains(k)
                    }
                })
                .collect()
        } else {
            doc.into_iter()
                .filter(|(k, _)| {
                    if k == "_id" {
                        self.keep_id
                    } else {
                        !self.fields.contains(k)
                    }
                })
                .collect()
        }
    }
}

fn as_count(stage: &str, v: &Bson) -> Result<usize, MongoError> {
    match v {
        Bson::Int32(n) if *n >= 0 => Ok(*n as usize),
        Bson::Int64(n) if *n >= 0 => Ok(*n as usize),
        Bson::Double(f) if *f >= 0.0 && f.fract() == 0.0 => Ok(*f as usize),
        _ => Err(bad(
            15957,
            format!("{stage} needs a non-negative whole number"),
        )),
    }
}

/// Runs `pipeline` over `docs`; stops at the next stage or matched document after
/// `cancel`.
pub(crate) fn aggregate(
    mut docs: Vec<Document>,
    pipeline: &[Document],
    cancel: &Cancel,
) -> Result<Vec<Document>, MongoError> {
    for stage in pipeline {
        cancel.check()?;
        let mut entries = stage.iter();
        let (Some((name, arg)), None) = (entries.next(), entries.next()) else {
            return Err(bad(40323, "a pipeline stage must have exactly one field"));
        };
        docs = match (name.as_str(), arg) {
            ("$match", Bson::Document(f)) => {
                let matcher = Matcher::new(f);
                let mut kept = Vec::new();
                for d in docs {
                    cancel.check()?;
                    if matcher.matches(&d)? {
                        kept.push(d);
                    }
                }
                kept
            }
            ("$sort", Bson::Document(spec)) => {
                sort(&mut docs, spec)?;
                docs
            }
            ("$skip", n) => docs.into_iter().skip(as_count("$skip", n)?).collect(),
            ("$limit", n) => docs.into_iter().take(as_count("$limit", n)?).collect(),
            ("$project", Bson::Document(spec)) => {
                let p = Projection::parse(spec)?;
                docs.into_iter().map(|d| p.apply(d)).collect()
            }
            ("$count", Bson::String(field)) => {
                if docs.is_empty() {
                    Vec::new()
                } else {
                    let n = i32::try_from(docs.len())
                        .map_or(Bson::Int64(docs.len() as i64), Bson::Int32);
                    vec![bson::doc! {field.as_str(): n}]
                }
            }
            ("$unwind", spec) => unwind(docs, spec)?,
            ("$group", Bson::Document(spec)) => super::group::group(docs, spec, cancel)?,
            (name, _) => return Err(unsupported(format!("aggregation stage {name}"))),
        };
    }
    Ok(docs)
}

fn unwind(docs: Vec<Document>, spec: &Bson) -> Result<Vec<Document>, MongoError> {
    let path = match spec {
        Bson::String(p) => p.clone(),
        Bson::Document(d) if d.len() == 1 => match d.get("path") {
            Some(Bson::String(p)) => p.clone(),
            _ => return Err(unsupported("$unwind options")),
        },
        _ => return Err(unsupported("$unwind options")),
    };
    let Some(field) = path.strip_prefix('$').filter(|f| !f.contains('.')) else {
        return Err(unsupported(format!(
            "$unwind of `{path}` (only top-level `$field` paths)"
        )));
    };
    // Each copy is counted before it is made: one document with a large array would
    // otherwise be cloned once per element, without bound.
    let mut budget = StageBytes::new("$unwind");
    let mut out = Vec::new();
    for d in docs {
        match d.get(field) {
            Some(array @ Bson::Array(items)) => {
                // Counted as host memory, not as BSON: a copy of small values takes
                // ten times its encoding.
                let rest = document_memory(&d).saturating_sub(bson_memory(array));
                for item in items {
                    budget.add(rest + bson_memory(item))?;
                    let mut copy = d.clone();
                    copy.insert(field, item.clone());
                    out.push(copy);
                }
            }
            None | Some(Bson::Null) => {}
            Some(_) => {
                budget.add(document_memory(&d))?;
                out.push(d);
            }
        }
    }
    Ok(out)
}

/// Evaluates an expression the store supports: a `$field` path or a constant.
pub(crate) fn eval(doc: &Document, expr: &Bson) -> Result<Option<Bson>, MongoError> {
    match expr {
        Bson::String(s) if s.starts_with("$$") => Err(unsupported(format!("variable `{s}`"))),
        Bson::String(s) if s.starts_with('$') => Ok(field_value(doc, &s[1..])?.cloned()),
        Bson::Document(d) if d.keys().any(|k| k.starts_with('$')) => Err(unsupported(format!(
            "expression operator {}",
            d.keys().next().map_or("", |k| k)
        ))),
        Bson::Document(d) => {
            let mut out = Document::new();
            for (k, v) in d {
                out.insert(k, eval(doc, v)?.unwrap_or(Bson::Null));
            }
            Ok(Some(Bson::Document(out)))
        }
        other => Ok(Some(other.clone())),
    }
}

/// Whether `list` holds a value equal to `v`.
pub(crate) fn contains(list: &[Bson], v: &Bson) -> Result<bool, MongoError> {
    for item in list {
        if equal(item, v)? {
            return Ok(true);
        }
    }
    Ok(false)
}
