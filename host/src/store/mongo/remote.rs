//! [`RemoteDatabase`]: the test's database on a MongoDB server, through the official
//! `mongodb` driver.

use std::time::Duration;

use bson::{Bson, Document, doc};
use futures_util::TryStreamExt;
use mongodb::options::ClientOptions;
use mongodb::{Client, Collection};

use super::checks::result_too_large;
use super::{Database, FindOptions, MongoError, Update, UpdateResult, check_document, mask_uri};
use crate::store::limits::{MAX_RESULT_BYTES, document_bytes};

/// Reads a cursor to its end, refusing the reply once it passes [`MAX_RESULT_BYTES`] so a
/// large collection is never held whole.
async fn collect_capped(
    mut cursor: mongodb::Cursor<Document>,
) -> Result<Vec<Document>, MongoError> {
    let mut bytes = 0usize;
    let mut out = Vec::new();
    while let Some(doc) = cursor.try_next().await? {
        bytes += document_bytes(&doc);
        if bytes > MAX_RESULT_BYTES {
            return Err(result_too_large());
        }
        out.push(doc);
    }
    Ok(out)
}

/// How long to look for a usable server before giving up. The driver's default (30 s) would
/// leave a run with a wrong URI hanging; a test database is local or already up.
pub const SERVER_SELECTION_TIMEOUT: Duration = Duration::from_secs(5);
/// How long one TCP/TLS connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest one database operation may take. The driver has no socket timeout, so without
/// this a server that stops answering would hang the run (and CI) instead of failing it.
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(120);

/// A database on a MongoDB server.
#[derive(Debug, Clone)]
pub struct RemoteDatabase {
    db: mongodb::Database,
    masked_uri: String,
}

impl RemoteDatabase {
    /// Connects to `uri` and pings the server, failing within
    /// [`SERVER_SELECTION_TIMEOUT`] with the URI (password masked) in the error.
    pub async fn connect(uri: &str, database: &str) -> Result<Self, MongoError> {
        let masked_uri = mask_uri(uri);
        let connect_error = |e: mongodb::error::Error| MongoError::Connect {
            uri: masked_uri.clone(),
            message: first_line(&e.to_string()),
        };
        let mut options = ClientOptions::parse(uri).await.map_err(connect_error)?;
        options.server_selection_timeout = Some(SERVER_SELECTION_TIMEOUT);
        options.connect_timeout = Some(CONNECT_TIMEOUT);
        options.app_name = Some("prometheus-wasm".into());
        let client = Client::with_options(options).map_err(connect_error)?;
        let db = client.database(database);
        db.run_command(doc! {"ping": 1})
            .await
            .map_err(connect_error)?;
        Ok(Self { db, masked_uri })
    }

    fn coll(&self, name: &str) -> Collection<Document> {
        self.db.collection(name)
    }

    /// Runs one operation under [`OPERATION_TIMEOUT`].
    async fn timed<T>(
        &self,
        operation: &str,
        call: impl Future<Output = Result<T, MongoError>>,
    ) -> Result<T, MongoError> {
        tokio::time::timeout(OPERATION_TIMEOUT, call)
            .await
            .unwrap_or_else(|_| {
                Err(MongoError::Driver(format!(
                    "{operation} got no answer from the server at {} within {} s",
                    self.masked_uri,
                    OPERATION_TIMEOUT.as_secs()
                )))
            })
    }
}

/// The driver's server-selection errors list every server's state over many lines.
fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or_default().to_string()
}

#[async_trait::async_trait]
impl Database for RemoteDatabase {
    fn summary(&self) -> String {
        format!("MongoDB server at {}", self.masked_uri)
    }

    fn name(&self) -> &str {
        self.db.name()
    }

    async fn find(
        &self,
        collection: &str,
        filter: Document,
        options: FindOptions,
    ) -> Result<Vec<Document>, MongoError> {
        self.timed("find", async move {
            let coll = self.coll(collection);
            let mut find = coll.find(filter);
            if let Some(sort) = options.sort {
                find = find.sort(sort);
            }
            if let Some(limit) = options.limit {
                find = find.limit(i64::try_from(limit).unwrap_or(i64::MAX));
            }
            if let Some(skip) = options.skip {
                find = find.skip(skip);
            }
            if let Some(projection) = options.projection {
                find = find.projection(projection);
            }
            collect_capped(find.await?).await
        })
        .await
    }

    async fn insert_many(
        &self,
        collection: &str,
        mut documents: Vec<Document>,
    ) -> Result<Vec<Bson>, MongoError> {
        self.timed("insert_many", async move {
            if documents.is_empty() {
                return Ok(Vec::new());
            }
            // Refused before sending, as the embedded store refuses them.
            for (n, d) in documents.iter().enumerate() {
                check_document(format_args!("document {}", n + 1), d)?;
            }
            // Ids are assigned here so they come back in input order whatever the driver does.
            let ids: Vec<Bson> = documents.iter_mut().map(super::ensure_id).collect();
            self.coll(collection).insert_many(documents).await?;
            Ok(ids)
        })
        .await
    }

    async fn update(
        &self,
        collection: &str,
        filter: Document,
        update: Update,
        many: bool,
        upsert: bool,
    ) -> Result<UpdateResult, MongoError> {
        self.timed("update", async move {
            let update = match update {
                Update::Operators(d) => mongodb::options::UpdateModifications::Document(d),
                Update::Pipeline(p) => mongodb::options::UpdateModifications::Pipeline(p),
            };
            let coll = self.coll(collection);
            let result = if many {
                coll.update_many(filter, update).upsert(upsert).await?
            } else {
                coll.update_one(filter, update).upsert(upsert).await?
            };
            Ok(UpdateResult {
                matched: result.matched_count,
                modified: result.modified_count,
                upserted_id: result.upserted_id,
            })
        })
        .await
    }

    async fn replace_one(
        &self,
        collection: &str,
        filter: Document,
        replacement: Document,
        upsert: bool,
    ) -> Result<UpdateResult, MongoError> {
        self.timed("replace_one", async move {
            check_document("the replacement", &replacement)?;
            let result = self
                .coll(collection)
                .replace_one(filter, replacement)
                .upsert(upsert)
                .await?;
            Ok(UpdateResult {
                matched: result.matched_count,
                modified: result.modified_count,
                upserted_id: result.upserted_id,
            })
        })
        .await
    }

    async fn delete(
        &self,
        collection: &str,
        filter: Document,
        many: bool,
    ) -> Result<u64, MongoError> {
        self.timed("delete", async move {
            let coll = self.coll(collection);
            let result = if many {
                coll.delete_many(filter).await?
            } else {
                coll.delete_one(filter).await?
            };
            Ok(result.deleted_count)
        })
        .await
    }

    async fn count(&self, collection: &str, filter: Document) -> Result<u64, MongoError> {
        self.timed("count", async move {
            Ok(self.coll(collection).count_documents(filter).await?)
        })
        .await
    }

    async fn aggregate(
        &self,
        collection: &str,
        pipeline: Vec<Document>,
    ) -> Result<Vec<Document>, MongoError> {
        self.timed("aggregate", async move {
            collect_capped(self.coll(collection).aggregate(pipeline).await?).await
        })
        .await
    }

    async fn collection_names(&self) -> Result<Vec<String>, MongoError> {
        self.timed("collection_names", async move {
            Ok(self.db.list_collection_names().await?)
        })
        .await
    }
}
