//! The test's MongoDB database (WIT interface `mongo`), through typed collection handles.
//! Start from [`collection`]:
//!
//! ```no_run
//! use prometheus_step::{Error, json, mongo};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Serialize, Deserialize)]
//! struct Todo {
//!     title: String,
//!     done: bool,
//! }
//!
//! fn next_open_todo() -> Result<Option<Todo>, Error> {
//!     let todos = mongo::collection("todos");
//!     let open: Vec<Todo> = todos.find(json!({"done": false})).sort(json!({"title": 1})).limit(5).all()?;
//!     todos.update_one(json!({"title": "write docs"}), json!({"$set": {"done": true}}))?;
//!     Ok(open.into_iter().next())
//! }
//! ```
//!
//! Documents and filters are any `serde` values, written as MongoDB Extended JSON:
//! `{"$oid": "..."}` for an ObjectId, `{"$date": "2025-01-01T00:00:00Z"}` for a date.
//! Results come back as relaxed Extended JSON, so an `_id` decodes into [`Value`] or into
//! an [`ObjectId`] field. Every call reaches only the test's database.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::__private::bindings::prometheus::step::mongo as wit;
use crate::{Error, codec};

/// A collection of the test's database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collection {
    name: String,
}

/// A collection handle: `mongo::collection("todos")`.
pub fn collection(name: &str) -> Collection {
    Collection {
        name: name.to_string(),
    }
}

/// An ObjectId as relaxed Extended JSON shows it: `{"$oid": "<24 hex digits>"}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct ObjectId {
    /// The 24 hex digits.
    #[serde(rename = "$oid")]
    pub oid: String,
}

/// What an update or replace did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateResult {
    /// Documents the filter matched.
    pub matched: u64,
    /// Documents changed.
    pub modified: u64,
    /// `_id` of the document an upsert inserted.
    pub upserted_id: Option<Value>,
}

fn err(collection: &str, op: &str, e: wit::MongoError) -> Error {
    match e.code {
        Some(code) => Error::msg(format!(
            "mongo {op} on `{collection}`: error {code}: {}",
            e.message
        )),
        None => Error::msg(format!("mongo {op} on `{collection}`: {}", e.message)),
    }
}

fn text(what: &str, value: &impl Serialize) -> Result<String, Error> {
    codec::encode(value, &|| what.to_string())
}

fn update_result(r: wit::UpdateResult) -> Result<UpdateResult, Error> {
    Ok(UpdateResult {
        matched: r.matched,
        modified: r.modified,
        upserted_id: r
            .upserted_id
            .map(|t| codec::decode(&t, &|| "upserted id".into()))
            .transpose()?,
    })
}

/// A `find` being built: add `sort`, `limit`, `skip`, `projection`, then [`Find::all`]
/// or [`Find::one`].
#[derive(Debug, Clone)]
pub struct Find<'a> {
    collection: &'a Collection,
    filter: Result<String, Error>,
    options: wit::FindOptions,
    error: Option<Error>,
}

impl Find<'_> {
    fn option(
        mut self,
        what: &str,
        value: &impl Serialize,
        set: impl FnOnce(&mut wit::FindOptions, String),
    ) -> Self {
        match text(what, value) {
            Ok(t) => set(&mut self.options, t),
            Err(e) => self.error = Some(e),
        }
        self
    }

    /// Sort specification, e.g. `json!({"createdAt": -1})`.
    pub fn sort(self, spec: impl Serialize) -> Self {
        self.option("sort", &spec, |o, t| o.sort = Some(t))
    }

    /// Fields to include (`1`) or exclude (`0`).
    pub fn projection(self, spec: impl Serialize) -> Self {
        self.option("projection", &spec, |o, t| o.projection = Some(t))
    }

    /// At most `n` documents.
    pub fn limit(mut self, n: u32) -> Self {
        self.options.limit = Some(n);
        self
    }

    /// Skips the first `n` documents.
    pub fn skip(mut self, n: u32) -> Self {
        self.options.skip = Some(n);
        self
    }

    /// Every matching document, decoded into `T`.
    pub fn all<T: DeserializeOwned>(self) -> Result<Vec<T>, Error> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let name = &self.collection.name;
        let docs =
            wit::find(name, &self.filter?, &self.options).map_err(|e| err(name, "find", e))?;
        docs.iter()
            .map(|d| codec::decode(d, &|| format!("a document of `{name}`")))
            .collect()
    }

    /// The first matching document, decoded into `T`.
    pub fn one<T: DeserializeOwned>(self) -> Result<Option<T>, Error> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let name = &self.collection.name;
        let doc = wit::find_one(name, &self.filter?, &self.options)
            .map_err(|e| err(name, "find-one", e))?;
        doc.map(|d| codec::decode(&d, &|| format!("a document of `{name}`")))
            .transpose()
    }
}

impl Collection {
    /// The collection's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Starts a `find` of the documents matching `filter` (`json!({})` for all).
    pub fn find(&self, filter: impl Serialize) -> Find<'_> {
        Find {
            collection: self,
            filter: text("filter", &filter),
            options: wit::FindOptions {
                sort: None,
                limit: None,
                skip: None,
                projection: None,
            },
            error: None,
        }
    }

    /// The first document matching `filter`, decoded into `T`.
    pub fn find_one<T: DeserializeOwned>(
        &self,
        filter: impl Serialize,
    ) -> Result<Option<T>, Error> {
        self.find(filter).one()
    }

    /// Inserts `document`; returns its `_id` (relaxed Extended JSON).
    pub fn insert_one(&self, document: &impl Serialize) -> Result<Value, Error> {
        let id = wit::insert_one(&self.name, &text("document", document)?)
            .map_err(|e| err(&self.name, "insert-one", e))?;
        codec::decode(&id, &|| "inserted id".into())
    }

    /// Inserts `documents` in order; returns their `_id`s.
    pub fn insert_many<T: Serialize>(&self, documents: &[T]) -> Result<Vec<Value>, Error> {
        let ids = wit::insert_many(&self.name, &text("documents", &documents)?)
            .map_err(|e| err(&self.name, "insert-many", e))?;
        ids.iter()
            .map(|id| codec::decode(id, &|| "inserted id".into()))
            .collect()
    }

    /// Applies `update` (`{"$set": ...}`) to the first matching document.
    pub fn update_one(
        &self,
        filter: impl Serialize,
        update: impl Serialize,
    ) -> Result<UpdateResult, Error> {
        self.update(filter, update, false, false)
    }

    /// Applies `update` to every matching document.
    pub fn update_many(
        &self,
        filter: impl Serialize,
        update: impl Serialize,
    ) -> Result<UpdateResult, Error> {
        self.update(filter, update, true, false)
    }

    /// Applies `update` to the first (`many == false`) or every matching document;
    /// `upsert` inserts a document when none matches.
    pub fn update(
        &self,
        filter: impl Serialize,
        update: impl Serialize,
        many: bool,
        upsert: bool,
    ) -> Result<UpdateResult, Error> {
        let (f, u) = (text("filter", &filter)?, text("update", &update)?);
        let r = if many {
            wit::update_many(&self.name, &f, &u, upsert)
                .map_err(|e| err(&self.name, "update-many", e))?
        } else {
            wit::update_one(&self.name, &f, &u, upsert)
                .map_err(|e| err(&self.name, "update-one", e))?
        };
        update_result(r)
    }

    /// Replaces the first matching document (keeping its `_id`); `upsert` inserts
    /// `replacement` when none matches.
    pub fn replace_one(
        &self,
        filter: impl Serialize,
        replacement: &impl Serialize,
        upsert: bool,
    ) -> Result<UpdateResult, Error> {
        let r = wit::replace_one(
            &self.name,
            &text("filter", &filter)?,
            &text("replacement", replacement)?,
            upsert,
        )
        .map_err(|e| err(&self.name, "replace-one", e))?;
        update_result(r)
    }

    /// Deletes the first matching document; returns 0 or 1.
    pub fn delete_one(&self, filter: impl Serialize) -> Result<u64, Error> {
        wit::delete_one(&self.name, &text("filter", &filter)?)
            .map_err(|e| err(&self.name, "delete-one", e))
    }

    /// Deletes every matching document; returns how many.
    pub fn delete_many(&self, filter: impl Serialize) -> Result<u64, Error> {
        wit::delete_many(&self.name, &text("filter", &filter)?)
            .map_err(|e| err(&self.name, "delete-many", e))
    }

    /// How many documents match `filter`.
    pub fn count(&self, filter: impl Serialize) -> Result<u64, Error> {
        wit::count_documents(&self.name, &text("filter", &filter)?)
            .map_err(|e| err(&self.name, "count-documents", e))
    }

    /// Runs an aggregation pipeline (a list of stages), decoding each result into `T`.
    pub fn aggregate<T: DeserializeOwned>(
        &self,
        pipeline: impl Serialize,
    ) -> Result<Vec<T>, Error> {
        let docs = wit::aggregate(&self.name, &text("pipeline", &pipeline)?)
            .map_err(|e| err(&self.name, "aggregate", e))?;
        docs.iter()
            .map(|d| codec::decode(d, &|| format!("an aggregate result of `{}`", self.name)))
            .collect()
    }
}
