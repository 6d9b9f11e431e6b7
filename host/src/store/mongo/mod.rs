//! MongoDB: the [`Database`] trait with two backends — [`RemoteDatabase`] (the official
//! `mongodb` driver, any server `MONGO_URI` names) and [`EmbeddedDatabase`] (documents in
//! files under `data_dir`, a documented MongoDB subset) — plus [`seed`], the reference
//! runner's seeding, required-state check and round count.
//!
//! Start from [`open`] with a [`Backend`] chosen by [`Backend::select`]. Never imports
//! plugin or runner.

mod checks;
mod embedded;
mod error;
mod remote;
pub mod seed;
mod uri;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bson::{Bson, Document};

pub use checks::{check_document, check_path, result_too_large};
pub use embedded::{EMBEDDED_DIR_NAME, EmbeddedDatabase};
pub use error::MongoError;
pub use remote::{RemoteDatabase, SERVER_SELECTION_TIMEOUT};
pub use uri::mask_uri;

/// Options of a `find`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FindOptions {
    /// Sort specification, e.g. `{"createdAt": -1}`.
    pub sort: Option<Document>,
    /// At most this many documents; `None` for all.
    pub limit: Option<u64>,
    /// Documents to skip first.
    pub skip: Option<u64>,
    /// Fields to include (`1`) or exclude (`0`).
    pub projection: Option<Document>,
}

/// What an update or replace did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UpdateResult {
    /// Documents the filter matched.
    pub matched: u64,
    /// Documents changed.
    pub modified: u64,
    /// `_id` of the document an upsert inserted.
    pub upserted_id: Option<Bson>,
}

/// An update: operators (`{"$set": ...}`) or an aggregation pipeline (remote only).
#[derive(Debug, Clone, PartialEq)]
pub enum Update {
    /// An update document of operators.
    Operators(Document),
    /// An update pipeline (a list of stages).
    Pipeline(Vec<Document>),
}

/// One MongoDB database: the test's. Every call names a collection of it; there is no way
/// to name another database.
#[async_trait::async_trait]
pub trait Database: Send + Sync {
    /// One line saying which backend and where, for the run's start banner.
    fn summary(&self) -> String;

    /// The database name (`mongodb.database`).
    fn name(&self) -> &str;

    /// Documents of `collection` matching `filter`.
    async fn find(
        &self,
        collection: &str,
        filter: Document,
        options: FindOptions,
    ) -> Result<Vec<Document>, MongoError>;

    /// Inserts `documents` in order (an `_id` is added where missing); returns their `_id`s.
    async fn insert_many(
        &self,
        collection: &str,
        documents: Vec<Document>,
    ) -> Result<Vec<Bson>, MongoError>;

    /// Applies `update` to the first (`many == false`) or every matching document;
    /// `upsert` inserts one when none matches.
    async fn update(
        &self,
        collection: &str,
        filter: Document,
        update: Update,
        many: bool,
        upsert: bool,
    ) -> Result<UpdateResult, MongoError>;

    /// Replaces the first matching document (keeping its `_id`).
    async fn replace_one(
        &self,
        collection: &str,
        filter: Document,
        replacement: Document,
        upsert: bool,
    ) -> Result<UpdateResult, MongoError>;

    /// Deletes the first (`many == false`) or every matching document; returns how many.
    async fn delete(
        &self,
        collection: &str,
        filter: Document,
        many: bool,
    ) -> Result<u64, MongoError>;

    /// How many documents match `filter`.
    async fn count(&self, collection: &str, filter: Document) -> Result<u64, MongoError>;

    /// Runs an aggregation pipeline.
    async fn aggregate(
        &self,
        collection: &str,
        pipeline: Vec<Document>,
    ) -> Result<Vec<Document>, MongoError>;

    /// Names of the collections that exist.
    async fn collection_names(&self) -> Result<Vec<String>, MongoError>;
}

/// Which backend a run uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// A MongoDB server at this URI.
    Remote {
        /// The connection string.
        uri: String,
        /// Where it came from: `--mongo-uri`, `MONGO_URI` or `mongodb.uri`.
        source: &'static str,
    },
    /// The embedded store in this directory.
    Embedded {
        /// `<data_dir>/`[`EMBEDDED_DIR_NAME`].
        dir: PathBuf,
    },
}

impl Backend {
    /// `--mongo-uri` (`flag`) beats `MONGO_URI` (`env`, from the process or `.env`), which
    /// beats `mongodb.uri` (`config`); with none of them (or only empty ones) the embedded
    /// store under `data_dir`.
    pub fn select(
        flag: Option<&str>,
        env: Option<&str>,
        config: Option<&str>,
        data_dir: &Path,
    ) -> Backend {
        let candidates = [
            (flag, "--mongo-uri"),
            (env, "MONGO_URI"),
            (config, "mongodb.uri"),
        ];
        for (value, source) in candidates {
            if let Some(uri) = value.map(str::trim).filter(|v| !v.is_empty()) {
                return Backend::Remote {
                    uri: uri.to_string(),
                    source,
                };
            }
        }
        Backend::Embedded {
            dir: data_dir.join(EMBEDDED_DIR_NAME),
        }
    }
}

/// Opens database `database` on `backend`: connects (and pings) a server, or loads the
/// embedded store, which may hold at most `store_bytes` of documents (`limits.store_max_mb`;
/// a server holds its data itself). Writes nothing.
pub async fn open(
    backend: &Backend,
    database: &str,
    store_bytes: usize,
) -> Result<Arc<dyn Database>, MongoError> {
    Ok(match backend {
        Backend::Remote { uri, .. } => Arc::new(RemoteDatabase::connect(uri, database).await?),
        Backend::Embedded { dir } => {
            Arc::new(EmbeddedDatabase::open(dir, database)?.with_byte_limit(store_bytes))
        }
    })
}

/// Refuses collection names MongoDB would refuse or that reach outside the test's data:
/// empty, `$`, NUL, or the `system.` namespace.
pub fn check_collection_name(name: &str) -> Result<(), MongoError> {
    if name.is_empty() || name.contains('$') || name.contains('\0') {
        return Err(MongoError::Invalid(format!(
            "invalid collection name `{name}`: it must be non-empty and contain no `$` or NUL"
        )));
    }
    if name.starts_with("system.") {
        return Err(MongoError::Invalid(format!(
            "collection `{name}` is a system collection; steps may use only the test's own collections"
        )));
    }
    Ok(())
}

/// The `_id` of `document`, adding a new ObjectId first in the document when it has none
/// (as MongoDB drivers do).
pub(crate) fn ensure_id(document: &mut Document) -> Bson {
    if let Some(id) = document.get("_id") {
        return id.clone();
    }
    let id = Bson::ObjectId(bson::oid::ObjectId::new());
    let mut with_id = Document::new();
    with_id.insert("_id", id.clone());
    with_id.extend(std::mem::take(document));
    *document = with_id;
    id
}

#[cfg(test)]
mod tests;
