//! Koii payload signing with the workers' keypairs (WIT `worker.public-key`, `sign`,
//! `verify`). The host holds the private keys and signs; a step only ever sees public keys
//! and signatures. Start from [`sign`]; [`Ctx`](crate::Ctx) has the same calls.
//!
//! A signature is byte-identical to the Python framework's
//! `create_signature(signing_key, payload)`: `base58(ed25519_signature || payload_bytes)`
//! with `payload_bytes = json.dumps(payload, sort_keys=True)`, so servers that verify
//! Python-made signatures accept these unchanged.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::__private::bindings::prometheus::step::worker as wit;
use crate::{Error, codec};

/// Which of a worker's keypairs (workers.json `keypairs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyKind {
    /// `staking` (Python: `get_key("staking_public")` / `"staking_signing"`).
    Staking,
    /// `main`, also written `public` in older workers.json files.
    Main,
}

impl KeyKind {
    fn wit(self) -> wit::KeyKind {
        match self {
            KeyKind::Staking => wit::KeyKind::Staking,
            KeyKind::Main => wit::KeyKind::Main,
        }
    }

    fn name(self) -> &'static str {
        match self {
            KeyKind::Staking => "staking",
            KeyKind::Main => "main",
        }
    }
}

/// The base58 public key of a worker's keypair; `worker: None` is the step's worker.
/// `None` when the worker is unknown or has no keypair of that kind.
pub fn public_key(worker: Option<&str>, kind: KeyKind) -> Option<String> {
    wit::public_key(worker, kind.wit())
}

/// Signs `payload` with the step's worker's keypair of `kind`; see [`sign_as`].
pub fn sign<T: Serialize + ?Sized>(kind: KeyKind, payload: &T) -> Result<String, Error> {
    sign_as(None, kind, payload)
}

/// Signs `payload` (any serialisable value, normally an object) with a worker's keypair of
/// `kind`, exactly as Python's `create_signature`; `worker: None` is the step's worker.
pub fn sign_as<T: Serialize + ?Sized>(
    worker: Option<&str>,
    kind: KeyKind,
    payload: &T,
) -> Result<String, Error> {
    let text = codec::encode(payload, &|| "the payload to sign".to_owned())?;
    wit::sign(worker, kind.wit(), &text).map_err(|e| {
        Error::msg(message(e)).context(format!("cannot sign with the {} key", kind.name()))
    })
}

/// Opens a signature made by `public_key` and decodes the signed payload into `T`; an
/// error when the signature is malformed or was not made by that key.
pub fn verify<T: DeserializeOwned>(signature: &str, public_key: &str) -> Result<T, Error> {
    let text = verify_text(signature, public_key)?;
    codec::decode(&text, &|| "the signed payload".to_owned())
}

/// Like [`verify`], returning the payload text exactly as it was signed (Python's
/// `json.dumps` output).
pub fn verify_text(signature: &str, public_key: &str) -> Result<String, Error> {
    wit::verify(signature, public_key)
        .map_err(|e| Error::msg(message(e)).context("signature rejected"))
}

fn message(error: wit::SigningError) -> String {
    match error {
        wit::SigningError::NoKeypair(m)
        | wit::SigningError::InvalidPayload(m)
        | wit::SigningError::InvalidSignature(m) => m,
    }
}
