//! Where a recorded step's package is: `--package`, else the bytes whose sha256 the
//! recording names — at the recorded path, beside the recording, in the code cache's copy
//! of what it compiled, or in the package store. Every path is only read (regular files
//! only, bounded, a FIFO or a device refused without waiting), never written or deleted.

use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::bounded_read;
use crate::error::UserError;
use crate::fetch::{MAX_PACKAGE_BYTES, PackageStore, sha256_hex};
use crate::plugin::CodeCache;
use crate::plugin::record::StepRecording;

use super::text::{MESSAGE_MAX_BYTES, NAME_MAX_BYTES, bounded_line};

/// `.wasm` files beside the recording that are hashed to find the recorded package.
const BESIDE_MAX_FILES: usize = 64;

/// Where the package's bytes are.
pub(super) enum Found {
    /// A file: `--package` (no pin) or one whose sha256 is the recorded one (pinned, so
    /// the bytes loaded are checked again, not the ones hashed while searching).
    File {
        /// The file.
        path: PathBuf,
        /// The recorded sha256 the bytes must have.
        pin: Option<String>,
    },
    /// Bytes kept by this program (the code cache's copy of what it compiled, or the
    /// package store), already checked against the recorded sha256.
    Bytes {
        /// The package bytes.
        bytes: Vec<u8>,
        /// How it is named in messages.
        named: String,
    },
}

/// The package to replay: `--package`, else the bytes with the recorded sha256 (already
/// checked to be 64 lowercase hex digits) at the recorded path, beside the recording, in
/// the code cache's copy of what it compiled, or in the package store. Every path here is
/// only read (regular files only, bounded, a FIFO or a device refused without waiting),
/// never written or deleted.
pub(super) fn find_package(
    recording: &Path,
    step: &StepRecording,
    explicit: Option<&Path>,
    cache: Option<&CodeCache>,
    engine: &wasmtime::Engine,
) -> Result<Found, UserError> {
    if let Some(path) = explicit {
        return Ok(Found::File {
            path: path.to_path_buf(),
            pin: None,
        });
    }
    let wanted = &step.package.sha256;
    let recorded_path = PathBuf::from(&step.package.path);
    let mut candidates = vec![recorded_path.clone()];
    let beside = recording.parent().unwrap_or(Path::new("."));
    if let Ok(entries) = std::fs::read_dir(beside) {
        let mut wasm: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "wasm"))
            .collect();
        wasm.sort();
        wasm.truncate(BESIDE_MAX_FILES);
        candidates.extend(wasm);
    }
    for candidate in &candidates {
        if sha256_of(candidate).as_deref() == Some(wanted.as_str()) {
            return Ok(Found::File {
                path: candidate.clone(),
                pin: Some(wanted.clone()),
            });
        }
    }
    if let Some(cache) = cache {
        if let Some(bytes) = cache.source(engine, wanted) {
            return Ok(Found::Bytes {
                bytes,
                named: format!("sha256 {wanted} from the code cache"),
            });
        }
        let stored = PackageStore::in_cache(cache.dir()).entry(wanted);
        if let Ok(Some(bytes)) =
            bounded_read::read_bytes_if_exists(&stored, MAX_PACKAGE_BYTES, "step package")
            && sha256_hex(&bytes) == *wanted
        {
            return Ok(Found::Bytes {
                bytes,
                named: format!("sha256 {wanted} from the package store"),
            });
        }
    }
    let shown_path = bounded_line(&recorded_path.display().to_string(), NAME_MAX_BYTES);
    let now = match sha256_of(&recorded_path) {
        Some(sha) => format!("{shown_path} now has sha256 {sha}"),
        None => format!("{shown_path} is not there (or not a regular file)"),
    };
    Err(UserError::usage(
        format!(
            "recording {} was made with package sha256 {wanted} ({shown_path}); {now}, and no .wasm file beside the recording has that sha256",
            bounded_line(&recording.display().to_string(), MESSAGE_MAX_BYTES),
        ),
        Some("pass --package FILE to replay another build of the package (e.g. a fix)".into()),
    ))
}

/// The sha256 of the regular file at `path`, streamed (never held whole); `None` when it
/// is missing, not a regular file, or larger than any package may be.
fn sha256_of(path: &Path) -> Option<String> {
    let file = bounded_read::open_regular(path).ok()?;
    let mut hasher = Sha256::new();
    let copied = std::io::copy(&mut file.take(MAX_PACKAGE_BYTES + 1), &mut hasher).ok()?;
    if copied > MAX_PACKAGE_BYTES {
        return None;
    }
    Some(
        hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect(),
    )
}
