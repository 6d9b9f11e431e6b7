//! The package store: fetched packages kept by their sha256 under the cache directory
//! (`<cache>/packages/sha256-<hex>.wasm`), so that a second run never touches the network.
//!
//! Safe to share between concurrent runs and CI jobs: an entry appears only by renaming a
//! fully written, synced temporary file of the same directory (a reader never sees a
//! partial file; two writers of one entry write the same bytes), and every read hashes the
//! bytes again: an entry that does not match its name (a torn disk, a hand edit) is
//! deleted and reported missing, so the caller fetches it again.

use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// Name of the store's directory under the cache directory.
const STORE_DIR: &str = "packages";

/// Prefix of temporary files; never a valid entry name.
const TEMP_PREFIX: &str = ".partial-";

/// Content-addressed package files.
#[derive(Debug, Clone)]
pub struct PackageStore {
    dir: PathBuf,
}

/// Hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl PackageStore {
    /// The store under the cache directory `cache_root`.
    pub fn in_cache(cache_root: &Path) -> Self {
        Self {
            dir: cache_root.join(STORE_DIR),
        }
    }

    /// The store's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the entry for `sha256` lives (whether or not it exists).
    pub fn entry(&self, sha256: &str) -> PathBuf {
        self.dir.join(format!("sha256-{sha256}.wasm"))
    }

    /// The bytes stored for `sha256`, verified. A corrupt entry is deleted and reads as
    /// missing.
    pub fn get(&self, sha256: &str) -> Option<Vec<u8>> {
        let path = self.entry(sha256);
        let bytes = std::fs::read(&path).ok()?;
        if sha256_hex(&bytes) == sha256 {
            return Some(bytes);
        }
        tracing::warn!("{}: corrupt package store entry, deleted", path.display());
        let _ = std::fs::remove_file(&path);
        None
    }

    /// Stores `bytes`, whose sha256 the caller computed, atomically.
    pub fn put(&self, sha256: &str, bytes: &[u8]) -> std::io::Result<PathBuf> {
        debug_assert_eq!(
            sha256_hex(bytes),
            sha256,
            "store entries are named by their hash"
        );
        std::fs::create_dir_all(&self.dir)?;
        let path = self.entry(sha256);
        // 0666 less the umask, as File::create gives: a teammate or a CI cache must read
        // the store (a temporary file's 0600 would follow the entry through the rename).
        let mut temp = tempfile::Builder::new()
            .prefix(TEMP_PREFIX)
            .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666))
            .tempfile_in(&self.dir)?;
        temp.write_all(bytes)?;
        temp.as_file().sync_all()?;
        temp.persist(&path).map_err(|e| e.error)?;
        Ok(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_and_a_corrupt_entry_is_deleted() {
        let root = tempfile::tempdir().unwrap();
        let store = PackageStore::in_cache(root.path());
        let sha = sha256_hex(b"component");
        assert_eq!(store.get(&sha), None);
        let path = store.put(&sha, b"component").unwrap();
        assert_eq!(store.get(&sha).as_deref(), Some(&b"component"[..]));
        std::fs::write(&path, b"c0mponent").unwrap();
        assert_eq!(store.get(&sha), None, "a corrupt entry reads as missing");
        assert!(!path.exists(), "and is deleted");
        let leftovers: Vec<_> = std::fs::read_dir(store.dir()).unwrap().collect();
        assert!(leftovers.is_empty(), "no temporary file is left");
    }

    #[test]
    fn concurrent_writers_of_one_entry_leave_one_whole_file() {
        let root = tempfile::tempdir().unwrap();
        let store = PackageStore::in_cache(root.path());
        let bytes = vec![7u8; 1 << 20];
        let sha = sha256_hex(&bytes);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| store.put(&sha, &bytes).unwrap());
                s.spawn(|| {
                    if let Some(read) = store.get(&sha) {
                        assert_eq!(read.len(), bytes.len(), "never a partial entry");
                    }
                });
            }
        });
        assert_eq!(store.get(&sha).map(|b| b.len()), Some(bytes.len()));
    }
}
