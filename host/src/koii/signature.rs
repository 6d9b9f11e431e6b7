//! Koii payload signatures, exactly as `prometheus_test.utils.create_signature` makes them:
//! `base58(ed25519_signature || payload_bytes)`, where `payload_bytes` is Python's
//! `json.dumps(payload, sort_keys=True)` (see [`super::pyjson`]).
//!
//! Pure: imports only [`super::pyjson`]. Start from [`sign`] and [`verify`].

use ed25519_dalek::{SIGNATURE_LENGTH, Signature, Signer, SigningKey, Verifier, VerifyingKey};

use super::pyjson::{PyJsonError, python_dumps};

/// Largest payload (serialised) that is signed or opened: base58 coding takes time
/// quadratic in the length, so this bounds what one call can cost the host (a 64 KiB
/// payload codes in well under a second; Koii payloads are a few hundred bytes).
pub const MAX_PAYLOAD_BYTES: usize = 64 * 1024;

/// Longest payload *text* [`sign`] parses: sixteen times what can be signed, room for any
/// whitespace and escapes that serialising removes. Longer text is refused before it is
/// parsed, so signing a 60 MiB payload costs nothing but the refusal.
pub const MAX_PAYLOAD_TEXT_BYTES: usize = 16 * MAX_PAYLOAD_BYTES;

/// Longest signature text accepted by [`verify`]: a [`MAX_PAYLOAD_BYTES`] payload plus the
/// signature, in base58 (which needs at most 138 characters per 100 bytes).
pub const MAX_SIGNATURE_CHARS: usize = (MAX_PAYLOAD_BYTES + SIGNATURE_LENGTH) * 138 / 100 + 1;

/// Why a payload cannot be signed or a signature cannot be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The payload is not JSON that Python's `json.loads` accepts.
    #[error("the payload is not valid JSON: {0}")]
    InvalidPayload(#[from] PyJsonError),
    /// The serialised payload is longer than [`MAX_PAYLOAD_BYTES`].
    #[error(
        "the payload is {len} bytes once serialised; at most {MAX_PAYLOAD_BYTES} can be signed"
    )]
    PayloadTooLarge {
        /// Its length in bytes.
        len: usize,
    },
    /// The payload text is longer than [`MAX_PAYLOAD_TEXT_BYTES`]: refused unread.
    #[error(
        "the payload is {len} bytes of JSON text; at most {MAX_PAYLOAD_TEXT_BYTES} are read and \
         at most {MAX_PAYLOAD_BYTES} once serialised can be signed (sign a smaller payload, e.g. \
         a hash of the data)"
    )]
    PayloadTextTooLarge {
        /// Its length in bytes.
        len: usize,
    },
    /// The signature is not base58 (Bitcoin alphabet), too long, or too short to hold a
    /// signature.
    #[error("malformed signature: {0}")]
    Malformed(String),
    /// The public key is not 32 bytes of base58.
    #[error("malformed public key: {0}")]
    BadPublicKey(String),
    /// The signature was not made by the public key's private key over this payload.
    #[error("the signature does not match the public key {public_key}")]
    Mismatch {
        /// The public key tried.
        public_key: String,
    },
}

/// The payload bytes Koii signs: `json.dumps(json.loads(payload_json), sort_keys=True)`.
pub fn payload_bytes(payload_json: &str) -> Result<String, SignatureError> {
    if payload_json.len() > MAX_PAYLOAD_TEXT_BYTES {
        return Err(SignatureError::PayloadTextTooLarge {
            len: payload_json.len(),
        });
    }
    let bytes = python_dumps(payload_json)?;
    if bytes.len() > MAX_PAYLOAD_BYTES {
        return Err(SignatureError::PayloadTooLarge { len: bytes.len() });
    }
    Ok(bytes)
}

/// Signs the payload (JSON text) as `create_signature(signing_key, json.loads(payload))`.
pub fn sign(key: &SigningKey, payload_json: &str) -> Result<String, SignatureError> {
    let payload = payload_bytes(payload_json)?;
    let signature = key.sign(payload.as_bytes());
    let mut combined = Vec::with_capacity(SIGNATURE_LENGTH + payload.len());
    combined.extend_from_slice(&signature.to_bytes());
    combined.extend_from_slice(payload.as_bytes());
    Ok(bs58::encode(combined).into_string())
}

/// The base58 text of a public key.
pub fn encode_public_key(key: &VerifyingKey) -> String {
    bs58::encode(key.as_bytes()).into_string()
}

/// Parses a base58 public key.
pub fn decode_public_key(text: &str) -> Result<VerifyingKey, SignatureError> {
    /// 32 bytes take at most 44 base58 characters; base58 decoding is quadratic, so a
    /// longer text is refused undecoded.
    const MAX_PUBLIC_KEY_CHARS: usize = 44;
    let text = text.trim();
    if text.len() > MAX_PUBLIC_KEY_CHARS {
        return Err(SignatureError::BadPublicKey(format!(
            "{} characters; a public key has at most {MAX_PUBLIC_KEY_CHARS}",
            text.len()
        )));
    }
    let bytes = bs58::decode(text)
        .into_vec()
        .map_err(|e| SignatureError::BadPublicKey(e.to_string()))?;
    let bytes: [u8; 32] = bytes.try_into().map_err(|b: Vec<u8>| {
        SignatureError::BadPublicKey(format!("{} bytes instead of 32", b.len()))
    })?;
    VerifyingKey::from_bytes(&bytes)
        .map_err(|_| SignatureError::BadPublicKey("not a point of ed25519".into()))
}

/// Opens a signature made by `public_key` (base58) and returns the signed payload text, as
/// signed (Python's `json.dumps` output, so possibly `NaN` or `Infinity`).
pub fn verify(signature: &str, public_key: &str) -> Result<String, SignatureError> {
    let key = decode_public_key(public_key)?;
    let signature = signature.trim();
    if signature.len() > MAX_SIGNATURE_CHARS {
        return Err(SignatureError::Malformed(format!(
            "{} characters; at most {MAX_SIGNATURE_CHARS} are accepted",
            signature.len()
        )));
    }
    let combined = bs58::decode(signature)
        .into_vec()
        .map_err(|e| SignatureError::Malformed(e.to_string()))?;
    if combined.len() < SIGNATURE_LENGTH {
        return Err(SignatureError::Malformed(format!(
            "{} bytes, shorter than a {SIGNATURE_LENGTH}-byte signature",
            combined.len()
        )));
    }
    let (sig, payload) = combined.split_at(SIGNATURE_LENGTH);
    let sig = Signature::from_slice(sig).map_err(|e| SignatureError::Malformed(e.to_string()))?;
    key.verify(payload, &sig)
        .map_err(|_| SignatureError::Mismatch {
            public_key: public_key.trim().to_string(),
        })?;
    String::from_utf8(payload.to_vec())
        .map_err(|_| SignatureError::Malformed("the signed payload is not UTF-8 text".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> SigningKey {
        SigningKey::from_bytes(&[byte; 32])
    }

    #[test]
    fn sign_then_verify_returns_the_python_payload() {
        let k = key(7);
        let signature = sign(&k, r#"{"b": 1, "a": [1.0, "é"]}"#).expect("signs");
        let public = encode_public_key(&k.verifying_key());
        let payload = verify(&signature, &public).expect("verifies");
        assert_eq!(payload, r#"{"a": [1.0, "\u00e9"], "b": 1}"#);
    }

    #[test]
    fn verify_rejects_another_key_and_tampering() {
        let signature = sign(&key(1), r#"{"a": 1}"#).expect("signs");
        let other = encode_public_key(&key(2).verifying_key());
        assert!(matches!(
            verify(&signature, &other),
            Err(SignatureError::Mismatch { .. })
        ));
        let mut bytes = bs58::decode(&signature).into_vec().expect("base58");
        *bytes.last_mut().expect("non-empty") ^= 1;
        let tampered = bs58::encode(bytes).into_string();
        let own = encode_public_key(&key(1).verifying_key());
        assert!(matches!(
            verify(&tampered, &own),
            Err(SignatureError::Mismatch { .. })
        ));
        assert!(matches!(
            verify("0OIl", &own),
            Err(SignatureError::Malformed(_))
        ));
        assert!(matches!(
            verify("abc", &own),
            Err(SignatureError::Malformed(_))
        ));
        assert!(matches!(
            verify(&signature, "abc"),
            Err(SignatureError::BadPublicKey(_))
        ));
    }

    #[test]
    fn oversized_and_invalid_payloads_are_refused() {
        let big = format!("\"{}\"", "x".repeat(MAX_PAYLOAD_BYTES));
        assert!(matches!(
            sign(&key(1), &big),
            Err(SignatureError::PayloadTooLarge { .. })
        ));
        // A public key far longer than 32 bytes of base58 is refused undecoded.
        let err = decode_public_key(&"1".repeat(1 << 20)).unwrap_err();
        assert!(
            err.to_string().contains("a public key has at most 44"),
            "{err}"
        );
        // Text far past what can be signed is refused before it is parsed.
        let huge = format!("\"{}\"", "x".repeat(MAX_PAYLOAD_TEXT_BYTES));
        assert!(matches!(
            sign(&key(1), &huge),
            Err(SignatureError::PayloadTextTooLarge { .. })
        ));
        assert!(matches!(
            sign(&key(1), "{"),
            Err(SignatureError::InvalidPayload(_))
        ));
    }
}
