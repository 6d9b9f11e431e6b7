//! The `$group` stage of the embedded store: a key from field paths and constants,
//! accumulators `$sum`, `$avg`, `$min`, `$max`, `$first`, `$last`, `$push`, `$addToSet`,
//! `$count`.

use bson::{Bson, Document};

use super::cancel::Cancel;
use super::query::{contains, eval};
use super::value::{compare, number};
use crate::store::limits::bson_memory;
use crate::store::mongo::MongoError;
use crate::store::mongo::checks::StageBytes;

/// Groups `docs` by `spec._id`, in order of each key's first appearance.
/// Checks `cancel` once per document: the key lookup is linear in the groups, so a
/// `$group` of many distinct keys runs long and must stop with the step.
pub(crate) fn group(
    docs: Vec<Document>,
    spec: &Document,
    cancel: &Cancel,
) -> Result<Vec<Document>, MongoError> {
    let Some(id_expr) = spec.get("_id") else {
        return Err(MongoError::Server {
            code: 15955,
            message: "a group specification must include an _id".into(),
        });
    };
    let mut accs = Vec::new();
    for (field, acc) in spec.iter().filter(|(k, _)| *k != "_id") {
        let Bson::Document(acc) = acc else {
            return Err(MongoError::Server {
                code: 40234,
                message: format!("the field `{field}` must be an accumulator object"),
            });
        };
        let (Some((op, arg)), 1) = (acc.iter().next(), acc.len()) else {
            return Err(MongoError::Server {
                code: 40238,
                message: format!("the field `{field}` must specify one accumulator"),
            });
        };
        if !matches!(
            op.as_str(),
            "$sum"
                | "$avg"
                | "$min"
                | "$max"
                | "$first"
                | "$last"
                | "$push"
                | "$addToSet"
                | "$count"
        ) {
            return Err(MongoError::Unsupported {
                operator: format!("$group accumulator {op}"),
            });
        }
        accs.push((field.clone(), op.clone(), arg.clone()));
    }
    // Every value kept is counted: many accumulators over large fields would otherwise
    // multiply the input without bound.
    let mut budget = StageBytes::new("$group");
    // (key, values per accumulator)
    let mut groups: Vec<(Bson, Vec<Vec<Bson>>)> = Vec::new();
    for doc in &docs {
        cancel.check()?;
        let key = eval(doc, id_expr)?.unwrap_or(Bson::Null);
        let mut index = None;
        for (i, (k, _)) in groups.iter().enumerate() {
            if compare(k, &key)?.is_eq()
                && super::value::type_rank(k) == super::value::type_rank(&key)
            {
                index = Some(i);
                break;
            }
        }
        let i = match index {
            Some(i) => i,
            None => {
                budget.add(bson_memory(&key))?;
                groups.push((key, vec![Vec::new(); accs.len()]));
                groups.len() - 1
            }
        };
        for (j, (_, op, arg)) in accs.iter().enumerate() {
            let value = if op == "$count" {
                Some(Bson::Int32(1))
            } else {
                eval(doc, arg)?
            };
            if let Some(v) = value {
                budget.add(bson_memory(&v))?;
                groups[i].1[j].push(v);
            } else if matches!(op.as_str(), "$first" | "$last") {
                groups[i].1[j].push(Bson::Null);
            }
        }
    }
    let mut out = Vec::new();
    for (key, values) in groups {
        let mut d = Document::new();
        d.insert("_id", key);
        for ((field, op, _), vals) in accs.iter().zip(values) {
            d.insert(field.as_str(), accumulate(op, vals)?);
        }
        out.push(d);
    }
    Ok(out)
}

fn accumulate(op: &str, vals: Vec<Bson>) -> Result<Bson, MongoError> {
    let numeric = || {
        vals.iter()
            .filter(|v| matches!(v, Bson::Int32(_) | Bson::Int64(_) | Bson::Double(_)))
    };
    Ok(match op {
        "$sum" | "$count" => {
            let mut int: i64 = 0;
            let mut float = 0.0;
            let (mut any_double, mut any_long) = (false, false);
            for v in numeric() {
                match v {
                    Bson::Int32(n) => int += i64::from(*n),
                    Bson::Int64(n) => {
                        int += n;
                        any_long = true;
                    }
                    _ => {
                        float += number(v)?;
                        any_double = true;
                    }
                }
            }
            if any_double {
                #[allow(clippy::cast_precision_loss)]
                Bson::Double(float + int as f64)
            } else {
                match i32::try_from(int) {
                    Ok(n) if !any_long => Bson::Int32(n),
                    _ => Bson::Int64(int),
                }
            }
        }
        "$avg" => {
            let nums: Vec<f64> = numeric().map(number).collect::<Result<_, _>>()?;
            if nums.is_empty() {
                Bson::Null
            } else {
                #[allow(clippy::cast_precision_loss)]
                Bson::Double(nums.iter().sum::<f64>() / nums.len() as f64)
            }
        }
        "$min" | "$max" => {
            let mut best: Option<Bson> = None;
            for v in vals.into_iter().filter(|v| !matches!(v, Bson::Null)) {
                let better = match &best {
                    None => true,
                    Some(b) => {
                        let o = compare(&v, b)?;
                        if op == "$min" { o.is_lt() } else { o.is_gt() }
                    }
                };
                if better {
                    best = Some(v);
                }
            }
            best.unwrap_or(Bson::Null)
        }
        "$first" => vals.into_iter().next().unwrap_or(Bson::Null),
        "$last" => vals.into_iter().last().unwrap_or(Bson::Null),
        "$push" => Bson::Array(vals),
        _ => {
            let mut set = Vec::new();
            for v in vals {
                if !contains(&set, &v)? {
                    set.push(v);
                }
            }
            Bson::Array(set)
        }
    })
}
