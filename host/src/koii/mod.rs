//! Koii compatibility: workers' keypairs and payload signatures byte-identical to the
//! Python framework's `create_signature`, so servers written for it accept ours unchanged.
//! Private keys stay in the host; guests ask it to sign.
//!
//! `pyjson`, `signature` and `keypair` are pure (no other crate module); `keyring` reads
//! the keypairs a [`crate::config::TestConfig`] names. Imports only config; never workers,
//! plugin, runner or report. Start from [`Keyring::load`] and [`sign`].

pub mod keygen;
pub mod keypair;
pub mod keyring;
pub mod pyjson;
pub mod signature;

#[cfg(test)]
mod golden_tests;

pub use keypair::{KEYPAIR_LEN, Keypair, KeypairError};
pub use keyring::{KeyError, KeyErrorKind, KeyKind, Keyring, WorkerKeys};
pub use pyjson::{PyJsonError, python_dumps};
pub use signature::{
    MAX_PAYLOAD_BYTES, MAX_PAYLOAD_TEXT_BYTES, SignatureError, decode_public_key, sign, verify,
};
