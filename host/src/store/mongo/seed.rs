//! The reference runner's MongoDB semantics: [`SeedPlan::load`] reads and checks every
//! data file before the database is touched; [`SeedPlan::seed`] empties every configured
//! collection and imports the files (each document tagged with `taskId`);
//! [`SeedPlan::unmet_requirement`] is the required-state check that decides whether a
//! run may resume; [`SeedPlan::rounds`] derives `max_rounds` from `rounds_collection`.

use std::path::PathBuf;

use bson::{Bson, Document, doc};

use super::{Database, MongoError};
use crate::config::TestConfig;
use crate::error::UserFacing;

/// Why seeding could not be planned or done.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    /// A data file of a collection with `required_count > 0` does not exist.
    #[error("{}: data file of collection `{collection}` not found (required_count is {required})", path.display())]
    Missing {
        /// The file.
        path: PathBuf,
        /// The collection.
        collection: String,
        /// Its `required_count`.
        required: u64,
    },
    /// The file could not be read.
    #[error("cannot read {}: {message}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        message: String,
    },
    /// The file is not JSON.
    #[error("{}:{line}:{column}: invalid JSON: {message}", path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// serde_json's message.
        message: String,
    },
    /// The file holds something else than a document or a list of documents.
    #[error("{}: {what}", path.display())]
    NotDocuments {
        /// The file.
        path: PathBuf,
        /// What is wrong, naming the list item.
        what: String,
    },
    /// `max_rounds` is not set and `rounds_collection` does not exist.
    #[error(
        "rounds_collection `{collection}` does not exist in database `{database}`, so the number of rounds cannot be derived"
    )]
    NoRoundsCollection {
        /// The collection.
        collection: String,
        /// The database.
        database: String,
    },
    /// The database refused an operation.
    #[error(transparent)]
    Database(#[from] MongoError),
}

impl UserFacing for SeedError {
    fn hint(&self) -> Option<String> {
        match self {
            SeedError::Missing { .. } => Some(
                "create the file (paths are relative to data_dir) or set required_count to 0".into(),
            ),
            SeedError::NotDocuments { .. } => Some(
                "a data file holds one JSON object or a list of JSON objects (MongoDB Extended JSON allowed)".into(),
            ),
            SeedError::NoRoundsCollection { .. } => Some(
                "set max_rounds in config.yaml, or give the collection a data_file under mongodb.collections".into(),
            ),
            SeedError::Database(e) => e.hint(),
            _ => None,
        }
    }
}

/// The collections of a test and the documents to seed them with, all checked.
#[derive(Debug, Clone)]
pub struct SeedPlan {
    task_id: String,
    /// (collection, documents to import or `None` when it has no data file, required count)
    collections: Vec<(String, Option<Vec<Document>>, u64)>,
    rounds_collection: String,
    max_rounds: Option<u32>,
}

impl SeedPlan {
    /// Whether config.yaml names any collection to seed (with or without a data file).
    pub fn seeds_anything(&self) -> bool {
        !self.collections.is_empty()
    }

    /// Reads and checks every `data_file` of `mongodb.collections` (relative to
    /// `data_dir`). A missing file is an error only when `required_count > 0`; a single
    /// object is taken as a list of one; an empty list is fine.
    pub fn load(config: &TestConfig) -> Result<Self, SeedError> {
        let mut collections = Vec::new();
        for (name, coll) in &config.mongodb.collections {
            super::check_collection_name(name)?;
            let docs = match &coll.data_file {
                None => None,
                Some(file) => {
                    let path = config.data_dir.join(file);
                    let limit = config
                        .limits
                        .store_max_mb
                        .map_or(crate::bounded_read::DATA_FILE_MAX, |mb| {
                            mb.saturating_mul(crate::bounded_read::MIB)
                        });
                    match crate::bounded_read::read_text(
                        &path,
                        limit,
                        "data file (at most the store budget, limits.store_max_mb)",
                    ) {
                        Ok(text) => Some(parse_documents(&path, &text, &config.task_id)?),
                        Err(e) if e.is_not_found() => {
                            if coll.required_count > 0 {
                                return Err(SeedError::Missing {
                                    path,
                                    collection: name.clone(),
                                    required: coll.required_count,
                                });
                            }
                            None
                        }
                        Err(e) => {
                            return Err(SeedError::Read {
                                path,
                                message: format!(
                                    "{} ({})",
                                    e.reason(),
                                    e.hint().unwrap_or_default()
                                ),
                            });
                        }
                    }
                }
            };
            collections.push((name.clone(), docs, coll.required_count));
        }
        Ok(Self {
            task_id: config.task_id.clone(),
            collections,
            rounds_collection: config.rounds_collection.clone(),
            max_rounds: config.max_rounds,
        })
    }

    /// Empties every configured collection, then imports the data files in config order.
    /// Returns (collection, documents imported) for each file imported.
    pub async fn seed(&self, db: &dyn Database) -> Result<Vec<(String, usize)>, SeedError> {
        for (name, _, _) in &self.collections {
            db.delete(name, Document::new(), true).await?;
        }
        let mut imported = Vec::new();
        for (name, docs, _) in &self.collections {
            if let Some(docs) = docs {
                db.insert_many(name, docs.clone()).await?;
                imported.push((name.clone(), docs.len()));
            }
        }
        Ok(imported)
    }

    /// `None` when every collection with `required_count > 0` holds at least that many
    /// documents of the task; otherwise the first shortfall, as one line.
    pub async fn unmet_requirement(&self, db: &dyn Database) -> Result<Option<String>, SeedError> {
        for (name, _, required) in &self.collections {
            if *required == 0 {
                continue;
            }
            let n = db.count(name, doc! {"taskId": &self.task_id}).await?;
            if n < *required {
                return Ok(Some(format!(
                    "collection `{name}` holds {n} document(s) of task {}, {required} required",
                    self.task_id
                )));
            }
        }
        Ok(None)
    }

    /// `max_rounds` if set; otherwise the task's documents in `rounds_collection` + 1.
    pub async fn rounds(&self, db: &dyn Database) -> Result<u32, SeedError> {
        if let Some(n) = self.max_rounds {
            return Ok(n);
        }
        if !db
            .collection_names()
            .await?
            .contains(&self.rounds_collection)
        {
            return Err(SeedError::NoRoundsCollection {
                collection: self.rounds_collection.clone(),
                database: db.name().to_string(),
            });
        }
        let n = db
            .count(&self.rounds_collection, doc! {"taskId": &self.task_id})
            .await?;
        Ok(u32::try_from(n.saturating_add(1)).unwrap_or(u32::MAX))
    }

    /// Fails, before anything is seeded, when [`SeedPlan::rounds`] would fail after
    /// seeding: `max_rounds` is not set, `rounds_collection` does not exist and seeding
    /// will not create it (no data file of it holds a document). Touches nothing.
    pub async fn check_rounds_source(&self, db: &dyn Database) -> Result<(), SeedError> {
        if self.max_rounds.is_some() {
            return Ok(());
        }
        let seeded = self.collections.iter().any(|(name, docs, _)| {
            *name == self.rounds_collection && docs.as_ref().is_some_and(|d| !d.is_empty())
        });
        if seeded
            || db
                .collection_names()
                .await?
                .contains(&self.rounds_collection)
        {
            return Ok(());
        }
        Err(SeedError::NoRoundsCollection {
            collection: self.rounds_collection.clone(),
            database: db.name().to_string(),
        })
    }

    /// Whether `max_rounds` comes from the rounds collection.
    pub fn rounds_from_collection(&self) -> Option<&str> {
        self.max_rounds
            .is_none()
            .then_some(self.rounds_collection.as_str())
    }
}

/// The documents of a data file, each with `taskId` set to `task_id`.
pub fn parse_documents(
    path: &std::path::Path,
    text: &str,
    task_id: &str,
) -> Result<Vec<Document>, SeedError> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| SeedError::Json {
        path: path.to_path_buf(),
        line: e.line(),
        column: e.column(),
        message: strip_position(&e.to_string()),
    })?;
    let items = match value {
        serde_json::Value::Array(items) => items,
        single @ serde_json::Value::Object(_) => vec![single],
        other => {
            return Err(SeedError::NotDocuments {
                path: path.to_path_buf(),
                what: format!("holds {}, not an object or a list of objects", kind(&other)),
            });
        }
    };
    let mut docs = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        if !item.is_object() {
            return Err(SeedError::NotDocuments {
                path: path.to_path_buf(),
                what: format!(
                    "item {} of the list is {}, not an object",
                    i + 1,
                    kind(&item)
                ),
            });
        }
        let Ok(Bson::Document(mut d)) = Bson::try_from(item) else {
            return Err(SeedError::NotDocuments {
                path: path.to_path_buf(),
                what: format!(
                    "item {} of the list is not valid MongoDB Extended JSON",
                    i + 1
                ),
            });
        };
        d.insert("taskId", task_id);
        docs.push(d);
    }
    Ok(docs)
}

fn kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "a list",
        serde_json::Value::Object(_) => "an object",
    }
}

/// serde_json appends " at line L column C"; the error shows the position up front.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}
