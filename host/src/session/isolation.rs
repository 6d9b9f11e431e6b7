//! [`Session::isolated`](super::Session::isolated): a run of a test folder that does not
//! meet other runs of the same folder, so that `cargo test` can run several `#[test]`s on
//! one folder in parallel (its default).
//!
//! Two runs of one folder share the worker ports (`base_port` + index) and data_dir (the
//! state, the journals, the workers' databases, the embedded store). An isolated run gets
//! a data_dir of its own (a temporary directory, removed when the run ends) and a block of
//! free ports for its workers, both as `--set` overrides appended to the caller's, so the
//! run is exactly a run of the folder with two keys changed. What isolation cannot move:
//! a worker whose workers.json entry fixes its `port`, an external worker, a MongoDB
//! server's database (set `mongodb.database` per test for that), and the report paths the
//! caller chose.

use std::hash::{BuildHasher, Hasher};
use std::net::TcpListener;
use std::path::Path;

use crate::error::UserError;

/// Ports an isolated run's workers are given from: below Linux's ephemeral range
/// (32768–60999 by default), where outgoing connections and port-0 listeners take theirs,
/// and above the ports services usually sit on.
const PORTS: std::ops::Range<u32> = 20_000..32_000;

/// Blocks tried before giving up (each tried port is bound and released).
const ATTEMPTS: usize = 200;

/// What makes a run isolated; the data_dir lives as long as this.
#[derive(Debug)]
pub(crate) struct Isolation {
    data_dir: tempfile::TempDir,
    base_port: u16,
}

impl Isolation {
    /// Reads config.yaml at `config` with `sets` to count the workers, then picks a free
    /// block of ports for them and makes a fresh data_dir.
    pub(crate) fn new(config: &Path, sets: &[String]) -> Result<Self, UserError> {
        let loaded = super::prepare::load_config(config, sets)?;
        let workers = u16::try_from(loaded.workers.len().max(1)).map_err(|_| {
            UserError::usage(
                format!(
                    "{}: too many workers to isolate",
                    loaded.workers_config.display()
                ),
                None,
            )
        })?;
        let base_port = free_block(workers).ok_or_else(|| {
            UserError::usage(
                format!(
                    "isolated run: no {workers} consecutive free ports between {} and {}",
                    PORTS.start, PORTS.end
                ),
                Some("stop other runs, or run this one without isolation".into()),
            )
        })?;
        let data_dir = tempfile::Builder::new()
            .prefix("prometheus-wasm-isolated-")
            .tempdir()
            .map_err(|e| {
                UserError::usage(
                    format!("isolated run: cannot create a temporary data_dir: {e}"),
                    Some("check TMPDIR and its free space".into()),
                )
            })?;
        Ok(Self {
            data_dir,
            base_port,
        })
    }

    /// Keeps the data_dir after the run (a run that did not pass: its state, results
    /// journal and recordings are the evidence); returns where it is.
    pub(crate) fn keep(self) -> std::path::PathBuf {
        self.data_dir.keep()
    }

    /// The `--set` overrides that move the run: its data_dir and its base_port.
    pub(crate) fn sets(&self) -> Vec<String> {
        vec![
            format!("data_dir={}", self.data_dir.path().display()),
            format!("base_port={}", self.base_port),
        ]
    }
}

/// The first of `n` consecutive ports in [`PORTS`] that can all be bound now, starting
/// from a random place so parallel runs rarely try the same block.
fn free_block(n: u16) -> Option<u16> {
    let span = PORTS.len() as u32 - u32::from(n);
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    let start = hasher.finish();
    (0..ATTEMPTS as u64).find_map(|i| {
        // Blocks one apart in a random order: a golden-ratio step over the span.
        let offset = start.wrapping_add(i.wrapping_mul(0x9e37_79b9)) % u64::from(span);
        let base = u16::try_from(PORTS.start + offset as u32).ok()?;
        (0..n)
            .all(|i| TcpListener::bind(("127.0.0.1", base + i)).is_ok())
            .then_some(base)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_free_block_is_bindable_and_below_the_ephemeral_range() {
        let base = free_block(3).expect("a free block");
        assert!(PORTS.contains(&u32::from(base)));
        assert!(u32::from(base) + 3 <= PORTS.end);
        let held: Vec<_> = (0..3)
            .map(|i| TcpListener::bind(("127.0.0.1", base + i)).expect("free"))
            .collect();
        assert_eq!(held.len(), 3);
    }

    #[test]
    fn two_blocks_in_a_row_differ() {
        // Random starts: the same block twice in a row would mean a fixed start.
        let blocks: std::collections::BTreeSet<_> = (0..8).filter_map(|_| free_block(2)).collect();
        assert!(blocks.len() > 1, "{blocks:?}");
    }
}
