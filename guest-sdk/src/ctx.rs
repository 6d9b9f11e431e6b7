//! [`Ctx`]: what a step function receives, one method per thing the runner grants
//! (round, workers, config, state, log, HTTP). It delegates to the `config`, `state`,
//! `worker`, `log` and `http` modules, whose free functions work without a `Ctx` too.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::http::Http;
use crate::signing::KeyKind;
use crate::state::Scope;
use crate::{Error, config, log, signing, state, worker};

/// The step's view of the test: a cheap handle passed to every step function.
///
/// `worker: None` in the `worker_*` methods means the worker of the current step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ctx {
    step: Option<String>,
}

impl Ctx {
    /// The handle for `prepare`/`execute` of `step`.
    pub(crate) fn for_step(step: &str) -> Self {
        Self {
            step: Some(step.to_owned()),
        }
    }

    /// The handle for the post-load callback, which belongs to no step.
    pub(crate) fn for_post_load() -> Self {
        Self { step: None }
    }

    /// Name of the running step; `None` in the post-load callback.
    pub fn step(&self) -> Option<&str> {
        self.step.as_deref()
    }

    /// The current round, counting from 1.
    pub fn round(&self) -> u32 {
        state::round()
    }

    /// The `task_id` of config.yaml.
    pub fn task_id(&self) -> String {
        config::task_id()
    }

    /// A config.yaml value (dot notation: `mongodb.database`) decoded into `T`; `None` when
    /// absent.
    pub fn config<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, Error> {
        config::get(key)
    }

    /// A state value decoded into `T`: the current round first, then the global scope,
    /// then config.yaml. `None` when absent.
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, Error> {
        state::get(key)
    }

    /// Stores `value` under `key` for the rest of the current round.
    pub fn set<T: Serialize + ?Sized>(&self, key: &str, value: &T) -> Result<(), Error> {
        state::set(key, value, Scope::Round)
    }

    /// Stores `value` under `key` for every later round.
    pub fn set_global<T: Serialize + ?Sized>(&self, key: &str, value: &T) -> Result<(), Error> {
        state::set(key, value, Scope::Global)
    }

    /// Name of the worker the current step runs against.
    pub fn worker(&self) -> String {
        worker::current()
    }

    /// Names of all workers, in workers.json order.
    pub fn worker_names(&self) -> Vec<String> {
        worker::names()
    }

    /// Base URL of a worker; an error names the worker when it has none.
    pub fn worker_url(&self, worker: Option<&str>) -> Result<String, Error> {
        worker::url(worker)
    }

    /// `path` on a worker: `ctx.worker_endpoint(None, "/health")` is
    /// `http://127.0.0.1:5001/health` for a worker at that URL.
    pub fn worker_endpoint(&self, worker: Option<&str>, path: &str) -> Result<String, Error> {
        worker::endpoint(worker, path)
    }

    /// A value of a worker (`url`, `port`, any workers.json key) decoded into `T`; `None`
    /// when the key or the worker is unknown.
    pub fn worker_get<T: DeserializeOwned>(
        &self,
        worker: Option<&str>,
        key: &str,
    ) -> Result<Option<T>, Error> {
        worker::get(worker, key)
    }

    /// A variable of the environment the worker server was started with.
    pub fn worker_env(&self, worker: Option<&str>, name: &str) -> Option<String> {
        worker::env(worker, name)
    }

    /// The base58 public key of a worker's keypair (`None`: the step's worker); an error
    /// names the worker when it has no keypair of that kind.
    pub fn public_key(&self, worker: Option<&str>, kind: KeyKind) -> Result<String, Error> {
        signing::public_key(worker, kind).ok_or_else(|| {
            Error::msg(format!(
                "{} has no {kind:?} keypair (see `keypairs` in workers.json)",
                worker.map_or("the step's worker".to_owned(), |w| format!("worker `{w}`"))
            ))
        })
    }

    /// Signs `payload` with the step's worker's keypair of `kind`, byte-identical to the
    /// Python framework's `create_signature`. The host signs; the private key stays there.
    pub fn sign<T: Serialize + ?Sized>(&self, kind: KeyKind, payload: &T) -> Result<String, Error> {
        signing::sign(kind, payload)
    }

    /// Like [`Ctx::sign`], with another worker's keypair.
    pub fn sign_as<T: Serialize + ?Sized>(
        &self,
        worker: &str,
        kind: KeyKind,
        payload: &T,
    ) -> Result<String, Error> {
        signing::sign_as(Some(worker), kind, payload)
    }

    /// Opens a signature made by `public_key` and decodes the signed payload into `T`.
    pub fn verify<T: DeserializeOwned>(
        &self,
        signature: &str,
        public_key: &str,
    ) -> Result<T, Error> {
        signing::verify(signature, public_key)
    }

    /// The HTTP client (the same as the free functions [`get`](crate::get),
    /// [`post_json`](crate::post_json) and [`Request`](crate::Request)).
    pub fn http(&self) -> Http {
        Http
    }

    /// Writes a log line at trace level.
    pub fn trace(&self, message: impl AsRef<str>) {
        log::trace(message);
    }

    /// Writes a log line at debug level.
    pub fn debug(&self, message: impl AsRef<str>) {
        log::debug(message);
    }

    /// Writes a log line at info level.
    pub fn info(&self, message: impl AsRef<str>) {
        log::info(message);
    }

    /// Writes a log line at warn level.
    pub fn warn(&self, message: impl AsRef<str>) {
        log::warn(message);
    }

    /// Writes a log line at error level.
    pub fn error(&self, message: impl AsRef<str>) {
        log::error(message);
    }
}
