//! The one way to read a file that comes from elsewhere: a regular file, at most a cap's
//! bytes, never more held in memory than the cap (plus one byte to tell "too large").
//!
//! Every input the program reads from disk (config.yaml, workers.json, `.env`, plans, locks,
//! recordings, journals, suite files, packages) goes through here, so that a 95 MiB
//! config.yaml, `/dev/zero` or a FIFO named where a file is expected is a clear error, not
//! gigabytes of memory or a run that hangs. A leaf: it imports nothing of the crate, so every
//! layer may use it.
//!
//! The file is opened with `O_NONBLOCK` and checked with `fstat` on the open descriptor
//! (not on the path, which could be swapped between the check and the open): opening a
//! FIFO that way never blocks, and anything but a regular file is refused before a byte is
//! read.

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::error::UserFacing;

/// One mebibyte, for writing caps as `16 * MIB`.
pub const MIB: u64 = 1024 * 1024;

// The caps of the inputs the CLI reads, one per kind, all in this one place (they are
// listed in docs/security.md, "Inputs the CLI reads"). Each is far above any real file of its
// kind and far below what would hurt the machine. Parsed YAML and JSON take up to ~100
// times their text (a 4 MiB config.yaml of one long list peaked at 435 MiB), so the
// hand-written text inputs are capped at 1 MiB: a thousand times a real one.

/// `config.yaml`: most are a few KiB, but a test may carry its data in it (the parity
/// test's 1.2 MB of signing vectors), so it gets more room than the other text inputs; a
/// 4 MiB document of one long list peaks at ~435 MiB parsed (debug build).
pub const CONFIG_FILE_MAX: u64 = 4 * MIB;
/// `workers.json` (or the file `workers_config` names).
pub const WORKERS_FILE_MAX: u64 = MIB;
/// Each `.env` layer (the project's and the tests').
pub const DOTENV_FILE_MAX: u64 = MIB;
/// A plan file (`plan.yaml`).
pub const PLAN_FILE_MAX: u64 = MIB;
/// A plan's lock (`plan.lock`).
pub const LOCK_FILE_MAX: u64 = MIB;
/// A Koii keypair file: a JSON array of 64 numbers is under 300 bytes.
pub const KEYPAIR_FILE_MAX: u64 = 16 * 1024;
/// The Docker client's `config.json` (registry credentials).
pub const DOCKER_CONFIG_MAX: u64 = MIB;
/// A step package (`.wasm`) read from disk.
pub const PACKAGE_FILE_MAX: u64 = 256 * MIB;
/// A MongoDB seed (`data_file`) when `limits.store_max_mb` is not set: the default store
/// budget, since a seed larger than the store could never be loaded into it.
pub const DATA_FILE_MAX: u64 = 256 * MIB;
/// One collection file of the embedded store, read back on resume: four times the
/// default store budget, so a store its own budget let grow always reloads.
pub const STORE_COLLECTION_FILE_MAX: u64 = 1024 * MIB;
/// Nesting depth of config.yaml, workers.json, plans, locks and data files (mappings and
/// lists within each other): serde_json's own default limit, and MongoDB's document
/// nesting limit is 100.
pub const MAX_NESTING: usize = 128;

/// Why a bounded read failed. Every variant names the file; [`ReadError::hint`] says what
/// to do.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// Nothing at that path.
    #[error("{}: file not found", path.display())]
    NotFound {
        /// The path asked for.
        path: PathBuf,
    },
    /// The path names something other than a regular file (a FIFO, a device, a socket, a
    /// directory).
    #[error("{}: is {kind}, not a regular file", path.display())]
    NotRegular {
        /// The path asked for.
        path: PathBuf,
        /// What it is instead: `a directory`, `a FIFO`, `a character device`…
        kind: &'static str,
    },
    /// The file holds more than the cap allows.
    #[error("{}: is larger than {} (the most a {what} may be)", path.display(), human(*limit))]
    TooLarge {
        /// The path asked for.
        path: PathBuf,
        /// What the file is, for the message (`config file`, `recording`…).
        what: &'static str,
        /// The cap in bytes.
        limit: u64,
    },
    /// The file is not UTF-8 where text was expected.
    #[error("{}: is not UTF-8 text (byte {valid_up_to} is not valid UTF-8)", path.display())]
    NotUtf8 {
        /// The path asked for.
        path: PathBuf,
        /// Bytes read before the first invalid one.
        valid_up_to: usize,
    },
    /// Any other I/O error (permissions, a read error).
    #[error("{}: {source}", path.display())]
    Io {
        /// The path asked for.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
}

impl ReadError {
    /// The reason alone, without the path, for messages that name the file already.
    pub fn reason(&self) -> String {
        match self {
            ReadError::NotFound { .. } => "file not found".to_string(),
            ReadError::NotRegular { kind, .. } => format!("is {kind}, not a regular file"),
            ReadError::TooLarge { what, limit, .. } => {
                format!(
                    "is larger than {} (the most a {what} may be)",
                    human(*limit)
                )
            }
            ReadError::NotUtf8 { valid_up_to, .. } => {
                format!("is not UTF-8 text (byte {valid_up_to} is not valid UTF-8)")
            }
            ReadError::Io { source, .. } => source.to_string(),
        }
    }

    /// The error as an [`io::Error`] whose message is [`Self::reason`] and its hint, for
    /// callers whose error types hold an `io::Error` next to the path. A missing file keeps
    /// [`io::ErrorKind::NotFound`], so "absent" checks still work.
    pub fn into_io_error(self) -> io::Error {
        let kind = match &self {
            ReadError::NotFound { .. } => io::ErrorKind::NotFound,
            ReadError::Io { source, .. } => source.kind(),
            ReadError::TooLarge { .. } => io::ErrorKind::FileTooLarge,
            ReadError::NotUtf8 { .. } => io::ErrorKind::InvalidData,
            ReadError::NotRegular { .. } => io::ErrorKind::InvalidInput,
        };
        match self {
            ReadError::Io { source, .. } => return source,
            // The operating system's own words, as an unbounded read would have said.
            ReadError::NotFound { .. } => return io::Error::from_raw_os_error(nix::libc::ENOENT),
            _ => {}
        }
        io::Error::new(
            kind,
            format!("{} ({})", self.reason(), self.hint().unwrap_or_default()),
        )
    }

    /// True when nothing was at the path (callers with an optional file treat it as absent).
    pub fn is_not_found(&self) -> bool {
        matches!(self, ReadError::NotFound { .. })
    }
}

impl UserFacing for ReadError {
    fn hint(&self) -> Option<String> {
        let hint: &str = match self {
            ReadError::NotFound { .. } => "check the path",
            ReadError::NotRegular { .. } => "name a regular file",
            ReadError::TooLarge { .. } => {
                "this file is far larger than any real one of its kind; check that it is the right file"
            }
            ReadError::NotUtf8 { .. } => "save the file as UTF-8",
            ReadError::Io { .. } => "check the file's permissions",
        };
        Some(hint.to_owned())
    }
}

/// The bytes of the regular file at `path`, refused past `limit` bytes. `what` names the
/// kind of file in the "too large" message.
pub fn read_bytes(path: &Path, limit: u64, what: &'static str) -> Result<Vec<u8>, ReadError> {
    let file = open_regular(path)?;
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    if len > limit {
        return Err(ReadError::TooLarge {
            path: path.to_path_buf(),
            what,
            limit,
        });
    }
    // The length from fstat is a hint only: the file may grow while it is read, so the read
    // itself is capped at one byte past the limit.
    let mut bytes = Vec::with_capacity(len as usize);
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|source| io_error(path, source))?;
    if bytes.len() as u64 > limit {
        return Err(ReadError::TooLarge {
            path: path.to_path_buf(),
            what,
            limit,
        });
    }
    Ok(bytes)
}

/// The UTF-8 text of the regular file at `path`, refused past `limit` bytes.
pub fn read_text(path: &Path, limit: u64, what: &'static str) -> Result<String, ReadError> {
    let bytes = read_bytes(path, limit, what)?;
    String::from_utf8(bytes).map_err(|e| ReadError::NotUtf8 {
        path: path.to_path_buf(),
        valid_up_to: e.utf8_error().valid_up_to(),
    })
}

/// Like [`read_text`], with `Ok(None)` when nothing is at `path`.
pub fn read_text_if_exists(
    path: &Path,
    limit: u64,
    what: &'static str,
) -> Result<Option<String>, ReadError> {
    match read_text(path, limit, what) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

/// Like [`read_bytes`], with `Ok(None)` when nothing is at `path`.
pub fn read_bytes_if_exists(
    path: &Path,
    limit: u64,
    what: &'static str,
) -> Result<Option<Vec<u8>>, ReadError> {
    match read_bytes(path, limit, what) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

/// `path` opened for reading, refused unless it is a regular file. Opening never blocks
/// (`O_NONBLOCK`), so a FIFO is refused instead of waiting for a writer; regular files
/// ignore the flag, so reads from the returned file behave as usual.
pub fn open_regular(path: &Path) -> Result<File, ReadError> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NONBLOCK)
        .open(path)
        .map_err(|source| io_error(path, source))?;
    let file_type = file
        .metadata()
        .map_err(|source| io_error(path, source))?
        .file_type();
    if file_type.is_file() {
        return Ok(file);
    }
    let kind = if file_type.is_dir() {
        "a directory"
    } else if file_type.is_fifo() {
        "a FIFO"
    } else if file_type.is_char_device() {
        "a character device"
    } else if file_type.is_block_device() {
        "a block device"
    } else if file_type.is_socket() {
        "a socket"
    } else {
        "not a file"
    };
    Err(ReadError::NotRegular {
        path: path.to_path_buf(),
        kind,
    })
}

fn io_error(path: &Path, source: io::Error) -> ReadError {
    if source.kind() == io::ErrorKind::NotFound {
        ReadError::NotFound {
            path: path.to_path_buf(),
        }
    } else {
        ReadError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// `bytes` for a message: `16 MiB`, `512 KiB`, `100 bytes`.
pub fn human(bytes: u64) -> String {
    if bytes >= MIB && bytes.is_multiple_of(MIB) {
        format!("{} MiB", bytes / MIB)
    } else if bytes >= 1024 && bytes.is_multiple_of(1024) {
        format!("{} KiB", bytes / 1024)
    } else {
        format!("{bytes} bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_regular_file_within_the_cap_is_read_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.yaml");
        std::fs::write(&path, "x: 1\n").unwrap();
        assert_eq!(read_text(&path, 5, "config file").unwrap(), "x: 1\n");
    }

    #[test]
    fn a_file_one_byte_past_the_cap_is_refused_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.json");
        std::fs::write(&path, "123456").unwrap();
        let err = read_bytes(&path, 5, "workers file").unwrap_err();
        assert!(matches!(err, ReadError::TooLarge { limit: 5, .. }), "{err}");
        let text = err.to_string();
        assert!(
            text.contains("big.json") && text.contains("workers file"),
            "{text}"
        );
    }

    #[test]
    fn a_device_is_refused_before_reading() {
        let err = read_bytes(Path::new("/dev/zero"), MIB, "recording").unwrap_err();
        assert!(
            matches!(
                err,
                ReadError::NotRegular {
                    kind: "a character device",
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn a_fifo_is_refused_without_waiting_for_a_writer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fifo");
        nix::unistd::mkfifo(&path, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        let err = read_bytes(&path, MIB, "plan file").unwrap_err();
        assert!(
            matches!(err, ReadError::NotRegular { kind: "a FIFO", .. }),
            "{err}"
        );
    }

    #[test]
    fn a_directory_and_a_missing_file_say_so() {
        let dir = tempfile::tempdir().unwrap();
        let err = read_text(dir.path(), MIB, "config file").unwrap_err();
        assert!(err.to_string().contains("is a directory"), "{err}");
        let missing = dir.path().join("nope");
        assert!(read_text(&missing, MIB, "x").unwrap_err().is_not_found());
        assert_eq!(read_text_if_exists(&missing, MIB, "x").unwrap(), None);
    }

    #[test]
    fn as_an_io_error_a_refusal_keeps_its_reason_and_a_missing_file_its_os_words() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big");
        std::fs::write(&path, "123456").unwrap();
        let err = read_bytes(&path, 5, "plan lock").unwrap_err();
        assert_eq!(
            err.reason(),
            "is larger than 5 bytes (the most a plan lock may be)"
        );
        let io = err.into_io_error();
        assert_eq!(io.kind(), io::ErrorKind::FileTooLarge);
        assert!(io.to_string().starts_with("is larger than 5 bytes"), "{io}");
        let missing = read_bytes(&dir.path().join("nope"), 5, "x").unwrap_err();
        let io = missing.into_io_error();
        assert_eq!(io.kind(), io::ErrorKind::NotFound);
        assert_eq!(io.to_string(), "No such file or directory (os error 2)");
    }

    #[test]
    fn a_sparse_file_far_past_the_cap_is_refused_from_its_size_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sparse");
        std::fs::File::create(&path)
            .unwrap()
            .set_len(400 * MIB)
            .unwrap();
        let err = read_bytes(&path, MIB, "config file").unwrap_err();
        assert!(matches!(err, ReadError::TooLarge { .. }), "{err}");
    }

    #[test]
    fn text_that_is_not_utf8_names_the_first_bad_byte() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad");
        std::fs::write(&path, b"ab\xffc").unwrap();
        let err = read_text(&path, MIB, "x").unwrap_err();
        assert!(
            matches!(err, ReadError::NotUtf8 { valid_up_to: 2, .. }),
            "{err}"
        );
    }
}
