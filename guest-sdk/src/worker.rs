//! The worker servers of the test (WIT interface `worker`), as workers.json declares them.
//! Start from [`url`]; [`Ctx`](crate::Ctx) has the same calls as `worker_*` methods.
//! `worker: None` always means the worker of the current step.

use serde::de::DeserializeOwned;

use crate::__private::bindings::prometheus::step::worker as wit;
use crate::{Error, codec};

/// Name of the worker the current step runs against.
pub fn current() -> String {
    wit::current()
}

/// Names of all workers, in workers.json order.
pub fn names() -> Vec<String> {
    wit::names()
}

/// A value of a worker (`name`, `url`, `port`, `base_dir`, ... or any key of its
/// workers.json entry), decoded into `T`; `None` when the key or the worker is unknown.
pub fn get<T: DeserializeOwned>(worker: Option<&str>, key: &str) -> Result<Option<T>, Error> {
    wit::get(worker, key)
        .map(|text| codec::decode(&text, &|| format!("{}: key `{key}`", describe(worker))))
        .transpose()
}

/// A variable of the environment the worker server was started with.
pub fn env(worker: Option<&str>, name: &str) -> Option<String> {
    wit::env(worker, name)
}

/// The base URL of a worker, e.g. `http://127.0.0.1:5001`; an error names the worker when
/// it is unknown or has no URL.
pub fn url(worker: Option<&str>) -> Result<String, Error> {
    get::<String>(worker, "url")?.ok_or_else(|| {
        Error::msg(format!(
            "{} has no url (is it declared in workers.json? workers: {})",
            describe(worker),
            names().join(", ")
        ))
    })
}

/// `path` appended to the worker's URL with exactly one `/` between them.
pub fn endpoint(worker: Option<&str>, path: &str) -> Result<String, Error> {
    Ok(join_url(&url(worker)?, path))
}

/// `base` and `path` joined with exactly one `/`.
pub(crate) fn join_url(base: &str, path: &str) -> String {
    let path = path.trim_start_matches('/');
    if path.is_empty() {
        return base.to_owned();
    }
    format!("{}/{path}", base.trim_end_matches('/'))
}

fn describe(worker: Option<&str>) -> String {
    match worker {
        Some(name) => format!("worker `{name}`"),
        None => "the step's worker".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_url_puts_one_slash_between() {
        assert_eq!(join_url("http://w:1", "/health"), "http://w:1/health");
        assert_eq!(join_url("http://w:1/", "health"), "http://w:1/health");
        assert_eq!(join_url("http://w:1/", "//health"), "http://w:1/health");
        assert_eq!(join_url("http://w:1", ""), "http://w:1");
    }
}
