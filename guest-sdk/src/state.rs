//! The runner state (WIT interface `state`): the only memory shared between steps and
//! kept across a resumed run. Start from [`get`] and [`set`]; [`Ctx`](crate::Ctx) has
//! `get`, `set` and `set_global`.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::__private::bindings::prometheus::step::state as wit;
use crate::{Error, codec};

/// Where [`set`] stores a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Visible for the rest of the current round (the default in the Python framework).
    Round,
    /// Visible in every later round.
    Global,
}

impl From<Scope> for wit::Scope {
    fn from(scope: Scope) -> Self {
        match scope {
            Scope::Round => wit::Scope::Round,
            Scope::Global => wit::Scope::Global,
        }
    }
}

/// The current round, counting from 1.
pub fn round() -> u32 {
    wit::current_round()
}

/// The value under `key`, decoded into `T`: the current round is searched first, then the
/// global scope, then config.yaml. Dot notation reaches into objects (`post_urls.worker1`).
/// `None` when absent.
pub fn get<T: DeserializeOwned>(key: &str) -> Result<Option<T>, Error> {
    wit::get(key)
        .map(|text| codec::decode(&text, &|| format!("state key `{key}`")))
        .transpose()
}

/// Stores `value` under `key` in `scope`. The change becomes durable when the step
/// completes; a failed step leaves no trace.
pub fn set<T: Serialize + ?Sized>(key: &str, value: &T, scope: Scope) -> Result<(), Error> {
    let text = codec::encode(value, &|| format!("state key `{key}`"))?;
    wit::set(key, &text, scope.into())
        .map_err(|message| Error::msg(format!("state key `{key}`: {message}")))
}
