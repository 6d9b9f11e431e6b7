//! The test configuration (WIT interface `config`): read-only `config.yaml` values.
//! Start from [`get`]; [`Ctx::config`](crate::Ctx::config) is the same call.

use serde::de::DeserializeOwned;

use crate::__private::bindings::prometheus::step::config as wit;
use crate::{Error, codec};

/// The `task_id` of config.yaml.
pub fn task_id() -> String {
    wit::task_id()
}

/// The config.yaml value under `key` (dot notation reaches into maps: `mongodb.database`),
/// decoded into `T`; `None` when absent. Keys the runner does not know are readable too.
pub fn get<T: DeserializeOwned>(key: &str) -> Result<Option<T>, Error> {
    wit::get(key)
        .map(|text| codec::decode(&text, &|| format!("config key `{key}`")))
        .transpose()
}
