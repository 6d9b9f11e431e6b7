//! The `mongo` interface: the test's database, through the run's [`Database`] backend.
//!
//! Guest text is parsed as MongoDB Extended JSON here, before the backend sees it; bad
//! input is a `mongo-error` value, never a trap. Pipelines that would name another
//! database are refused by [`check_pipeline`].

use std::sync::Arc;

use bson::{Bson, Document};
use wasmtime::component::HasData;

use crate::plugin::bindings::prometheus::step::mongo::{
    FindOptions as WitFindOptions, Host, Json, MongoError as WitError,
    UpdateResult as WitUpdateResult,
};
use crate::plugin::ctx::HostState;
use crate::plugin::limits::{MAX_REQUEST_BYTES, MAX_REQUEST_VALUES, MAX_RESULT_TEXT_BYTES};
use crate::plugin::record::show::shown_part;
use crate::plugin::record::traces::mongo as shown;
use crate::plugin::record::{Args, Recorder};
use crate::store::limits::json_value_count;
use crate::store::mongo::{
    Database, FindOptions, MongoError, Update, UpdateResult, check_collection_name,
    result_too_large,
};

/// The run's database grant: the test's database, or none (calls fail) when the run has
/// no database (`list`, `inspect`).
#[derive(Clone, Default)]
pub struct MongoCtx {
    db: Option<Arc<dyn Database>>,
}

impl std::fmt::Debug for MongoCtx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.db {
            Some(db) => write!(f, "MongoCtx({})", db.summary()),
            None => f.write_str("MongoCtx(none)"),
        }
    }
}

impl MongoCtx {
    /// Grants `db`.
    pub fn new(db: Arc<dyn Database>) -> Self {
        Self { db: Some(db) }
    }

    fn db(&self) -> Result<&dyn Database, MongoError> {
        self.db
            .as_deref()
            .ok_or_else(|| MongoError::Invalid("this run has no database".into()))
    }
}

/// What a guest's `mongo` calls reach.
pub struct MongoView<'a> {
    ctx: &'a MongoCtx,
    rec: &'a Recorder,
}

impl<'a> MongoView<'a> {
    /// A view of the run's database, its calls going through `rec`.
    pub fn new(ctx: &'a MongoCtx, rec: &'a Recorder) -> Self {
        Self { ctx, rec }
    }
}

fn to_wit(e: MongoError) -> WitError {
    WitError {
        code: e.code(),
        message: e.with_hint(),
    }
}

/// Parses Extended JSON text (relaxed or canonical) into a value, refusing text past
/// [`MAX_REQUEST_BYTES`] or [`MAX_REQUEST_VALUES`] before parsing it.
pub fn parse_value(what: &str, text: &str) -> Result<Bson, MongoError> {
    let values = json_value_count(text);
    if text.len() > MAX_REQUEST_BYTES || values > MAX_REQUEST_VALUES {
        return Err(MongoError::Limit {
            code: None,
            message: format!(
                "{what} is {} bytes of JSON holding {values} values, more than one call may hand over \
                 ({MAX_REQUEST_BYTES} bytes, {MAX_REQUEST_VALUES} values)",
                text.len()
            ),
            hint: "split the work over several calls (insert in batches)".into(),
        });
    }
    let json: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| MongoError::Invalid(format!("{what} is not valid JSON: {e}")))?;
    Bson::try_from(json)
        .map_err(|e| MongoError::Invalid(format!("{what} is not valid Extended JSON: {e}")))
}

/// Parses an Extended JSON document.
pub fn parse_doc(what: &str, text: &str) -> Result<Document, MongoError> {
    match parse_value(what, text)? {
        Bson::Document(d) => Ok(d),
        other => Err(MongoError::Invalid(format!(
            "{what} must be a JSON object, got {}",
            kind(&other)
        ))),
    }
}

fn parse_docs(what: &str, text: &str) -> Result<Vec<Document>, MongoError> {
    docs_of(what, parse_value(what, text)?)
}

/// The documents of a parsed array (moved, not copied).
fn docs_of(what: &str, value: Bson) -> Result<Vec<Document>, MongoError> {
    match value {
        Bson::Array(items) => items
            .into_iter()
            .enumerate()
            .map(|(i, item)| match item {
                Bson::Document(d) => Ok(d),
                other => Err(MongoError::Invalid(format!(
                    "{what}: item {} must be a JSON object, got {}",
                    i + 1,
                    kind(&other)
                ))),
            })
            .collect(),
        other => Err(MongoError::Invalid(format!(
            "{what} must be a JSON array, got {}",
            kind(&other)
        ))),
    }
}

/// What a value is, for an error message: its type and, when short, the value itself
/// (a wrong value may be 48 MB; the message stays a line).
fn kind(value: &Bson) -> String {
    match value {
        Bson::Array(items) => format!("an array of {} items", items.len()),
        Bson::String(s) => format!("a string of {} bytes", s.len()),
        Bson::Document(d) => format!("an object of {} fields", d.len()),
        other => crate::plugin::json::preview(&other.to_string()),
    }
}

fn parse_update(text: &str) -> Result<Update, MongoError> {
    match parse_value("update", text)? {
        Bson::Document(d) => Ok(Update::Operators(d)),
        // Parsed once: the pipeline is the array already parsed.
        pipeline @ Bson::Array(_) => Ok(Update::Pipeline(docs_of("update pipeline", pipeline)?)),
        other => Err(MongoError::Invalid(format!(
            "update must be a JSON object or array, got {}",
            kind(&other)
        ))),
    }
}

/// Relaxed Extended JSON text of a value.
pub fn to_text(value: Bson) -> String {
    value.into_relaxed_extjson().to_string()
}

fn docs_to_text(docs: Vec<Document>) -> Result<Vec<String>, MongoError> {
    let mut total = 0;
    let mut out = Vec::with_capacity(docs.len());
    for d in docs {
        let text = to_text(Bson::Document(d));
        total += text.len();
        if total > MAX_RESULT_TEXT_BYTES {
            return Err(result_too_large());
        }
        out.push(text);
    }
    Ok(out)
}

/// Refuses a pipeline stage that names a database other than `database` (`$out`,
/// `$merge`, `$lookup`, `$graphLookup`, `$unionWith`, also in nested pipelines) or reaches
/// beyond it (`$currentOp`, `$listSessions`, `$listLocalSessions`).
pub fn check_pipeline(pipeline: &[Document], database: &str) -> Result<(), MongoError> {
    fn check_db(v: Option<&Bson>, database: &str) -> Result<(), MongoError> {
        match v {
            Some(Bson::String(db)) if db != database => Err(MongoError::OtherDatabase {
                requested: db.clone(),
                allowed: database.to_string(),
            }),
            _ => Ok(()),
        }
    }
    fn walk_doc(d: &Document, database: &str) -> Result<(), MongoError> {
        for (k, inner) in d {
            match (k.as_str(), inner) {
                ("$currentOp" | "$listSessions" | "$listLocalSessions", _) => {
                    return Err(MongoError::Invalid(format!(
                        "stage {k} reaches beyond the test's database and is refused"
                    )));
                }
                ("$out" | "$unionWith", Bson::Document(spec)) => {
                    check_db(spec.get("db"), database)?
                }
                ("$merge", Bson::Document(spec)) => {
                    if let Some(Bson::Document(into)) = spec.get("into") {
                        check_db(into.get("db"), database)?;
                    }
                }
                ("$lookup" | "$graphLookup", Bson::Document(spec)) => {
                    if let Some(Bson::Document(from)) = spec.get("from") {
                        check_db(from.get("db"), database)?;
                    }
                }
                _ => {}
            }
            walk(inner, database)?;
        }
        Ok(())
    }
    fn walk(v: &Bson, database: &str) -> Result<(), MongoError> {
        match v {
            Bson::Document(d) => walk_doc(d, database),
            Bson::Array(items) => items.iter().try_for_each(|i| walk(i, database)),
            _ => Ok(()),
        }
    }
    // Walked in place: a 48 MB pipeline is not copied to be checked.
    pipeline
        .iter()
        .try_for_each(|stage| walk_doc(stage, database))
}

fn update_result(r: UpdateResult) -> WitUpdateResult {
    WitUpdateResult {
        matched: r.matched,
        modified: r.modified,
        upserted_id: r.upserted_id.map(to_text),
    }
}

impl MongoView<'_> {
    async fn find_impl(
        &self,
        collection: &str,
        filter: &str,
        options: &WitFindOptions,
        one: bool,
    ) -> Result<Vec<String>, MongoError> {
        let db = self.ctx.db()?;
        check_collection_name(collection)?;
        let filter = parse_doc("filter", filter)?;
        let options = FindOptions {
            sort: options
                .sort
                .as_deref()
                .map(|t| parse_doc("sort", t))
                .transpose()?,
            limit: if one {
                Some(1)
            } else {
                options.limit.map(u64::from)
            },
            skip: options.skip.map(u64::from),
            projection: options
                .projection
                .as_deref()
                .map(|t| parse_doc("projection", t))
                .transpose()?,
        };
        docs_to_text(db.find(collection, filter, options).await?)
    }

    async fn update_impl(
        &self,
        collection: &str,
        filter: &str,
        update: &str,
        many: bool,
        upsert: bool,
    ) -> Result<WitUpdateResult, MongoError> {
        let db = self.ctx.db()?;
        check_collection_name(collection)?;
        let filter = parse_doc("filter", filter)?;
        let update = parse_update(update)?;
        if let Update::Pipeline(p) = &update {
            check_pipeline(p, db.name())?;
        }
        Ok(update_result(
            db.update(collection, filter, update, many, upsert).await?,
        ))
    }

    async fn delete_impl(
        &self,
        collection: &str,
        filter: &str,
        many: bool,
    ) -> Result<u64, MongoError> {
        let db = self.ctx.db()?;
        check_collection_name(collection)?;
        let filter = parse_doc("filter", filter)?;
        db.delete(collection, filter, many).await
    }

    async fn insert_impl(
        &self,
        collection: &str,
        docs: Vec<Document>,
    ) -> Result<Vec<String>, MongoError> {
        let db = self.ctx.db()?;
        check_collection_name(collection)?;
        Ok(db
            .insert_many(collection, docs)
            .await?
            .into_iter()
            .map(to_text)
            .collect())
    }
}

/// The texts of sort and projection, charged with a `find`'s arguments.
fn options_bytes(options: &WitFindOptions) -> usize {
    options.sort.as_ref().map_or(0, String::len)
        + options.projection.as_ref().map_or(0, String::len)
}

/// A filter and an update as a trace shows them, without copying either whole.
fn two(filter: &str, update: &str) -> String {
    format!("{}\n{}", shown_part(filter), shown_part(update))
}

type Reply<T> = wasmtime::Result<Result<T, WitError>>;

impl Host for MongoView<'_> {
    async fn find(
        &mut self,
        collection: String,
        filter: Json,
        options: WitFindOptions,
    ) -> Reply<Vec<Json>> {
        let args = Args::new(
            collection.len() + filter.len() + options_bytes(&options),
            || serde_json::json!({ "collection": &collection, "filter": &filter, "options": &options }),
        );
        let show = shown("find", &collection, &filter);
        let live = async {
            self.find_impl(&collection, &filter, &options, false)
                .await
                .map_err(to_wit)
        };
        self.rec.call("mongo.find", args, live, show).await
    }

    async fn find_one(
        &mut self,
        collection: String,
        filter: Json,
        options: WitFindOptions,
    ) -> Reply<Option<Json>> {
        let args = Args::new(
            collection.len() + filter.len() + options_bytes(&options),
            || serde_json::json!({ "collection": &collection, "filter": &filter, "options": &options }),
        );
        let show = shown("find_one", &collection, &filter);
        let live = async {
            self.find_impl(&collection, &filter, &options, true)
                .await
                .map(|docs| docs.into_iter().next())
                .map_err(to_wit)
        };
        self.rec.call("mongo.find_one", args, live, show).await
    }

    async fn insert_one(&mut self, collection: String, document: Json) -> Reply<Json> {
        let args = Args::new(
            collection.len() + document.len(),
            || serde_json::json!({ "collection": &collection, "document": &document }),
        );
        let show = shown("insert_one", &collection, &document);
        let live = async {
            let doc = parse_doc("document", &document)?;
            let ids = self.insert_impl(&collection, vec![doc]).await?;
            Ok(ids.into_iter().next().unwrap_or_default())
        };
        let live = async { live.await.map_err(to_wit) };
        self.rec.call("mongo.insert_one", args, live, show).await
    }

    async fn insert_many(&mut self, collection: String, documents: Json) -> Reply<Vec<Json>> {
        let args = Args::new(
            collection.len() + documents.len(),
            || serde_json::json!({ "collection": &collection, "documents": &documents }),
        );
        let show = shown("insert_many", &collection, &documents);
        let live = async {
            let docs = parse_docs("documents", &documents)?;
            self.insert_impl(&collection, docs).await
        };
        let live = async { live.await.map_err(to_wit) };
        self.rec.call("mongo.insert_many", args, live, show).await
    }

    async fn update_one(
        &mut self,
        collection: String,
        filter: Json,
        update: Json,
        upsert: bool,
    ) -> Reply<WitUpdateResult> {
        let args = Args::new(
            collection.len() + filter.len() + update.len(),
            || serde_json::json!({ "collection": &collection, "filter": &filter, "update": &update, "upsert": upsert }),
        );
        let show = shown("update_one", &collection, &two(&filter, &update));
        let live = async {
            self.update_impl(&collection, &filter, &update, false, upsert)
                .await
                .map_err(to_wit)
        };
        self.rec.call("mongo.update_one", args, live, show).await
    }

    async fn update_many(
        &mut self,
        collection: String,
        filter: Json,
        update: Json,
        upsert: bool,
    ) -> Reply<WitUpdateResult> {
        let args = Args::new(
            collection.len() + filter.len() + update.len(),
            || serde_json::json!({ "collection": &collection, "filter": &filter, "update": &update, "upsert": upsert }),
        );
        let show = shown("update_many", &collection, &two(&filter, &update));
        let live = async {
            self.update_impl(&collection, &filter, &update, true, upsert)
                .await
                .map_err(to_wit)
        };
        self.rec.call("mongo.update_many", args, live, show).await
    }

    async fn replace_one(
        &mut self,
        collection: String,
        filter: Json,
        replacement: Json,
        upsert: bool,
    ) -> Reply<WitUpdateResult> {
        let args = Args::new(
            collection.len() + filter.len() + replacement.len(),
            || serde_json::json!({ "collection": &collection, "filter": &filter, "replacement": &replacement, "upsert": upsert }),
        );
        let show = shown("replace_one", &collection, &two(&filter, &replacement));
        let live = async {
            let db = self.ctx.db()?;
            check_collection_name(&collection)?;
            let filter = parse_doc("filter", &filter)?;
            let replacement = parse_doc("replacement", &replacement)?;
            Ok(update_result(
                db.replace_one(&collection, filter, replacement, upsert)
                    .await?,
            ))
        };
        let live = async { live.await.map_err(to_wit) };
        self.rec.call("mongo.replace_one", args, live, show).await
    }

    async fn delete_one(&mut self, collection: String, filter: Json) -> Reply<u64> {
        let args = Args::new(
            collection.len() + filter.len(),
            || serde_json::json!({ "collection": &collection, "filter": &filter }),
        );
        let show = shown("delete_one", &collection, &filter);
        let live = async {
            self.delete_impl(&collection, &filter, false)
                .await
                .map_err(to_wit)
        };
        self.rec.call("mongo.delete_one", args, live, show).await
    }

    async fn delete_many(&mut self, collection: String, filter: Json) -> Reply<u64> {
        let args = Args::new(
            collection.len() + filter.len(),
            || serde_json::json!({ "collection": &collection, "filter": &filter }),
        );
        let show = shown("delete_many", &collection, &filter);
        let live = async {
            self.delete_impl(&collection, &filter, true)
                .await
                .map_err(to_wit)
        };
        self.rec.call("mongo.delete_many", args, live, show).await
    }

    async fn count_documents(&mut self, collection: String, filter: Json) -> Reply<u64> {
        let args = Args::new(
            collection.len() + filter.len(),
            || serde_json::json!({ "collection": &collection, "filter": &filter }),
        );
        let show = shown("count_documents", &collection, &filter);
        let live = async {
            let db = self.ctx.db()?;
            check_collection_name(&collection)?;
            db.count(&collection, parse_doc("filter", &filter)?).await
        };
        let live = async { live.await.map_err(to_wit) };
        self.rec
            .call("mongo.count_documents", args, live, show)
            .await
    }

    async fn aggregate(&mut self, collection: String, pipeline: Json) -> Reply<Vec<Json>> {
        let args = Args::new(
            collection.len() + pipeline.len(),
            || serde_json::json!({ "collection": &collection, "pipeline": &pipeline }),
        );
        let show = shown("aggregate", &collection, &pipeline);
        let live = async {
            let db = self.ctx.db()?;
            check_collection_name(&collection)?;
            let pipeline = parse_docs("pipeline", &pipeline)?;
            check_pipeline(&pipeline, db.name())?;
            docs_to_text(db.aggregate(&collection, pipeline).await?)
        };
        let live = async { live.await.map_err(to_wit) };
        self.rec.call("mongo.aggregate", args, live, show).await
    }
}

/// Links `mongo` into the store's host state.
pub(crate) struct MongoData;

impl HasData for MongoData {
    type Data<'a> = MongoView<'a>;
}

pub(crate) fn view(state: &mut HostState) -> MongoView<'_> {
    MongoView::new(&state.run.mongo, &state.recorder)
}
