//! Least-recently-used eviction for the compiled-code cache ([`super::cache`]).
//!
//! An entry's modification time is its last use (the cache sets it on every hit). After a
//! write, [`evict`] deletes the oldest entries until the total fits the bound, never the
//! entry just written. Deleting is an unlink: a run that has an entry open or mapped keeps
//! its bytes, and a run that looks for it a moment later misses and recompiles. Leftover
//! temp files of killed writers are deleted once they are [`STALE_TEMP_AGE`] old. Names come
//! from listing the cache directory and removals are relative to it (a `cap_std` [`Dir`]),
//! so eviction never deletes outside it.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use cap_std::fs::Dir;

use crate::plugin::cache::ENTRY_SUFFIX;

/// Prefix of the temp files a write goes through before its rename.
pub(crate) const TEMP_PREFIX: &str = ".tmp-";

/// Age after which a temp file is taken for the leftover of a killed writer: far longer
/// than any write takes, so a concurrent run's write in progress is never deleted.
pub(crate) const STALE_TEMP_AGE: Duration = Duration::from_secs(60 * 60);

/// A cache entry as eviction sees it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Entry {
    /// The file's name in the cache directory.
    pub path: PathBuf,
    /// Its size in bytes.
    pub size: u64,
    /// When it was last used (written or loaded).
    pub used: SystemTime,
}

/// The entries to delete, least recently used first, so that the others fit in
/// `max_bytes`; `keep` is never chosen.
pub(crate) fn choose_victims(mut entries: Vec<Entry>, max_bytes: u64, keep: &Path) -> Vec<PathBuf> {
    let mut total: u64 = entries.iter().map(|e| e.size).sum();
    entries.sort_by_key(|e| e.used);
    let mut victims = Vec::new();
    for entry in entries {
        if total <= max_bytes {
            break;
        }
        if entry.path == keep {
            continue;
        }
        total = total.saturating_sub(entry.size);
        victims.push(entry.path);
    }
    victims
}

/// Deletes least recently used entries of the cache directory at `dir` until it fits
/// `max_bytes`, and stale temp files; `keep` names the entry just written (only its file
/// name counts). Opens the directory and goes on as [`evict_in`].
#[cfg(test)]
pub(crate) fn evict(dir: &Path, max_bytes: u64, keep: &Path) {
    if let Ok(dir) = Dir::open_ambient_dir(dir, cap_std::ambient_authority()) {
        evict_in(&dir, max_bytes, keep.file_name().map_or(keep, Path::new));
    }
}

/// Deletes least recently used entries of `dir` until it fits `max_bytes`, and stale temp
/// files; `keep` is the name of the entry just written. Every name comes from listing
/// `dir` and every removal is relative to it, so nothing outside the cache directory is
/// ever deleted. Best effort: what cannot be read or deleted (already gone, another run's)
/// is skipped.
pub(crate) fn evict_in(dir: &Dir, max_bytes: u64, keep: &Path) {
    let Ok(read) = dir.entries() else {
        return;
    };
    let now = SystemTime::now();
    let mut entries = Vec::new();
    for item in read.flatten() {
        let name = item.file_name();
        let text = name.to_string_lossy();
        let Ok(meta) = item.metadata() else { continue };
        let used = meta
            .modified()
            .map(|t| t.into_std())
            .unwrap_or(SystemTime::UNIX_EPOCH);
        if text.starts_with(TEMP_PREFIX) {
            if meta.is_file()
                && now
                    .duration_since(used)
                    .is_ok_and(|age| age > STALE_TEMP_AGE)
            {
                let _ = dir.remove_file(&name);
            }
            continue;
        }
        if meta.is_file() && text.ends_with(ENTRY_SUFFIX) {
            entries.push(Entry {
                path: PathBuf::from(name),
                size: meta.len(),
                used,
            });
        }
    }
    for victim in choose_victims(entries, max_bytes, keep) {
        match dir.remove_file(&victim) {
            Ok(()) => tracing::debug!("evicted cache entry {}", victim.display()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!("cannot evict cache entry {}: {e}", victim.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn entry(name: &str, size: u64, used: u64) -> Entry {
        Entry {
            path: PathBuf::from(name),
            size,
            used: at(used),
        }
    }

    #[test]
    fn least_recently_used_go_first_until_the_rest_fit() {
        let entries = vec![
            entry("new", 40, 30),
            entry("old", 40, 10),
            entry("mid", 40, 20),
        ];
        assert_eq!(
            choose_victims(entries.clone(), 80, Path::new("new")),
            [PathBuf::from("old")]
        );
        assert_eq!(
            choose_victims(entries.clone(), 40, Path::new("new")),
            [PathBuf::from("old"), PathBuf::from("mid")]
        );
        assert!(choose_victims(entries, 120, Path::new("new")).is_empty());
    }

    #[test]
    fn the_entry_just_written_survives_even_alone_over_the_bound() {
        let entries = vec![entry("big", 500, 1), entry("small", 10, 5)];
        assert_eq!(
            choose_victims(entries, 100, Path::new("big")),
            [PathBuf::from("small")]
        );
    }

    #[test]
    fn eviction_on_disk_keeps_recent_entries_and_other_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let write = |name: &str, used: u64| {
            let path = dir.path().join(name);
            std::fs::write(&path, vec![0u8; 100]).expect("write");
            let file = std::fs::File::options()
                .write(true)
                .open(&path)
                .expect("open");
            file.set_modified(at(used)).expect("set mtime");
            path
        };
        let a = write("a.cwasm", 1_000);
        let b = write("b.cwasm", 3_000);
        let c = write("c.cwasm", 2_000);
        let other = write("README", 1);
        let stale = write(".tmp-old", 1);
        let fresh_temp = dir.path().join(".tmp-now");
        std::fs::write(&fresh_temp, b"in progress").expect("write");
        evict(dir.path(), 200, &c);
        assert!(!a.exists(), "least recently used entry evicted");
        assert!(b.exists() && c.exists());
        assert!(other.exists(), "files that are not entries are left alone");
        assert!(!stale.exists(), "a killed writer's temp file is cleaned up");
        assert!(
            fresh_temp.exists(),
            "a concurrent write in progress is kept"
        );
    }
}
