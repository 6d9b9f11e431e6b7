//! [`Keypair`]: one Solana-style keypair file — a JSON array of 64 bytes, the 32-byte
//! ed25519 seed then the public key — and what can be done with it without ever showing
//! the private half.
//!
//! Pure: imports only sibling koii modules. Start from [`Keypair::read`].

use std::fmt;
use std::path::Path;

use ed25519_dalek::SigningKey;
use serde_json::Value;

use super::signature::{self, SignatureError};

/// Bytes in a keypair file: the 32-byte seed, then the 32-byte public key.
pub const KEYPAIR_LEN: usize = 64;

/// Largest keypair file read: a real one is ~250 bytes; this stops a variable that names
/// a big file by mistake from being read into memory.
pub const MAX_KEYPAIR_FILE_BYTES: u64 = crate::bounded_read::KEYPAIR_FILE_MAX;

/// Why a keypair file cannot be used. Messages never quote the file's content.
#[derive(Debug, thiserror::Error)]
pub enum KeypairError {
    /// The file could not be read.
    #[error("cannot read it: {0}")]
    Read(#[source] std::io::Error),
    /// The content is not a keypair; the text says what is wrong, not what is there.
    #[error("it is not a keypair: {0}")]
    Malformed(String),
}

/// An ed25519 keypair. `Debug` shows the public key only.
#[derive(Clone)]
pub struct Keypair {
    signing: SigningKey,
    public: String,
}

impl Keypair {
    /// The keypair of a 32-byte ed25519 seed.
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        let signing = SigningKey::from_bytes(seed);
        let public = signature::encode_public_key(&signing.verifying_key());
        Self { signing, public }
    }

    /// The keypair of the 64 bytes of a keypair file; the last 32 must be the public key
    /// of the first 32.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, KeypairError> {
        let bytes: &[u8; KEYPAIR_LEN] = bytes.try_into().map_err(|_| {
            KeypairError::Malformed(format!("{} bytes instead of {KEYPAIR_LEN}", bytes.len()))
        })?;
        let (seed, public) = bytes.split_at(32);
        let keypair = Self::from_seed(seed.try_into().expect("32 bytes"));
        if keypair.signing.verifying_key().as_bytes() != public {
            return Err(KeypairError::Malformed(
                "its last 32 bytes are not the public key of its first 32 (a corrupted or \
                 hand-edited file)"
                    .into(),
            ));
        }
        Ok(keypair)
    }

    /// Parses the text of a keypair file: a JSON array of 64 integers from 0 to 255.
    pub fn parse(text: &str) -> Result<Self, KeypairError> {
        // serde_json's messages may quote the input; they are replaced by our own.
        let value: Value = serde_json::from_str(text).map_err(|e| {
            KeypairError::Malformed(format!(
                "not JSON (line {}, column {})",
                e.line(),
                e.column()
            ))
        })?;
        let Value::Array(items) = value else {
            return Err(KeypairError::Malformed(
                "expected a JSON array of 64 numbers".into(),
            ));
        };
        if items.len() != KEYPAIR_LEN {
            return Err(KeypairError::Malformed(format!(
                "an array of {} elements instead of {KEYPAIR_LEN}",
                items.len()
            )));
        }
        let bytes = items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                item.as_u64()
                    .and_then(|n| u8::try_from(n).ok())
                    .ok_or_else(|| {
                        KeypairError::Malformed(format!(
                            "element {i} is not an integer from 0 to 255"
                        ))
                    })
            })
            .collect::<Result<Vec<u8>, _>>()?;
        Self::from_bytes(&bytes)
    }

    /// Reads and parses a keypair file.
    pub fn read(path: &Path) -> Result<Self, KeypairError> {
        // Bounded and regular files only: a FIFO or device named by a keypair variable is
        // refused without blocking or reading.
        let text = crate::bounded_read::read_text(path, MAX_KEYPAIR_FILE_BYTES, "keypair file")
            .map_err(|e| match e {
                crate::bounded_read::ReadError::NotUtf8 { .. } => {
                    KeypairError::Malformed("not UTF-8 text".into())
                }
                crate::bounded_read::ReadError::TooLarge { .. } => {
                    KeypairError::Malformed(format!("larger than {MAX_KEYPAIR_FILE_BYTES} bytes"))
                }
                other => KeypairError::Read(other.into_io_error()),
            })?;
        Self::parse(&text)
    }

    /// A new keypair from the operating system's random source.
    pub fn generate() -> Result<Self, KeypairError> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed)
            .map_err(|e| KeypairError::Read(std::io::Error::other(e.to_string())))?;
        Ok(Self::from_seed(&seed))
    }

    /// The text of this keypair's file, as `solana-keygen` writes it: a JSON array of the
    /// 64 bytes (seed, then public key). It holds the private key: write it 0600.
    pub fn file_text(&self) -> String {
        serde_json::to_string(&self.signing.to_keypair_bytes().to_vec())
            .expect("a byte list serialises")
    }

    /// The public key, base58 (Bitcoin alphabet), as Koii shows it.
    pub fn public_key(&self) -> &str {
        &self.public
    }

    /// Signs a payload (JSON text) exactly as the Python framework's `create_signature`.
    pub fn sign(&self, payload_json: &str) -> Result<String, SignatureError> {
        signature::sign(&self.signing, payload_json)
    }

    /// The ways the private key is commonly written (the 64 bytes in base58 as wallets
    /// export it, the file's array with and without spaces), for redaction.
    pub fn secret_spellings(&self) -> Vec<String> {
        let bytes = self.signing.to_keypair_bytes();
        let list = |separator: &str| {
            let items: Vec<String> = bytes.iter().map(u8::to_string).collect();
            format!("[{}]", items.join(separator))
        };
        vec![bs58::encode(bytes).into_string(), list(","), list(", ")]
    }
}

impl fmt::Debug for Keypair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keypair")
            .field("public_key", &self.public)
            .field("secret", &"***")
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A keypair file's content for `seed`.
    pub(crate) fn file_text(seed: u8) -> String {
        let keypair = SigningKey::from_bytes(&[seed; 32]).to_keypair_bytes();
        serde_json::to_string(&keypair.to_vec()).expect("serialises")
    }

    #[test]
    fn parses_a_solana_keypair_file() {
        let keypair = Keypair::parse(&file_text(1)).expect("parses");
        // ed25519 public key of the all-ones seed, base58.
        assert_eq!(
            keypair.public_key(),
            bs58::encode(SigningKey::from_bytes(&[1; 32]).verifying_key().as_bytes()).into_string()
        );
    }

    #[test]
    fn malformed_files_say_what_is_wrong_without_quoting_them() {
        let mut swapped: Vec<u8> = SigningKey::from_bytes(&[3; 32]).to_keypair_bytes().to_vec();
        swapped[40] ^= 1;
        let swapped = serde_json::to_string(&swapped).expect("json");
        let cases = [
            ("{\"secret\": \"hunter2hunter2\"}", "array"),
            ("hunter2hunter2", "not JSON"),
            ("[1, 2, 3]", "3 elements instead of 64"),
            (&swapped[..], "not the public key"),
        ];
        for (text, expected) in cases {
            let message = Keypair::parse(text).expect_err(text).to_string();
            assert!(message.contains(expected), "{message}");
            assert!(!message.contains("hunter2"), "{message}");
        }
        let mut big: Vec<u64> = vec![1; 64];
        big[5] = 256;
        let message = Keypair::parse(&serde_json::to_string(&big).expect("json"))
            .expect_err("256")
            .to_string();
        assert!(message.contains("element 5"), "{message}");
    }

    #[test]
    fn debug_never_shows_the_private_key() {
        let keypair = Keypair::parse(&file_text(9)).expect("parses");
        let debug = format!("{keypair:?}");
        for spelling in keypair.secret_spellings() {
            assert!(!debug.contains(&spelling), "{debug}");
        }
        assert!(debug.contains(keypair.public_key()), "{debug}");
    }
}
