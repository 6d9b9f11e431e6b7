//! The compiled-code cache: a component compiled once is loaded in milliseconds by every
//! later run.
//!
//! Entries are keyed by the package's sha256 and a hash of the engine's compile settings
//! (which include the wasmtime version), so an upgrade or a settings change misses instead
//! of loading incompatible code. Writes are atomic (temp file + rename); an entry that
//! fails to load is recompiled and replaced, never trusted.
//!
//! The cache is bounded ([`DEFAULT_CACHE_MAX_BYTES`], [`CACHE_MAX_ENV`]): after a write,
//! the least recently used entries are deleted until the rest fit (see [`super::cache_evict`]).
//! Loading an entry sets its modification time, the LRU clock. Several runs may share
//! the directory: entries are only ever created by rename and deleted by unlink, never
//! rewritten in place, so a run that has opened (mapped) an entry keeps reading the same
//! bytes even if another run evicts or replaces it meanwhile.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::plugin::cache_evict::{TEMP_PREFIX, evict};

use wasmtime::Engine;
use wasmtime::component::Component;

/// Where compiled components are kept.
#[derive(Debug, Clone)]
pub struct CodeCache {
    dir: PathBuf,
    max_bytes: u64,
}

/// The environment variable that overrides the cache directory.
pub const CACHE_DIR_ENV: &str = "PROMETHEUS_WASM_CACHE_DIR";

/// The environment variable that overrides the cache's size bound, in MiB.
pub const CACHE_MAX_ENV: &str = "PROMETHEUS_WASM_CACHE_MAX_MIB";

/// Default bound on the cache's total size: 1 GiB keeps the compiled code of dozens of
/// Python/JS packages (20–60 MB each compiled) and thousands of Rust ones, while protecting
/// a developer's disk from a cache that grows with every rebuilt package.
pub const DEFAULT_CACHE_MAX_BYTES: u64 = 1 << 30;

/// Bytes in a MiB, for [`CACHE_MAX_ENV`] and `--cache-max-mib`.
pub const MIB: u64 = 1 << 20;

/// Suffix of cache entries; other files in the directory are left alone.
pub(crate) const ENTRY_SUFFIX: &str = ".cwasm";

impl CodeCache {
    /// A cache in `dir` (created on first write), bounded by [`DEFAULT_CACHE_MAX_BYTES`].
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            max_bytes: DEFAULT_CACHE_MAX_BYTES,
        }
    }

    /// The same cache bounded by `max_bytes` instead.
    pub fn with_max_bytes(mut self, max_bytes: u64) -> Self {
        self.max_bytes = max_bytes;
        self
    }

    /// The bound set by [`CACHE_MAX_ENV`] (MiB), if it is set to a whole number.
    pub fn max_bytes_from_env() -> Option<u64> {
        std::env::var(CACHE_MAX_ENV)
            .ok()?
            .trim()
            .parse::<u64>()
            .ok()
            .map(|mib| mib.saturating_mul(MIB))
    }

    /// The size bound in bytes.
    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    /// The default location: `$PROMETHEUS_WASM_CACHE_DIR`, else `$XDG_CACHE_HOME/prometheus-wasm`,
    /// else `~/.cache/prometheus-wasm`; `None` when no home is known.
    pub fn default_dir() -> Option<PathBuf> {
        if let Some(dir) = std::env::var_os(CACHE_DIR_ENV) {
            return Some(PathBuf::from(dir));
        }
        if let Some(xdg) = std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
            return Some(PathBuf::from(xdg).join("prometheus-wasm"));
        }
        std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache").join("prometheus-wasm"))
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn entry(&self, engine: &Engine, sha256: &str) -> PathBuf {
        let mut hasher = DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        env!("CARGO_PKG_VERSION").hash(&mut hasher);
        self.dir
            .join(format!("{sha256}-{:016x}{ENTRY_SUFFIX}", hasher.finish()))
    }

    /// The cached compilation of the package with this hash, if present and loadable.
    /// A hit becomes the most recently used entry.
    pub fn load(&self, engine: &Engine, sha256: &str) -> Option<Component> {
        let path = self.entry(engine, sha256);
        // Opening first tells "absent" (or just evicted by another run) from "unusable".
        let file = std::fs::File::open(&path).ok()?;
        // SAFETY: the file is one this cache wrote with `Component::serialize` for an
        // engine with the same compile settings (the key says so); wasmtime still checks
        // its header and rejects incompatible or truncated artifacts with an error. Entries
        // are never modified in place (see the module docs), so the bytes cannot change
        // under the mapping.
        match unsafe { Component::deserialize_file(engine, &path) } {
            Ok(c) => {
                // The LRU clock; failing to set it only makes eviction less accurate.
                let _ = file.set_modified(SystemTime::now());
                Some(c)
            }
            Err(e) => {
                tracing::warn!("ignoring unusable cache entry {}: {e}", path.display());
                let _ = std::fs::remove_file(&path);
                None
            }
        }
    }

    /// Stores a compilation; failures only cost the next run a recompile, so they are
    /// logged, not returned.
    pub fn store(&self, engine: &Engine, sha256: &str, component: &Component) {
        let path = self.entry(engine, sha256);
        let result = (|| -> Result<(), String> {
            let bytes = component.serialize().map_err(|e| e.to_string())?;
            std::fs::create_dir_all(&self.dir).map_err(|e| e.to_string())?;
            let mut tmp = tempfile::Builder::new()
                .prefix(TEMP_PREFIX)
                .tempfile_in(&self.dir)
                .map_err(|e| e.to_string())?;
            std::io::Write::write_all(&mut tmp, &bytes).map_err(|e| e.to_string())?;
            tmp.persist(&path).map_err(|e| e.to_string())?;
            Ok(())
        })();
        if let Err(e) = result {
            tracing::warn!("cannot write cache entry {}: {e}", path.display());
            return;
        }
        evict(&self.dir, self.max_bytes, &path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::engine::StepEngine;

    #[test]
    fn code_compiled_with_and_without_fuel_never_share_an_entry() {
        let cache = CodeCache::new("/nonexistent");
        let plain = StepEngine::with_settings(true, false).expect("engine");
        let fuel = StepEngine::with_settings(true, true).expect("engine");
        assert_ne!(
            cache.entry(plain.engine(), "abc"),
            cache.entry(fuel.engine(), "abc")
        );
        let again = StepEngine::with_settings(true, false).expect("engine");
        assert_eq!(
            cache.entry(plain.engine(), "abc"),
            cache.entry(again.engine(), "abc")
        );
    }
}
