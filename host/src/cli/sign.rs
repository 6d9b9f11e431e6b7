//! `prometheus-wasm sign` and `verify`: Koii payload signatures from the command line, the
//! same bytes a step's `sign` produces, for debugging a server that rejects one.

use std::io::Read;
use std::path::PathBuf;

use anyhow::anyhow;
use clap::Args;

use crate::cli::{EXIT_PASSED, UserError};
use crate::koii::{self, Keypair, SignatureError};
use crate::report::sanitize::{sanitize_line, sanitize_text};

/// Options of `sign`.
#[derive(Debug, Args)]
pub struct SignArgs {
    /// Keypair file: a JSON array of 64 bytes (seed, then public key), as solana-keygen writes.
    #[arg(long, value_name = "FILE")]
    pub keypair: PathBuf,

    /// The payload as JSON text, or `-` to read it from stdin.
    #[arg(value_name = "PAYLOAD_JSON", allow_hyphen_values = true)]
    pub payload: String,
}

/// Options of `verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The signature (base58), or `-` to read it from stdin.
    pub signature: String,

    /// The signer's public key (base58).
    pub public_key: String,
}

fn text_or_stdin(arg: &str, what: &str) -> Result<String, UserError> {
    if arg != "-" {
        return Ok(arg.to_string());
    }
    // Bounded like every input: past the most a payload may be, the text is refused, not
    // read whole (`cat /dev/zero | prometheus-wasm sign … -`).
    let limit = crate::koii::MAX_PAYLOAD_TEXT_BYTES as u64;
    let mut text = String::new();
    std::io::stdin()
        .take(limit + 1)
        .read_to_string(&mut text)
        .map_err(|e| UserError::usage(anyhow!("cannot read the {what} from stdin: {e}"), None))?;
    if text.len() as u64 > limit {
        return Err(UserError::usage(
            anyhow!("the {what} on stdin is larger than {limit} bytes, the most it may be"),
            None,
        ));
    }
    Ok(text)
}

/// Prints the signature of the payload (stdout) and the signer's public key (stderr).
pub fn sign(args: SignArgs) -> Result<u8, UserError> {
    let keypair = Keypair::read(&args.keypair).map_err(|e| {
        UserError::usage(
            anyhow!("keypair file {}: {e}", args.keypair.display()),
            Some("a keypair file is a JSON array of 64 numbers: the 32-byte ed25519 seed, then its public key".into()),
        )
    })?;
    let payload = text_or_stdin(&args.payload, "payload")?;
    let signature = keypair.sign(&payload).map_err(|e| {
        UserError::usage(
            anyhow!(e),
            Some("pass the payload as JSON text, e.g. '{\"roundNumber\": 1}'".into()),
        )
    })?;
    // Computed here, but printed like everything else that reaches the terminal.
    eprintln!("public key: {}", sanitize_line(keypair.public_key()));
    println!("{}", sanitize_line(&signature));
    Ok(EXIT_PASSED)
}

/// Prints the signed payload when the signature is valid for the public key; fails (exit
/// 1) when it is not.
pub fn verify(args: VerifyArgs) -> Result<u8, UserError> {
    let signature = text_or_stdin(&args.signature, "signature")?;
    match koii::verify(&signature, &args.public_key) {
        Ok(payload) => {
            // The payload is whatever the signer signed: escaped, so it cannot drive the
            // terminal (OSC 52, cursor moves, bidi overrides).
            println!("{}", sanitize_text(&payload));
            Ok(EXIT_PASSED)
        }
        Err(e @ SignatureError::Mismatch { .. }) => Err(UserError::failed(
            anyhow!(e),
            Some("the payload was signed by another key, or changed after signing".into()),
        )),
        Err(e) => Err(UserError::usage(anyhow!(e), None)),
    }
}
