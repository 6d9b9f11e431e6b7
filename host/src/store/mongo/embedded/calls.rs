//! The embedded store's calls, synchronous: the `Database` impl runs each on a blocking
//! thread ([`super::cancel::off_thread`]); every scan checks its [`Cancel`] flag once per
//! document.

use bson::{Bson, Document};

use super::cancel::Cancel;
use super::{EmbeddedDatabase, filtered, id_key, query, update};
use crate::store::limits::{MAX_RESULT_BYTES, document_bytes};
use crate::store::mongo::checks::{check_document, result_too_large};
use crate::store::mongo::{FindOptions, MongoError, Update, UpdateResult, ensure_id};

impl EmbeddedDatabase {
    pub(super) fn find_now(
        &self,
        collection: &str,
        filter: Document,
        options: FindOptions,
        cancel: &Cancel,
    ) -> Result<Vec<Document>, MongoError> {
        let projection = options
            .projection
            .as_ref()
            .map(query::Projection::parse)
            .transpose()?;
        let skip = usize::try_from(options.skip.unwrap_or(0)).unwrap_or(usize::MAX);
        let limit = options
            .limit
            .filter(|&l| l > 0)
            .map_or(usize::MAX, |l| usize::try_from(l).unwrap_or(usize::MAX));
        // Every document leaves the store counted: the reply grows against
        // MAX_RESULT_BYTES, not to the whole collection before it is measured.
        let mut bytes = 0usize;
        let mut out = Vec::new();
        let mut take = |d: Document| -> Result<(), MongoError> {
            let d = match &projection {
                Some(p) => p.apply(d),
                None => d,
            };
            bytes += document_bytes(&d);
            if bytes > MAX_RESULT_BYTES {
                return Err(result_too_large());
            }
            out.push(d);
            Ok(())
        };
        let all = self
            .collections
            .lock()
            .expect("no panics while holding the lock");
        let docs = all.get(collection).map_or(&[][..], Vec::as_slice);
        let hits = filtered(docs, &filter, cancel)?;
        match &options.sort {
            // Sorting needs every match (at most the store's budget) ...
            Some(spec) => {
                let mut matched: Vec<Document> = hits.iter().map(|&i| docs[i].clone()).collect();
                drop(all);
                query::sort(&mut matched, spec)?;
                for d in matched.into_iter().skip(skip).take(limit) {
                    take(d)?;
                }
            }
            // ... otherwise only the page is copied out of the store, one counted
            // document at a time.
            None => {
                for i in hits.into_iter().skip(skip).take(limit) {
                    take(docs[i].clone())?;
                }
            }
        }
        Ok(out)
    }

    pub(super) fn insert_many_now(
        &self,
        collection: &str,
        documents: Vec<Document>,
        cancel: &Cancel,
    ) -> Result<Vec<Bson>, MongoError> {
        cancel.check()?;
        if documents.is_empty() {
            return Ok(Vec::new());
        }
        self.write(collection, true, |docs| {
            self.insert_checked(docs, collection, documents)
        })
    }

    pub(super) fn update_now(
        &self,
        collection: &str,
        filter: Document,
        update: Update,
        many: bool,
        upsert: bool,
        cancel: &Cancel,
    ) -> Result<UpdateResult, MongoError> {
        let Update::Operators(update) = update else {
            return Err(MongoError::Unsupported {
                operator: "update pipeline".into(),
            });
        };
        update::check(&update)?;
        self.write(collection, upsert, |docs| {
            let run = || -> Result<(UpdateResult, Vec<Document>), MongoError> {
                let mut hits = filtered(docs, &filter, cancel)?;
                if !many {
                    hits.truncate(1);
                }
                let mut result = UpdateResult {
                    matched: hits.len() as u64,
                    ..Default::default()
                };
                let mut changed = docs.clone();
                let (mut removed, mut added) = (0, 0);
                for i in hits {
                    let before = changed[i].clone();
                    update::apply(&mut changed[i], &update, false)?;
                    if changed[i] != before {
                        result.modified += 1;
                        removed += document_bytes(&before);
                        added += check_document("the updated document", &changed[i])?;
                    }
                }
                if result.matched == 0 && upsert {
                    let mut new = update::upsert_seed(&filter)?;
                    update::apply(&mut new, &update, true)?;
                    let id = ensure_id(&mut new);
                    if changed
                        .iter()
                        .any(|d| d.get("_id").map(id_key) == Some(id_key(&id)))
                    {
                        return Err(self.duplicate(collection, &id));
                    }
                    added += check_document("the upserted document", &new)?;
                    changed.push(new);
                    result.upserted_id = Some(id);
                }
                self.account(removed, added)?;
                Ok((result, changed))
            };
            match run() {
                Ok((result, changed)) => {
                    let any = result.modified > 0 || result.upserted_id.is_some();
                    *docs = changed;
                    (any, Ok(result))
                }
                Err(e) => (false, Err(e)),
            }
        })
    }

    pub(super) fn replace_one_now(
        &self,
        collection: &str,
        filter: Document,
        replacement: Document,
        upsert: bool,
        cancel: &Cancel,
    ) -> Result<UpdateResult, MongoError> {
        if let Some(op) = replacement.keys().find(|k| k.starts_with('$')) {
            return Err(MongoError::Server {
                code: 2,
                message: format!(
                    "a replacement document must not contain operators (`{op}`); use update-one"
                ),
            });
        }
        self.write(collection, upsert, |docs| {
            let hit = match filtered(docs, &filter, cancel) {
                Ok(h) => h.first().copied(),
                Err(e) => return (false, Err(e)),
            };
            match hit {
                Some(i) => {
                    let id = docs[i].get("_id").cloned();
                    if let (Some(old), Some(new)) = (&id, replacement.get("_id"))
                        && id_key(old) != id_key(new)
                    {
                        return (
                            false,
                            Err(MongoError::Server {
                                code: 66,
                                message: "the _id field cannot be changed by a replacement".into(),
                            }),
                        );
                    }
                    let mut new = replacement;
                    if let Some(id) = id {
                        new.remove("_id");
                        let mut with_id = bson::doc! {"_id": id};
                        with_id.extend(new);
                        new = with_id;
                    }
                    let checked = check_document("the replacement", &new)
                        .and_then(|bytes| self.account(document_bytes(&docs[i]), bytes));
                    if let Err(e) = checked {
                        return (false, Err(e));
                    }
                    let modified = docs[i] != new;
                    docs[i] = new;
                    (
                        modified,
                        Ok(UpdateResult {
                            matched: 1,
                            modified: u64::from(modified),
                            upserted_id: None,
                        }),
                    )
                }
                None if upsert => {
                    let mut new = replacement;
                    if !new.contains_key("_id")
                        && let Ok(seed) = update::upsert_seed(&filter)
                        && let Some(id) = seed.get("_id")
                    {
                        let mut with_id = bson::doc! {"_id": id.clone()};
                        with_id.extend(new);
                        new = with_id;
                    }
                    let id = ensure_id(&mut new);
                    let checked = check_document("the replacement", &new)
                        .and_then(|bytes| self.account(0, bytes));
                    if let Err(e) = checked {
                        return (false, Err(e));
                    }
                    docs.push(new);
                    (
                        true,
                        Ok(UpdateResult {
                            matched: 0,
                            modified: 0,
                            upserted_id: Some(id),
                        }),
                    )
                }
                None => (false, Ok(UpdateResult::default())),
            }
        })
    }

    pub(super) fn delete_now(
        &self,
        collection: &str,
        filter: Document,
        many: bool,
        cancel: &Cancel,
    ) -> Result<u64, MongoError> {
        self.write(collection, false, |docs| {
            let mut hits = match filtered(docs, &filter, cancel) {
                Ok(h) => h,
                Err(e) => return (false, Err(e)),
            };
            if !many {
                hits.truncate(1);
            }
            let removed = hits.iter().map(|&i| document_bytes(&docs[i])).sum();
            self.account(removed, 0)
                .expect("a delete only shrinks the store");
            for i in hits.iter().rev() {
                docs.remove(*i);
            }
            (!hits.is_empty(), Ok(hits.len() as u64))
        })
    }

    pub(super) fn count_now(
        &self,
        collection: &str,
        filter: Document,
        cancel: &Cancel,
    ) -> Result<u64, MongoError> {
        let all = self
            .collections
            .lock()
            .expect("no panics while holding the lock");
        let Some(docs) = all.get(collection) else {
            return Ok(0);
        };
        Ok(filtered(docs, &filter, cancel)?.len() as u64)
    }

    pub(super) fn aggregate_now(
        &self,
        collection: &str,
        pipeline: Vec<Document>,
        cancel: &Cancel,
    ) -> Result<Vec<Document>, MongoError> {
        let docs = query::aggregate(self.read(collection), &pipeline, cancel)?;
        if docs.iter().map(document_bytes).sum::<usize>() > MAX_RESULT_BYTES {
            return Err(result_too_large());
        }
        Ok(docs)
    }
}
