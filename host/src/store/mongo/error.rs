//! [`MongoError`]: why a database call, a connection or a seed file failed.

use std::path::PathBuf;

use crate::error::UserFacing;

/// Why a MongoDB operation failed. The message reads after "error:"; [`MongoError::hint`]
/// says what to do.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MongoError {
    /// The server (or the embedded store, with the same code MongoDB uses) refused the
    /// operation, e.g. 11000 for a duplicate key.
    #[error("server error {code}: {message}")]
    Server {
        /// The MongoDB error code.
        code: i32,
        /// The server's message.
        message: String,
    },
    /// The embedded store does not implement this operator or option the way MongoDB does,
    /// so it refuses it rather than answer differently.
    #[error("`{operator}` is not supported by the embedded store")]
    Unsupported {
        /// The operator, stage or option, e.g. `$where`.
        operator: String,
    },
    /// The request itself is malformed: not Extended JSON, a bad collection name, a
    /// wrong-typed argument.
    #[error("{0}")]
    Invalid(String),
    /// The call names another database than the test's.
    #[error("database `{requested}` is not this test's database `{allowed}`")]
    OtherDatabase {
        /// The database the call named.
        requested: String,
        /// The test's database (`mongodb.database`).
        allowed: String,
    },
    /// The server could not be reached.
    #[error("cannot connect to MongoDB at {uri}: {message}")]
    Connect {
        /// The URI, password masked.
        uri: String,
        /// The driver's message.
        message: String,
    },
    /// Any other driver failure (network error mid-operation, protocol error).
    #[error("MongoDB: {0}")]
    Driver(String),
    /// The caller stopped waiting for an embedded-store call (the step ran out of time or
    /// the run was interrupted); the call stopped without changing anything more.
    #[error("the store call was stopped: the step ran out of time or the run was interrupted")]
    Interrupted,
    /// A size or nesting limit: a document past MongoDB's 16 MiB or 100 levels, an
    /// aggregation stage or reply past its cap, the embedded store past its budget.
    #[error("{message}")]
    Limit {
        /// MongoDB's code for the same refusal, when it has one (10334: document too large).
        code: Option<i32>,
        /// What was refused and which limit it passed.
        message: String,
        /// What to do instead.
        hint: String,
    },
    /// The embedded store's files could not be read or written.
    #[error("embedded store {}: {message}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What failed.
        message: String,
    },
}

impl MongoError {
    /// The server's error code, when there is one.
    pub fn code(&self) -> Option<i32> {
        match self {
            MongoError::Server { code, .. } => Some(*code),
            MongoError::Limit { code, .. } => *code,
            _ => None,
        }
    }

    /// The message with its hint, for a guest: `message (hint)`.
    pub fn with_hint(&self) -> String {
        match self.hint() {
            Some(hint) => format!("{self}; {hint}"),
            None => self.to_string(),
        }
    }
}

impl UserFacing for MongoError {
    fn hint(&self) -> Option<String> {
        match self {
            MongoError::Unsupported { .. } => Some(
                "set MONGO_URI (or mongodb.uri, or --mongo-uri) to run against a MongoDB server; \
                 docs/mongodb.md lists what the embedded store supports"
                    .into(),
            ),
            MongoError::Connect { .. } => Some(
                "start the server or fix the URI (--mongo-uri, MONGO_URI or mongodb.uri); \
                 unset all three to use the embedded store"
                    .into(),
            ),
            MongoError::OtherDatabase { .. } => {
                Some("steps can reach only the database named by mongodb.database".into())
            }
            MongoError::Limit { hint, .. } => Some(hint.clone()),
            _ => None,
        }
    }
}

impl From<mongodb::error::Error> for MongoError {
    fn from(e: mongodb::error::Error) -> Self {
        use mongodb::error::{ErrorKind, WriteFailure};
        match &*e.kind {
            ErrorKind::Command(c) => MongoError::Server {
                code: c.code,
                message: c.message.clone(),
            },
            ErrorKind::Write(WriteFailure::WriteError(w)) => MongoError::Server {
                code: w.code,
                message: w.message.clone(),
            },
            ErrorKind::Write(WriteFailure::WriteConcernError(w)) => MongoError::Server {
                code: w.code,
                message: w.message.clone(),
            },
            ErrorKind::InsertMany(m) => match m.write_errors.as_deref() {
                Some([first, ..]) => MongoError::Server {
                    code: first.code,
                    message: first.message.clone(),
                },
                _ => match &m.write_concern_error {
                    Some(w) => MongoError::Server {
                        code: w.code,
                        message: w.message.clone(),
                    },
                    None => MongoError::Driver(e.to_string()),
                },
            },
            ErrorKind::InvalidArgument { message, .. } => MongoError::Invalid(message.clone()),
            _ => MongoError::Driver(e.to_string()),
        }
    }
}
