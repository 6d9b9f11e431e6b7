//! Reads a `mongodb.collections` data file the way the reference seeds it — a JSON array of
//! documents, or one document — and counts its documents, without any database.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::bounded_read::read_text;

/// Why a data file cannot seed its collection.
#[derive(Debug, thiserror::Error)]
pub enum DataFileError {
    /// A required file (`required_count` > 0) does not exist.
    #[error("{}: data file of collection `{collection}` does not exist (required_count is {required})", path.display())]
    Missing {
        /// The collection.
        collection: String,
        /// The resolved path.
        path: PathBuf,
        /// Its `required_count`.
        required: u64,
    },
    /// The file cannot be read.
    #[error("{}: cannot read the data file of collection `{collection}`: {source}", path.display())]
    Read {
        /// The collection.
        collection: String,
        /// The resolved path.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not JSON, or not documents.
    #[error("{}: data file of collection `{collection}`: {message}", path.display())]
    Invalid {
        /// The collection.
        collection: String,
        /// The resolved path.
        path: PathBuf,
        /// What is wrong, with line and column when known.
        message: String,
    },
}

/// The number of documents in a data file: the length of its array, or 1 for a single
/// object (the reference wraps it in a list). Every element must be an object, since the
/// seeder adds `taskId` to each. The file is refused past `limit` bytes (the store budget,
/// since a bigger seed could not be loaded) and when it is not a regular file.
pub fn count_documents(collection: &str, path: &Path, limit: u64) -> Result<usize, DataFileError> {
    let invalid = |message: String| DataFileError::Invalid {
        collection: collection.to_string(),
        path: path.to_path_buf(),
        message,
    };
    let text = read_text(
        path,
        limit,
        "data file (at most the store budget, limits.store_max_mb)",
    )
    .map_err(|e| DataFileError::Read {
        collection: collection.to_string(),
        path: path.to_path_buf(),
        source: e.into_io_error(),
    })?;
    let value: Value = serde_json::from_str(&text).map_err(|e| {
        invalid(format!(
            "not JSON: {} at {}:{}",
            e.to_string().split(" at line ").next().unwrap_or_default(),
            e.line(),
            e.column()
        ))
    })?;
    match value {
        Value::Object(_) => Ok(1),
        Value::Array(items) => {
            if let Some(i) = items.iter().position(|item| !item.is_object()) {
                return Err(invalid(format!(
                    "element {i} is not an object (a document)"
                )));
            }
            Ok(items.len())
        }
        _ => Err(invalid(
            "expected a list of documents or one document".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bounded_read::MIB;

    #[test]
    fn counts_arrays_and_single_documents_and_refuses_the_rest() {
        let dir = tempfile::tempdir().expect("tempdir");
        let write = |name: &str, text: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).expect("write");
            path
        };
        assert_eq!(
            count_documents("c", &write("a.json", "[{}, {\"a\": 1}]"), MIB).expect("list"),
            2
        );
        assert_eq!(
            count_documents("c", &write("o.json", "{\"a\": 1}"), MIB).expect("one"),
            1
        );
        assert_eq!(
            count_documents("c", &write("e.json", "[]"), MIB).expect("empty"),
            0
        );
        let bad = count_documents("c", &write("b.json", "[{}, 3]"), MIB).expect_err("number");
        assert!(
            bad.to_string().contains("element 1 is not an object"),
            "{bad}"
        );
        let bad = count_documents("c", &write("s.json", "[{},\n"), MIB).expect_err("syntax");
        assert!(bad.to_string().contains("not JSON"), "{bad}");
        assert!(
            bad.to_string().contains("b.json") || bad.to_string().contains("s.json"),
            "{bad}"
        );
    }
}
