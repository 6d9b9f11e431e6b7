//! Every vector of `tests/fixtures/koii-signatures/vectors.json` — payloads signed by the
//! Python reference (`generate.py` beside it) — is reproduced byte for byte.

use std::path::Path;

use serde::Deserialize;

use super::*;

/// Fewest vectors the file must hold, so that a truncated file cannot pass quietly.
const MIN_VECTORS: usize = 1000;

#[derive(Deserialize)]
struct Vectors {
    keypairs: Vec<Vec<u8>>,
    public_keys: Vec<String>,
    vectors: Vec<Vector>,
}

#[derive(Deserialize)]
struct Vector {
    keypair: usize,
    payload: String,
    dumped: String,
    signature: String,
}

fn vectors() -> Vectors {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/koii-signatures/vectors.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("vectors.json parses")
}

#[test]
fn keypairs_load_to_the_reference_public_keys() {
    let vectors = vectors();
    assert_eq!(vectors.keypairs.len(), vectors.public_keys.len());
    for (bytes, public) in vectors.keypairs.iter().zip(&vectors.public_keys) {
        let text = serde_json::to_string(bytes).expect("json");
        assert_eq!(Keypair::parse(&text).expect("loads").public_key(), public);
    }
}

#[test]
fn every_reference_signature_is_reproduced_byte_for_byte() {
    let vectors = vectors();
    assert!(
        vectors.vectors.len() >= MIN_VECTORS,
        "{}",
        vectors.vectors.len()
    );
    let keypairs: Vec<Keypair> = vectors
        .keypairs
        .iter()
        .map(|bytes| Keypair::from_bytes(bytes).expect("keypair"))
        .collect();
    let mut failures = Vec::new();
    for (i, v) in vectors.vectors.iter().enumerate() {
        let keypair = &keypairs[v.keypair];
        match python_dumps(&v.payload) {
            Ok(dumped) if dumped == v.dumped => {}
            other => {
                failures.push(format!(
                    "#{i} dumps {:?}\n   input {:?}\n  python {:?}",
                    other, v.payload, v.dumped
                ));
                continue;
            }
        }
        match keypair.sign(&v.payload) {
            Ok(signature) if signature == v.signature => {}
            other => failures.push(format!("#{i} signature differs: {other:?}")),
        }
        match verify(&v.signature, keypair.public_key()) {
            Ok(payload) if payload == v.dumped => {}
            other => failures.push(format!("#{i} verify: {other:?}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} vectors differ:\n{}",
        failures.len(),
        vectors.vectors.len(),
        failures[..failures.len().min(10)].join("\n")
    );
}
