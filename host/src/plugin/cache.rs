//! The compiled-code cache: a component compiled once is loaded in milliseconds by every
//! later run.
//!
//! Loading compiled code is `unsafe` in wasmtime: the bytes are machine code that runs as
//! it is. So the cache only ever loads what this program compiled and wrote itself:
//!
//! - **addressed by a hash the program computes**: an entry's name is the sha256 of the
//!   package bytes in hand ([`PackageDigest::of`], never a string read from a file) and a
//!   hash of the engine's compile settings (which include the wasmtime version), so an
//!   upgrade or a settings change misses instead of loading incompatible code;
//! - **confined**: the directory is opened once as a `cap_std` [`Dir`] and every open,
//!   create, rename and remove is relative to it, so no name can reach outside it;
//! - **authenticated**: each entry carries an HMAC-SHA256 of its name and contents keyed
//!   by a per-cache secret ([`KEY_FILE`], 32 random bytes, mode 0600, created once). A
//!   planted, copied-in or altered entry does not verify and is recompiled (and replaced),
//!   never loaded. The check and the load use the same bytes in memory, so the file cannot
//!   change between them.
//!
//! An entry also holds the package bytes it was compiled from: `replay` of a recording
//! made before the package was rebuilt finds the *bytes* here (checked against the
//! recorded sha256) and loads them through the same path as `run`
//! ([`CodeCache::source`]).
//!
//! Writes are atomic (temp file + rename). The cache is bounded
//! ([`DEFAULT_CACHE_MAX_BYTES`], [`CACHE_MAX_ENV`]): after a write, the least recently used
//! entries are deleted until the rest fit (see `plugin/cache_evict.rs`). Loading an entry
//! sets its modification time, the LRU clock. Several runs may share the directory:
//! entries are only ever created by rename and deleted by unlink, never rewritten in place.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use cap_std::fs::{Dir, OpenOptions, OpenOptionsExt};
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

use crate::plugin::cache_evict::{TEMP_PREFIX, evict_in};

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

/// The per-cache secret that keys every entry's HMAC (32 random bytes, mode 0600).
pub const KEY_FILE: &str = ".cache-key";

/// Bytes of the secret.
const KEY_LEN: usize = 32;

/// The first bytes of an entry in this format; older entries (plain `Component::serialize`
/// output) do not start with it and are recompiled.
const MAGIC: &[u8; 8] = b"PWCC\x01\0\0\0";

/// Bytes of the HMAC-SHA256 tag after the magic.
const TAG_LEN: usize = 32;

/// The largest entry read back: far above any real package's compiled code (60 MB for a
/// Python package), and the most one load may hold in memory.
pub const ENTRY_MAX_BYTES: u64 = 1 << 30;

type HmacSha256 = Hmac<sha2_hmac::Sha256>;

/// The sha256 of package bytes, computed here from the bytes: the only key the cache
/// accepts, so no name read from a file (a recording, a plan) can choose an entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageDigest(String);

impl PackageDigest {
    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        Self(hex(&Sha256::digest(bytes)))
    }

    /// Lowercase hex, 64 digits.
    pub fn hex(&self) -> &str {
        &self.0
    }
}

/// True for 64 lowercase hex digits: the only form a recorded or pinned sha256 may take
/// before it is used to name anything.
pub fn is_sha256_hex(text: &str) -> bool {
    text.len() == 64
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// An authenticated entry as read: the package bytes and the compiled code.
struct EntryBytes {
    bytes: Vec<u8>,
    source: std::ops::Range<usize>,
    compiled: std::ops::Range<usize>,
}

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

    /// The entry's file name inside the directory: the digest is 64 hex digits by
    /// construction, so the name has no separator and no `..`.
    fn entry_name(engine: &Engine, sha256: &str) -> String {
        let mut hasher = DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        env!("CARGO_PKG_VERSION").hash(&mut hasher);
        format!("{sha256}-{:016x}{ENTRY_SUFFIX}", hasher.finish())
    }

    /// The directory, opened; `None` when it does not exist (nothing cached yet).
    fn open_dir(&self) -> Option<Dir> {
        Dir::open_ambient_dir(&self.dir, cap_std::ambient_authority()).ok()
    }

    /// The cached compilation of the package with this digest, if present, authentic and
    /// loadable. A hit becomes the most recently used entry.
    pub fn load(&self, engine: &Engine, digest: &PackageDigest) -> Option<Component> {
        let dir = self.open_dir()?;
        let key = read_key(&dir).ok()??;
        let name = Self::entry_name(engine, digest.hex());
        let (entry, file) = read_entry(&dir, &name, &key)?;
        // SAFETY: these exact bytes (in memory, so they cannot change after the check)
        // carry a valid HMAC of this entry's name and contents under this cache's secret,
        // which only `store` below computes, over the output of `Component::serialize` for
        // an engine with the same compile settings (the name says so). wasmtime still
        // checks the header and refuses incompatible or truncated artifacts.
        match unsafe { Component::deserialize(engine, &entry.bytes[entry.compiled]) } {
            Ok(c) => {
                // The LRU clock; failing to set it only makes eviction less accurate.
                let _ = file.set_modified(SystemTime::now());
                Some(c)
            }
            Err(e) => {
                tracing::warn!(
                    "ignoring unusable cache entry {}: {e}",
                    self.dir.join(&name).display()
                );
                None
            }
        }
    }

    /// The package bytes the cache compiled for `sha256` (hex, as a recording names it),
    /// if an authentic entry holds them and they hash to it; `None` for anything else,
    /// including a `sha256` that is not 64 lowercase hex digits. Only bytes come out: the
    /// caller hashes and compiles (or loads) them like any package file.
    pub fn source(&self, engine: &Engine, sha256: &str) -> Option<Vec<u8>> {
        if !is_sha256_hex(sha256) {
            return None;
        }
        let dir = self.open_dir()?;
        let key = read_key(&dir).ok()??;
        let name = Self::entry_name(engine, sha256);
        let (entry, _) = read_entry(&dir, &name, &key)?;
        let source = entry.bytes[entry.source].to_vec();
        (PackageDigest::of(&source).hex() == sha256).then_some(source)
    }

    /// Stores a compilation of `source` (whose digest is `digest`); failures only cost the
    /// next run a recompile, so they are logged, not returned.
    pub fn store(
        &self,
        engine: &Engine,
        digest: &PackageDigest,
        source: &[u8],
        component: &Component,
    ) {
        let name = Self::entry_name(engine, digest.hex());
        let result = (|| -> Result<Dir, String> {
            let compiled = component.serialize().map_err(|e| e.to_string())?;
            std::fs::create_dir_all(&self.dir).map_err(|e| e.to_string())?;
            let dir = self.open_dir().ok_or("cannot open the directory")?;
            let key = create_key(&dir).map_err(|e| format!("cache key: {e}"))?;
            let mut body = Vec::with_capacity(8 + source.len() + compiled.len());
            body.extend_from_slice(&(source.len() as u64).to_le_bytes());
            body.extend_from_slice(source);
            body.extend_from_slice(&compiled);
            let tag = tag(&key, &name, &body);
            write_atomic(&dir, &name, &[MAGIC.as_slice(), &tag, &body])
                .map_err(|e| e.to_string())?;
            Ok(dir)
        })();
        match result {
            Ok(dir) => evict_in(&dir, self.max_bytes, Path::new(&name)),
            Err(e) => tracing::warn!(
                "cannot write cache entry {}: {e}",
                self.dir.join(&name).display()
            ),
        }
    }
}

/// HMAC-SHA256 of an entry's name and body under `key`: the name is covered so that an
/// authentic entry cannot be renamed to stand for another package.
fn tag(key: &[u8; KEY_LEN], name: &str, body: &[u8]) -> [u8; TAG_LEN] {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(name.as_bytes());
    mac.update(&[0]);
    mac.update(body);
    mac.finalize().into_bytes().into()
}

/// Opens `name` in `dir` without blocking and without following it anywhere but inside
/// `dir`, refusing anything but a regular file.
fn open_regular_in(dir: &Dir, name: &str) -> std::io::Result<std::fs::File> {
    let mut options = OpenOptions::new();
    options.read(true).custom_flags(nix::libc::O_NONBLOCK);
    let file = dir.open_with(name, &options)?.into_std();
    if !file.metadata()?.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    Ok(file)
}

/// The entry `name`, read whole (at most [`ENTRY_MAX_BYTES`]) and verified; `None` when
/// absent, unreadable, of another format or not authentic (a planted or altered file).
fn read_entry(dir: &Dir, name: &str, key: &[u8; KEY_LEN]) -> Option<(EntryBytes, std::fs::File)> {
    let file = open_regular_in(dir, name).ok()?;
    let len = file.metadata().ok()?.len();
    if len > ENTRY_MAX_BYTES {
        return None;
    }
    let mut bytes = Vec::with_capacity(len as usize);
    (&file)
        .take(ENTRY_MAX_BYTES + 1)
        .read_to_end(&mut bytes)
        .ok()?;
    let header = MAGIC.len() + TAG_LEN;
    if bytes.len() < header + 8 || &bytes[..MAGIC.len()] != MAGIC {
        tracing::debug!("cache entry {name} is of another format; recompiling");
        return None;
    }
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(name.as_bytes());
    mac.update(&[0]);
    mac.update(&bytes[header..]);
    if mac.verify_slice(&bytes[MAGIC.len()..header]).is_err() {
        tracing::warn!("cache entry {name} is not one this cache wrote; recompiling");
        return None;
    }
    let source_len = u64::from_le_bytes(bytes[header..header + 8].try_into().ok()?);
    let source_start = header + 8;
    let source_end = source_start.checked_add(usize::try_from(source_len).ok()?)?;
    if source_end > bytes.len() {
        return None;
    }
    let compiled = source_end..bytes.len();
    Some((
        EntryBytes {
            bytes,
            source: source_start..source_end,
            compiled,
        },
        file,
    ))
}

/// The cache's secret; `Ok(None)` when there is none yet. A key file that is not a
/// regular file of exactly [`KEY_LEN`] bytes, private to its owner and owned by the cache
/// directory's owner, is not used.
fn read_key(dir: &Dir) -> std::io::Result<Option<[u8; KEY_LEN]>> {
    use std::os::unix::fs::MetadataExt;
    let file = match open_regular_in(dir, KEY_FILE) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let meta = file.metadata()?;
    if meta.len() != KEY_LEN as u64
        || meta.mode() & 0o077 != 0
        || meta.uid() != cap_std::fs::MetadataExt::uid(&dir.dir_metadata()?)
    {
        return Err(std::io::Error::other(format!(
            "{KEY_FILE} is not a private {KEY_LEN}-byte file of this user; delete it to start a new cache"
        )));
    }
    let mut key = [0u8; KEY_LEN];
    (&file).read_exact(&mut key)?;
    Ok(Some(key))
}

/// The cache's secret, created (mode 0600) when there is none. Concurrent runs agree on
/// one: the new key is written to a temp file, then hard-linked to its name, which fails
/// when another run got there first (its key is then read).
fn create_key(dir: &Dir) -> std::io::Result<[u8; KEY_LEN]> {
    if let Some(key) = read_key(dir)? {
        return Ok(key);
    }
    let mut key = [0u8; KEY_LEN];
    getrandom::fill(&mut key).map_err(|e| std::io::Error::other(e.to_string()))?;
    let temp = temp_name()?;
    let mut options = OpenOptions::new();
    options.write(true).create_new(true).mode(0o600);
    let written = (|| {
        let mut file = dir.open_with(&temp, &options)?.into_std();
        file.write_all(&key)?;
        file.sync_all()?;
        dir.hard_link(&temp, dir, KEY_FILE)
    })();
    let _ = dir.remove_file(&temp);
    match written {
        Ok(()) => Ok(key),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            read_key(dir)?.ok_or_else(|| std::io::Error::other(format!("{KEY_FILE} vanished")))
        }
        Err(e) => Err(e),
    }
}

/// A fresh temp-file name inside the cache (cleaned up by eviction if a writer dies).
fn temp_name() -> std::io::Result<String> {
    let mut random = [0u8; 8];
    getrandom::fill(&mut random).map_err(|e| std::io::Error::other(e.to_string()))?;
    Ok(format!("{TEMP_PREFIX}{}", hex(&random)))
}

/// Writes `parts` to `name` in `dir` through a temp file and a rename, so readers see the
/// old entry or the whole new one.
fn write_atomic(dir: &Dir, name: &str, parts: &[&[u8]]) -> std::io::Result<()> {
    let temp = temp_name()?;
    let mut options = OpenOptions::new();
    options.write(true).create_new(true).mode(0o600);
    let result = (|| {
        let mut file = dir.open_with(&temp, &options)?.into_std();
        for part in parts {
            file.write_all(part)?;
        }
        dir.rename(&temp, dir, name)
    })();
    if result.is_err() {
        let _ = dir.remove_file(&temp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::engine::StepEngine;

    fn name(engine: &StepEngine, sha: &str) -> String {
        CodeCache::entry_name(engine.engine(), sha)
    }

    #[test]
    fn code_compiled_with_and_without_fuel_never_share_an_entry() {
        let plain = StepEngine::with_settings(true, false).expect("engine");
        let fuel = StepEngine::with_settings(true, true).expect("engine");
        assert_ne!(name(&plain, "abc"), name(&fuel, "abc"));
        let again = StepEngine::with_settings(true, false).expect("engine");
        assert_eq!(name(&plain, "abc"), name(&again, "abc"));
    }

    #[test]
    fn only_64_lowercase_hex_digits_are_a_sha256() {
        let good = "a".repeat(64);
        assert!(is_sha256_hex(&good));
        for bad in [
            "A".repeat(64),
            "a".repeat(63),
            "a".repeat(65),
            format!("../{}", "a".repeat(61)),
            "/tmp/x/payload".to_string(),
            String::new(),
        ] {
            assert!(!is_sha256_hex(&bad), "{bad}");
        }
    }

    #[test]
    fn the_key_is_created_once_private_and_reused() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let dir = Dir::open_ambient_dir(tmp.path(), cap_std::ambient_authority()).unwrap();
        assert!(read_key(&dir).unwrap().is_none());
        let key = create_key(&dir).unwrap();
        assert_eq!(create_key(&dir).unwrap(), key, "created once");
        let mode = std::fs::metadata(tmp.path().join(KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        // A key others can read is not used.
        std::fs::set_permissions(
            tmp.path().join(KEY_FILE),
            std::fs::Permissions::from_mode(0o644),
        )
        .unwrap();
        assert!(read_key(&dir).is_err());
    }

    #[test]
    fn an_entry_is_authentic_only_under_its_own_name_and_key() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = Dir::open_ambient_dir(tmp.path(), cap_std::ambient_authority()).unwrap();
        let key = create_key(&dir).unwrap();
        let body = [3u64.to_le_bytes().as_slice(), b"src", b"code"].concat();
        let t = tag(&key, "a.cwasm", &body);
        write_atomic(&dir, "a.cwasm", &[MAGIC, &t, &body]).unwrap();
        let (entry, _) = read_entry(&dir, "a.cwasm", &key).expect("authentic");
        assert_eq!(&entry.bytes[entry.source], b"src");
        assert_eq!(&entry.bytes[entry.compiled], b"code");
        // Renamed to stand for another package: refused.
        std::fs::copy(tmp.path().join("a.cwasm"), tmp.path().join("b.cwasm")).unwrap();
        assert!(read_entry(&dir, "b.cwasm", &key).is_none());
        // Another key: refused.
        assert!(read_entry(&dir, "a.cwasm", &[9; KEY_LEN]).is_none());
        // One byte altered: refused.
        let mut bytes = std::fs::read(tmp.path().join("a.cwasm")).unwrap();
        *bytes.last_mut().unwrap() ^= 1;
        std::fs::write(tmp.path().join("a.cwasm"), bytes).unwrap();
        assert!(read_entry(&dir, "a.cwasm", &key).is_none());
    }
}
