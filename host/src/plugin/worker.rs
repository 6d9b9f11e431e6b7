//! The `worker` interface: the test's worker servers as guests see them, their public
//! keys, and signing with their keypairs (done here, so private keys never enter a guest).

use wasmtime::component::HasData;

use crate::koii::{self, KeyKind as Kind};
use crate::model::CallKind;
use crate::plugin::bindings::prometheus::step::worker::{Host, Json, KeyKind, SigningError};
use crate::plugin::ctx::{HostState, RunCtx, WorkerInfo};
use crate::plugin::record::show::shown_part;
use crate::plugin::record::traces::{signing as answered, worker_read as read};
use crate::plugin::record::{Args, Recorder, Shown, no_args};

/// What a guest's `worker` calls see: every worker, and which one the step runs against.
pub struct WorkerView<'a> {
    run: &'a RunCtx,
    current: &'a str,
    rec: &'a Recorder,
}

impl<'a> WorkerView<'a> {
    /// A view with `current` as the step's worker, its calls going through `rec`.
    pub fn new(run: &'a RunCtx, current: &'a str, rec: &'a Recorder) -> Self {
        Self { run, current, rec }
    }

    /// `name` or the current worker, for traces.
    fn who(&self, name: Option<&str>) -> String {
        shown_part(name.unwrap_or(self.current)).to_string()
    }

    fn find(&self, name: Option<&str>) -> Option<&'a WorkerInfo> {
        self.run.worker(name.unwrap_or(self.current))
    }

    fn keypair(&self, name: Option<&str>, kind: KeyKind) -> Result<&'a koii::Keypair, String> {
        let name = name.unwrap_or(self.current);
        let kind = kind_of(kind);
        if self.run.worker(name).is_none() {
            return Err(format!("there is no worker `{name}`"));
        }
        self.run.keys.get(name, kind).ok_or_else(|| {
            format!(
                "worker `{name}` has no {kind} keypair; add `\"{kind}\": \"VARIABLE\"` to its \
                 `keypairs` in workers.json, VARIABLE holding the keypair file's path"
            )
        })
    }
}

fn kind_of(kind: KeyKind) -> Kind {
    match kind {
        KeyKind::Staking => Kind::Staking,
        KeyKind::Main => Kind::Main,
    }
}

fn signing_error(error: koii::SignatureError) -> SigningError {
    match error {
        koii::SignatureError::InvalidPayload(_)
        | koii::SignatureError::PayloadTooLarge { .. }
        | koii::SignatureError::PayloadTextTooLarge { .. } => {
            SigningError::InvalidPayload(error.to_string())
        }
        _ => SigningError::InvalidSignature(error.to_string()),
    }
}

impl Host for WorkerView<'_> {
    async fn current(&mut self) -> wasmtime::Result<String> {
        let live = async { self.current.to_string() };
        self.rec
            .call("worker.current", no_args(), live, |_| None)
            .await
    }

    async fn names(&mut self) -> wasmtime::Result<Vec<String>> {
        let live = async { self.run.workers.iter().map(|w| w.name.clone()).collect() };
        self.rec
            .call("worker.names", no_args(), live, |_| None)
            .await
    }

    async fn get(&mut self, worker: Option<String>, key: String) -> wasmtime::Result<Option<Json>> {
        let args = Args::new(
            key.len() + worker.as_ref().map_or(0, String::len),
            || serde_json::json!({ "worker": &worker, "key": &key }),
        );
        let summary = format!(
            "worker.get {} {}",
            self.who(worker.as_deref()),
            shown_part(&key)
        );
        let live = async {
            self.find(worker.as_deref())
                .and_then(|w| w.data.get(&key))
                .map(|v| v.to_string())
        };
        let show = |r: &Option<Json>| Some(read(summary, r.as_deref()));
        self.rec.call("worker.get", args, live, show).await
    }

    async fn env(
        &mut self,
        worker: Option<String>,
        name: String,
    ) -> wasmtime::Result<Option<String>> {
        let args = Args::new(
            name.len() + worker.as_ref().map_or(0, String::len),
            || serde_json::json!({ "worker": &worker, "name": &name }),
        );
        let summary = format!(
            "worker.env {} {}",
            self.who(worker.as_deref()),
            shown_part(&name)
        );
        let live = async {
            self.find(worker.as_deref())
                .and_then(|w| w.env.get(&name))
                .cloned()
        };
        let show = |r: &Option<String>| Some(read(summary, r.as_deref()));
        self.rec.call("worker.env", args, live, show).await
    }

    async fn public_key(
        &mut self,
        worker: Option<String>,
        kind: KeyKind,
    ) -> wasmtime::Result<Option<String>> {
        let args = Args::new(
            worker.as_ref().map_or(0, String::len),
            || serde_json::json!({ "worker": &worker, "kind": kind }),
        );
        let summary = format!(
            "worker.public_key {} {}",
            self.who(worker.as_deref()),
            kind_of(kind)
        );
        let live = async {
            self.keypair(worker.as_deref(), kind)
                .ok()
                .map(|k| k.public_key().to_string())
        };
        let show = |r: &Option<String>| Some(read(summary, r.as_deref()));
        self.rec.call("worker.public_key", args, live, show).await
    }

    async fn sign(
        &mut self,
        worker: Option<String>,
        kind: KeyKind,
        payload: Json,
    ) -> wasmtime::Result<Result<String, SigningError>> {
        // The signature is recorded as the answer; the private key never leaves the host.
        let args = Args::new(
            payload.len() + worker.as_ref().map_or(0, String::len),
            || serde_json::json!({ "worker": &worker, "kind": kind, "payload": &payload }),
        );
        let summary = format!(
            "worker.sign {} {}",
            self.who(worker.as_deref()),
            kind_of(kind)
        );
        let request = shown_part(&payload);
        let live = async {
            // Refused before anything else: a huge payload costs only its length.
            if payload.len() > koii::MAX_PAYLOAD_TEXT_BYTES {
                return Err(signing_error(koii::SignatureError::PayloadTextTooLarge {
                    len: payload.len(),
                }));
            }
            let keypair = self
                .keypair(worker.as_deref(), kind)
                .map_err(SigningError::NoKeypair)?;
            keypair.sign(&payload).map_err(signing_error)
        };
        let show = |r: &Result<String, SigningError>| {
            Some(answered(
                Shown::new(CallKind::Worker, summary).request(request),
                r,
            ))
        };
        self.rec.call("worker.sign", args, live, show).await
    }

    async fn verify(
        &mut self,
        signature: String,
        public_key: String,
    ) -> wasmtime::Result<Result<Json, SigningError>> {
        let args = Args::new(
            signature.len() + public_key.len(),
            || serde_json::json!({ "signature": &signature, "public_key": &public_key }),
        );
        let summary = format!("worker.verify {}", shown_part(&public_key));
        let request = shown_part(&signature);
        let live = async { koii::verify(&signature, &public_key).map_err(signing_error) };
        let show = |r: &Result<Json, SigningError>| {
            Some(answered(
                Shown::new(CallKind::Worker, summary).request(request),
                r,
            ))
        };
        self.rec.call("worker.verify", args, live, show).await
    }
}

/// Links `worker` into the store's host state.
pub(crate) struct WorkerData;

impl HasData for WorkerData {
    type Data<'a> = WorkerView<'a>;
}

pub(crate) fn view(state: &mut HostState) -> WorkerView<'_> {
    WorkerView::new(&state.run, &state.worker, &state.recorder)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run() -> RunCtx {
        let worker = |name: &str, port: u16| {
            WorkerInfo {
            name: name.into(),
            data: json!({"name": name, "port": port, "url": format!("http://localhost:{port}"), "role": "x"})
                .as_object()
                .unwrap()
                .clone(),
            env: [("PORT".to_string(), port.to_string())].into(),
        }
        };
        let keys = crate::koii::WorkerKeys {
            staking: Some(crate::koii::Keypair::from_seed(&[1; 32])),
            main: None,
        };
        RunCtx {
            workers: vec![worker("worker1", 5000), worker("worker2", 5001)],
            keys: std::sync::Arc::new(crate::koii::Keyring::from_workers(
                [("worker1".to_string(), keys)].into(),
            )),
            ..RunCtx::empty()
        }
    }

    #[tokio::test]
    async fn sign_uses_the_workers_keypair_and_verify_opens_it() {
        let run = run();
        let rec = Recorder::quiet();
        let mut v = WorkerView::new(&run, "worker1", &rec);
        let public = v
            .public_key(None, KeyKind::Staking)
            .await
            .unwrap()
            .expect("worker1 has a staking key");
        assert_eq!(
            public,
            crate::koii::Keypair::from_seed(&[1; 32]).public_key()
        );
        let signature = v
            .sign(None, KeyKind::Staking, r#"{"b": 1e16, "a": "é"}"#.into())
            .await
            .unwrap()
            .expect("signs");
        let payload = v.verify(signature.clone(), public).await.unwrap();
        assert_eq!(
            payload.ok().as_deref(),
            Some(r#"{"a": "\u00e9", "b": 1e+16}"#)
        );

        let mut other = WorkerView::new(&run, "worker2", &rec);
        let no_key = other
            .sign(None, KeyKind::Staking, "{}".into())
            .await
            .unwrap();
        assert!(
            matches!(&no_key, Err(SigningError::NoKeypair(m)) if m.contains("worker `worker2` has no staking keypair")),
            "{no_key:?}"
        );
        assert_eq!(other.public_key(None, KeyKind::Main).await.unwrap(), None);
        let as_worker1 = other
            .sign(Some("worker1".into()), KeyKind::Staking, "{}".into())
            .await
            .unwrap();
        assert!(as_worker1.is_ok());
        let bad = other.sign(None, KeyKind::Main, "{".into()).await.unwrap();
        assert!(matches!(bad, Err(SigningError::NoKeypair(_))));
        let bad = v.sign(None, KeyKind::Staking, "{".into()).await.unwrap();
        assert!(
            matches!(bad, Err(SigningError::InvalidPayload(_))),
            "{bad:?}"
        );
        let wrong = crate::koii::Keypair::from_seed(&[2; 32]);
        let forged = v
            .verify(signature, wrong.public_key().to_string())
            .await
            .unwrap();
        assert!(
            matches!(forged, Err(SigningError::InvalidSignature(_))),
            "{forged:?}"
        );
    }

    #[tokio::test]
    async fn current_worker_is_the_default() {
        let run = run();
        let rec = Recorder::quiet();
        let mut v = WorkerView::new(&run, "worker2", &rec);
        assert_eq!(v.current().await.unwrap(), "worker2");
        assert_eq!(v.names().await.unwrap(), ["worker1", "worker2"]);
        assert_eq!(
            v.get(None, "port".into()).await.unwrap().as_deref(),
            Some("5001")
        );
        assert_eq!(
            v.get(Some("worker1".into()), "url".into())
                .await
                .unwrap()
                .as_deref(),
            Some("\"http://localhost:5000\"")
        );
        assert_eq!(
            v.env(None, "PORT".into()).await.unwrap().as_deref(),
            Some("5001")
        );
        assert_eq!(v.env(None, "HOME".into()).await.unwrap(), None);
        assert_eq!(
            v.get(Some("nobody".into()), "url".into()).await.unwrap(),
            None
        );
    }
}
