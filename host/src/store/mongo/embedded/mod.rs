//! [`EmbeddedDatabase`]: the default store when no MongoDB server is configured. Each
//! collection is a file of canonical Extended JSON documents, one a line, under
//! `<data_dir>/`[`EMBEDDED_DIR_NAME`]`/<database>/`, loaded into memory at open and
//! replaced atomically after every write — so a resumed run sees the data of the last one.
//!
//! It implements a documented subset of MongoDB (docs/mongodb.md) with MongoDB's semantics
//! and refuses everything else with [`MongoError::Unsupported`], never answering
//! differently from a server.
//!
//! Its memory is budgeted: every stored document obeys MongoDB's 16 MiB and 100 levels
//! ([`check_document`]), all documents together at most the `limits.store_max_mb` budget
//! ([`EmbeddedDatabase::with_byte_limit`]), a reply [`MAX_RESULT_BYTES`], and a stage that
//! multiplies documents [`MAX_STAGE_BYTES`](crate::store::limits::MAX_STAGE_BYTES).

mod calls;
mod cancel;
mod filter;
mod group;
mod in_set;
mod query;
mod update;
mod value;

use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bson::{Bson, Document};

use cancel::{Cancel, off_thread};

use super::checks::{check_document, store_full};
use super::{Database, FindOptions, MongoError, Update, UpdateResult, ensure_id};
use crate::store::limits::document_bytes;

/// Directory under `data_dir` holding the embedded store. Not named `*.db`: a fresh run
/// deletes the workers' `*.db` files, and this must survive until the seeding replaces it.
pub const EMBEDDED_DIR_NAME: &str = "embedded-mongo";
/// File extension of a collection file.
const COLLECTION_EXT: &str = "jsonl";

/// The embedded document store. Clones share the documents: each call runs on a clone,
/// on a blocking thread (`off_thread`), so that a long scan neither blocks the async
/// threads nor outlives the step that asked for it.
#[derive(Clone)]
pub struct EmbeddedDatabase {
    dir: PathBuf,
    name: String,
    collections: Arc<Mutex<BTreeMap<String, Vec<Document>>>>,
    /// BSON bytes of every document held; changed only under the `collections` lock.
    bytes: Arc<AtomicUsize>,
    /// The most `bytes` may grow to by a write.
    max_bytes: usize,
}

impl EmbeddedDatabase {
    /// Loads database `name` from `root` (missing: empty). Creates nothing until a write.
    pub fn open(root: &Path, name: &str) -> Result<Self, MongoError> {
        let dir = root.join(encode_name(name));
        let mut collections = BTreeMap::new();
        let io = |path: &Path, e: std::io::Error| MongoError::Io {
            path: path.to_path_buf(),
            message: e.to_string(),
        };
        match std::fs::read_dir(&dir) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(&dir, e)),
            Ok(entries) => {
                for entry in entries {
                    let path = entry.map_err(|e| io(&dir, e))?.path();
                    if path.extension().is_none_or(|x| x != COLLECTION_EXT) {
                        continue;
                    }
                    let Some(coll) = path
                        .file_stem()
                        .and_then(|s| s.to_str())
                        .and_then(decode_name)
                    else {
                        continue;
                    };
                    let text = crate::bounded_read::read_text(
                        &path,
                        crate::bounded_read::STORE_COLLECTION_FILE_MAX,
                        "store collection file",
                    )
                    .map_err(|e| io(&path, e.into_io_error()))?;
                    let mut docs = Vec::new();
                    for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.is_empty()) {
                        let corrupt = |m: String| MongoError::Io {
                            path: path.clone(),
                            message: format!(
                                "line {}: {m}; delete the file or run with --reset",
                                n + 1
                            ),
                        };
                        let json: serde_json::Value =
                            serde_json::from_str(line).map_err(|e| corrupt(e.to_string()))?;
                        match Bson::try_from(json).map_err(|e| corrupt(e.to_string()))? {
                            Bson::Document(d) => docs.push(d),
                            _ => return Err(corrupt("not a document".into())),
                        }
                    }
                    collections.insert(coll, docs);
                }
            }
        }
        let bytes = collections.values().flatten().map(document_bytes).sum();
        Ok(Self {
            dir,
            name: name.to_string(),
            collections: Arc::new(Mutex::new(collections)),
            bytes: Arc::new(AtomicUsize::new(bytes)),
            max_bytes: usize::MAX,
        })
    }

    /// The same store, refusing writes that would make its documents hold more than
    /// `max_bytes` (as BSON) together; unlimited by default. What it loaded may be more.
    pub fn with_byte_limit(self, max_bytes: usize) -> Self {
        Self { max_bytes, ..self }
    }

    /// Accounts for documents of `removed` bytes replaced by `added` bytes, or refuses
    /// the write (before it happens) when the store would pass its budget. Call under the
    /// `collections` lock.
    fn account(&self, removed: usize, added: usize) -> Result<(), MongoError> {
        let now = self.bytes.load(Ordering::Relaxed);
        let after = now.saturating_sub(removed).saturating_add(added);
        if added > removed && after > self.max_bytes {
            return Err(store_full(after, self.max_bytes));
        }
        self.bytes.store(after, Ordering::Relaxed);
        Ok(())
    }

    /// Replaces the collection's file: write a temporary file, fsync, rename.
    fn persist(&self, collection: &str, docs: &[Document]) -> Result<(), MongoError> {
        let path = self
            .dir
            .join(format!("{}.{COLLECTION_EXT}", encode_name(collection)));
        let io = |e: std::io::Error| MongoError::Io {
            path: path.clone(),
            message: e.to_string(),
        };
        std::fs::create_dir_all(&self.dir).map_err(io)?;
        let mut tmp = tempfile::NamedTempFile::new_in(&self.dir).map_err(io)?;
        {
            let mut w = std::io::BufWriter::new(tmp.as_file_mut());
            for d in docs {
                let json = Bson::Document(d.clone()).into_canonical_extjson();
                serde_json::to_writer(&mut w, &json).map_err(|e| io(e.into()))?;
                w.write_all(b"\n").map_err(io)?;
            }
            w.flush().map_err(io)?;
        }
        tmp.as_file().sync_all().map_err(io)?;
        tmp.persist(&path).map_err(|e| io(e.error))?;
        Ok(())
    }

    /// Runs `f` on the collection's documents (created when `create`), persisting when it
    /// returns `true` in its first result.
    fn write<T>(
        &self,
        collection: &str,
        create: bool,
        f: impl FnOnce(&mut Vec<Document>) -> (bool, Result<T, MongoError>),
    ) -> Result<T, MongoError> {
        let mut all = self
            .collections
            .lock()
            .expect("no panics while holding the lock");
        let existed = all.contains_key(collection);
        let docs = all.entry(collection.to_string()).or_default();
        let (changed, result) = f(docs);
        if changed || (create && !existed) {
            self.persist(collection, docs)?;
        }
        if !create && !existed && !changed {
            all.remove(collection);
        }
        result
    }

    fn read(&self, collection: &str) -> Vec<Document> {
        let all = self
            .collections
            .lock()
            .expect("no panics while holding the lock");
        all.get(collection).cloned().unwrap_or_default()
    }
}

/// File-safe collection and database names: `[A-Za-z0-9_.-]` kept, other bytes `%XX`.
fn encode_name(name: &str) -> String {
    let mut out = String::new();
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || (b == b'.' && !out.is_empty()) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn decode_name(encoded: &str) -> Option<String> {
    let bytes = encoded.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            out.push(u8::from_str_radix(encoded.get(i + 1..i + 3)?, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// A key equal for equal `_id`s (numbers compare by value, as in MongoDB).
fn id_key(id: &Bson) -> String {
    match id {
        Bson::Int32(_) | Bson::Int64(_) | Bson::Double(_) => {
            format!("n:{}", value::number(id).unwrap_or(f64::NAN))
        }
        other => other.clone().into_canonical_extjson().to_string(),
    }
}

/// Indexes of the documents matching `filter`; stops at the first document after `cancel`.
fn filtered(
    docs: &[Document],
    filter: &Document,
    cancel: &Cancel,
) -> Result<Vec<usize>, MongoError> {
    let matcher = filter::Matcher::new(filter);
    let mut out = Vec::new();
    for (i, d) in docs.iter().enumerate() {
        cancel.check()?;
        if matcher.matches(d)? {
            out.push(i);
        }
    }
    Ok(out)
}

impl EmbeddedDatabase {
    fn duplicate(&self, collection: &str, id: &Bson) -> MongoError {
        MongoError::Server {
            code: 11000,
            message: format!(
                "E11000 duplicate key error collection: {}.{collection} index: _id_ dup key: {{ _id: {id} }}",
                self.name
            ),
        }
    }

    fn insert_checked(
        &self,
        docs: &mut Vec<Document>,
        collection: &str,
        new: Vec<Document>,
    ) -> (bool, Result<Vec<Bson>, MongoError>) {
        let mut ids: HashSet<String> = docs
            .iter()
            .filter_map(|d| d.get("_id"))
            .map(id_key)
            .collect();
        // Sizes (with the `_id`s added) and the budget are checked for all documents
        // before any is inserted, as the remote backend checks them before sending.
        let mut new = new;
        for d in &mut new {
            ensure_id(d);
        }
        let mut sizes = Vec::with_capacity(new.len());
        for (n, d) in new.iter().enumerate() {
            match check_document(format_args!("document {}", n + 1), d) {
                Ok(bytes) => sizes.push(bytes),
                Err(e) => return (false, Err(e)),
            }
        }
        let total: usize = sizes.iter().sum();
        let now = self.bytes.load(Ordering::Relaxed);
        if now.saturating_add(total) > self.max_bytes {
            return (
                false,
                Err(store_full(now.saturating_add(total), self.max_bytes)),
            );
        }
        let mut out = Vec::new();
        for (mut d, bytes) in new.into_iter().zip(sizes) {
            let id = ensure_id(&mut d);
            if !ids.insert(id_key(&id)) {
                // Ordered insert: the documents before the duplicate stay inserted.
                return (!out.is_empty(), Err(self.duplicate(collection, &id)));
            }
            self.bytes.fetch_add(bytes, Ordering::Relaxed);
            docs.push(d);
            out.push(id);
        }
        (!out.is_empty(), Ok(out))
    }
}

#[async_trait::async_trait]
impl Database for EmbeddedDatabase {
    fn summary(&self) -> String {
        format!("embedded store at {}", self.dir.display())
    }

    fn name(&self) -> &str {
        &self.name
    }

    async fn find(
        &self,
        collection: &str,
        filter: Document,
        options: FindOptions,
    ) -> Result<Vec<Document>, MongoError> {
        let (db, collection) = (self.clone(), collection.to_string());
        off_thread(move |c| db.find_now(&collection, filter, options, c)).await
    }

    async fn insert_many(
        &self,
        collection: &str,
        documents: Vec<Document>,
    ) -> Result<Vec<Bson>, MongoError> {
        let (db, collection) = (self.clone(), collection.to_string());
        off_thread(move |c| db.insert_many_now(&collection, documents, c)).await
    }

    async fn update(
        &self,
        collection: &str,
        filter: Document,
        update: Update,
        many: bool,
        upsert: bool,
    ) -> Result<UpdateResult, MongoError> {
        let (db, collection) = (self.clone(), collection.to_string());
        off_thread(move |c| db.update_now(&collection, filter, update, many, upsert, c)).await
    }

    async fn replace_one(
        &self,
        collection: &str,
        filter: Document,
        replacement: Document,
        upsert: bool,
    ) -> Result<UpdateResult, MongoError> {
        let (db, collection) = (self.clone(), collection.to_string());
        off_thread(move |c| db.replace_one_now(&collection, filter, replacement, upsert, c)).await
    }

    async fn delete(
        &self,
        collection: &str,
        filter: Document,
        many: bool,
    ) -> Result<u64, MongoError> {
        let (db, collection) = (self.clone(), collection.to_string());
        off_thread(move |c| db.delete_now(&collection, filter, many, c)).await
    }

    async fn count(&self, collection: &str, filter: Document) -> Result<u64, MongoError> {
        let (db, collection) = (self.clone(), collection.to_string());
        off_thread(move |c| db.count_now(&collection, filter, c)).await
    }

    async fn aggregate(
        &self,
        collection: &str,
        pipeline: Vec<Document>,
    ) -> Result<Vec<Document>, MongoError> {
        let (db, collection) = (self.clone(), collection.to_string());
        off_thread(move |c| db.aggregate_now(&collection, pipeline, c)).await
    }

    async fn collection_names(&self) -> Result<Vec<String>, MongoError> {
        let all = self
            .collections
            .lock()
            .expect("no panics while holding the lock");
        Ok(all.keys().cloned().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_file_names() {
        for name in ["todos", "a/b", ".x", "ünï code", "a.b"] {
            assert_eq!(decode_name(&encode_name(name)).as_deref(), Some(name));
        }
        assert!(!encode_name("../x").contains('/'));
    }
}
