//! The compiled-code cache: a component compiled once is loaded in milliseconds by every
//! later run.
//!
//! Entries are keyed by the package's sha256 and a hash of the engine's compile settings
//! (which include the wasmtime version), so an upgrade or a settings change misses instead
//! of loading incompatible code. Writes are atomic (temp file + rename); an entry that
//! fails to load is recompiled and replaced, never trusted.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};

use wasmtime::Engine;
use wasmtime::component::Component;

/// Where compiled components are kept.
#[derive(Debug, Clone)]
pub struct CodeCache {
    dir: PathBuf,
}

/// The environment variable that overrides the cache directory.
pub const CACHE_DIR_ENV: &str = "PROMETHEUS_WASM_CACHE_DIR";

impl CodeCache {
    /// A cache in `dir` (created on first write).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
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
            .join(format!("{sha256}-{:016x}.cwasm", hasher.finish()))
    }

    /// The cached compilation of the package with this hash, if present and loadable.
    pub fn load(&self, engine: &Engine, sha256: &str) -> Option<Component> {
        let path = self.entry(engine, sha256);
        if !path.is_file() {
            return None;
        }
        // SAFETY: the file is one this cache wrote with `Component::serialize` for an
        // engine with the same compile settings (the key says so); wasmtime still checks
        // its header and rejects incompatible or truncated artifacts with an error.
        match unsafe { Component::deserialize_file(engine, &path) } {
            Ok(c) => Some(c),
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
            let mut tmp = tempfile::NamedTempFile::new_in(&self.dir).map_err(|e| e.to_string())?;
            std::io::Write::write_all(&mut tmp, &bytes).map_err(|e| e.to_string())?;
            tmp.persist(&path).map_err(|e| e.to_string())?;
            Ok(())
        })();
        if let Err(e) = result {
            tracing::warn!("cannot write cache entry {}: {e}", path.display());
        }
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
