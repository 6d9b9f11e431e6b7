//! The limits every document obeys before a backend stores or sends it (MongoDB's 16 MiB
//! and 100 levels, [`check_document`]), and the refusals of the size caps: a reply
//! ([`result_too_large`]), an aggregation stage ([`StageBytes`]), the embedded store's
//! budget ([`store_full`]). Each is a [`MongoError::Limit`], an error value the step sees.

use bson::Document;

use super::MongoError;
use crate::store::limits::{
    MAX_DOCUMENT_BYTES, MAX_NESTING, MAX_RESULT_BYTES, MAX_STAGE_BYTES, document_bytes,
    document_depth,
};

/// Refuses a document MongoDB would refuse to store: nested deeper than [`MAX_NESTING`]
/// or larger than [`MAX_DOCUMENT_BYTES`] as BSON. Returns its size. `what` names the
/// document in the error; it is only formatted then (seeding checks every document, and
/// `format_args!("document {n}")` costs nothing until shown).
pub fn check_document(what: impl std::fmt::Display, doc: &Document) -> Result<usize, MongoError> {
    let depth = document_depth(doc);
    if depth > MAX_NESTING {
        return Err(MongoError::Limit {
            code: None,
            message: format!(
                "{what} is nested {depth} levels deep, more than MongoDB's {MAX_NESTING}"
            ),
            hint: "flatten the document; MongoDB refuses it too".into(),
        });
    }
    let bytes = document_bytes(doc);
    if bytes > MAX_DOCUMENT_BYTES {
        return Err(MongoError::Limit {
            code: Some(10334),
            message: format!(
                "{what} is {bytes} bytes as BSON, more than MongoDB's document limit of {} MiB",
                MAX_DOCUMENT_BYTES >> 20
            ),
            hint: "split the data over several documents; MongoDB refuses it too".into(),
        });
    }
    Ok(bytes)
}

/// Refuses a path (`a.b.c`) with more parts than a document can nest: no document holds
/// it, and following it would only risk the host's stack.
pub fn check_path(path: &str) -> Result<(), MongoError> {
    let parts = path.split('.').count();
    if parts > MAX_NESTING {
        let shown: String = path.chars().take(40).collect();
        return Err(MongoError::Limit {
            code: None,
            message: format!(
                "the field path `{shown}…` has {parts} parts, more than MongoDB's nesting limit of {MAX_NESTING}"
            ),
            hint: "use a shorter path".into(),
        });
    }
    Ok(())
}

/// A reply past [`MAX_RESULT_BYTES`].
pub fn result_too_large() -> MongoError {
    MongoError::Limit {
        code: None,
        message: format!("the result is larger than {} MiB", MAX_RESULT_BYTES >> 20),
        hint: "read it in pages with limit and skip, or project fewer fields".into(),
    }
}

/// The embedded store would hold `needed` bytes, past its budget of `limit`.
pub fn store_full(needed: usize, limit: usize) -> MongoError {
    MongoError::Limit {
        code: None,
        message: format!(
            "the embedded store would hold {} MiB, past the embedded store limit of {} MiB",
            needed.div_ceil(1 << 20),
            limit >> 20
        ),
        hint: "raise limits.store_max_mb in config.yaml or pass --store-max-mb, or delete \
               documents the test no longer needs"
            .into(),
    }
}

/// Counts the output of one aggregation stage against [`MAX_STAGE_BYTES`], before the
/// documents are built.
#[derive(Debug)]
pub struct StageBytes {
    stage: &'static str,
    used: usize,
}

impl StageBytes {
    /// An empty count for `stage` (`$unwind`, `$group`).
    pub fn new(stage: &'static str) -> Self {
        Self { stage, used: 0 }
    }

    /// Counts `bytes` more, or refuses the stage.
    pub fn add(&mut self, bytes: usize) -> Result<(), MongoError> {
        self.used = self.used.saturating_add(bytes);
        if self.used > MAX_STAGE_BYTES {
            return Err(MongoError::Limit {
                code: Some(292),
                message: format!(
                    "{} would produce more than {} MiB, the embedded store's per-stage limit",
                    self.stage,
                    MAX_STAGE_BYTES >> 20
                ),
                hint: "$match or $project before it so fewer or smaller documents reach it".into(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    fn nested(depth: usize) -> Document {
        let mut d = doc! {"leaf": 1};
        for _ in 1..depth {
            d = doc! {"a": d};
        }
        d
    }

    #[test]
    fn documents_at_the_limits_pass_and_past_them_are_refused() {
        assert!(check_document("document", &nested(MAX_NESTING)).is_ok());
        let err = check_document("document", &nested(MAX_NESTING + 1)).unwrap_err();
        assert!(
            err.to_string()
                .contains("101 levels deep, more than MongoDB's 100"),
            "{err}"
        );
        let big = doc! {"s": "x".repeat(MAX_DOCUMENT_BYTES)};
        let err = check_document("document", &big).unwrap_err();
        assert_eq!(err.code(), Some(10334));
        assert!(
            err.to_string().contains("document limit of 16 MiB"),
            "{err}"
        );
        let fits = doc! {"s": "x".repeat(MAX_DOCUMENT_BYTES - 100)};
        assert!(check_document("document", &fits).is_ok());
    }

    #[test]
    fn long_paths_and_large_stages_are_refused_by_name() {
        assert!(check_path(&vec!["a"; MAX_NESTING].join(".")).is_ok());
        let err = check_path(&vec!["a"; 3000].join(".")).unwrap_err();
        assert!(err.to_string().contains("3000 parts"), "{err}");
        let mut stage = StageBytes::new("$unwind");
        stage.add(MAX_STAGE_BYTES).unwrap();
        let err = stage.add(1).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("$unwind would produce more than 100 MiB"),
            "{err}"
        );
        assert!(
            store_full(3 << 20, 2 << 20)
                .with_hint()
                .contains("limits.store_max_mb")
        );
    }
}
