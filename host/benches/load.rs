//! Cold and warm load time of step packages: what a run waits for before its first step.
//!
//! `cargo bench -p prometheus-wasm --bench load [-- PACKAGE.wasm ...]`. Without arguments it
//! measures the hello example in Rust, Python and JavaScript (build them first with
//! `scripts/build-components.sh` and `scripts/build-polyglot.sh`). Not part of the test
//! suite: timings depend on the machine, so they live here and in docs/writing-steps.md.
//!
//! - cold: an empty compiled-code cache: read, hash, compile, write the cache entry, link,
//!   instantiate and call `manifest`;
//! - warm: the same with the cache entry present (read, hash, deserialize, link, manifest);
//! - hash: the sha256 of the package alone, part of both.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use prometheus_wasm::plugin::{CodeCache, CodeSource, Package, StepEngine};
use sha2::{Digest, Sha256};

/// Warm loads measured per package; the median is reported.
const WARM_RUNS: usize = 7;

fn default_packages(root: &Path) -> Vec<PathBuf> {
    let target = root.join("target");
    vec![
        target.join("wasm32-wasip2/guest/hello_steps.wasm"),
        target.join("polyglot/hello_python.wasm"),
        target.join("polyglot/hello_js.wasm"),
    ]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

async fn load(engine: &Arc<StepEngine>, path: &Path, cache: &CodeCache) -> (Duration, CodeSource) {
    let started = Instant::now();
    let package = Package::load(engine.clone(), path, Some(cache), &Default::default())
        .await
        .unwrap_or_else(|e| panic!("cannot load {}: {e}", path.display()));
    (started.elapsed(), package.code_source())
}

#[tokio::main]
async fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("host/ has a parent")
        .to_path_buf();
    let args: Vec<PathBuf> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .map(PathBuf::from)
        .collect();
    let packages = if args.is_empty() {
        default_packages(&root)
    } else {
        args
    };
    let engine = Arc::new(StepEngine::new().expect("engine"));
    println!("| package | size | cold load | warm load (median of {WARM_RUNS}) | sha256 alone |");
    println!("|---|---|---|---|---|");
    for path in packages {
        let Ok(bytes) = std::fs::read(&path) else {
            eprintln!("skipping {}: not built", path.display());
            continue;
        };
        let hashed = Instant::now();
        let _ = Sha256::digest(&bytes);
        let hash_time = hashed.elapsed();
        let dir = tempfile::tempdir().expect("temp dir");
        let cache = CodeCache::new(dir.path());
        let (cold, source) = load(&engine, &path, &cache).await;
        assert_eq!(source, CodeSource::Compiled, "the first load compiles");
        let mut warm = Vec::with_capacity(WARM_RUNS);
        for _ in 0..WARM_RUNS {
            let (t, source) = load(&engine, &path, &cache).await;
            assert_eq!(source, CodeSource::Cached, "later loads hit the cache");
            warm.push(t);
        }
        println!(
            "| {} | {:.1} MB | {} | {} | {} |",
            path.file_name().map_or_else(
                || path.display().to_string(),
                |n| n.to_string_lossy().into_owned()
            ),
            bytes.len() as f64 / 1e6,
            ms(cold),
            ms(median(warm)),
            ms(hash_time)
        );
    }
}
