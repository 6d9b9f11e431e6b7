//! The compiled-code cache shared by runs: hits, misses, LRU eviction under a size bound,
//! and two runs using (and evicting from) one cache directory at the same time.

use std::path::Path;

use system_tests::{TestDir, wait_output};

/// A hello test whose plan uses two packages (hello and audit), so that the cache holds
/// two entries.
fn two_package_plan() -> TestDir {
    let t = TestDir::hello();
    std::fs::copy(
        system_tests::component("audit_steps"),
        t.tests().join("audit.wasm"),
    )
    .expect("copy");
    t.write(
        "plan.yaml",
        "packages:\n  hello:\n    path: steps.wasm\n  audit:\n    path: audit.wasm\n\
         steps:\n  - use: hello\n  - use: audit/audit-health\n    worker: worker2\n    params: {target: worker1}\n",
    );
    t
}

fn entries(cache: &Path) -> usize {
    std::fs::read_dir(cache)
        .map(|d| {
            d.flatten()
                .filter(|e| e.file_name().to_string_lossy().ends_with(".cwasm"))
                .count()
        })
        .unwrap_or(0)
}

#[test]
fn a_bounded_cache_evicts_the_least_recently_used_entry() {
    let t = two_package_plan();
    let cache = t.tests().parent().expect("root").join("cache");
    // A bound of 0 MiB keeps only the entry written last (never the one just written).
    let out = t.run(&["run", "tests/plan.yaml", "--cache-max-mib", "0"]);
    assert_eq!(out.code(), 0, "{out}");
    assert_eq!(out.stdout.matches("compiled in").count(), 2, "{out}");
    assert_eq!(entries(&cache), 1, "one entry evicted");
    // hello was evicted, audit (written last) is a hit; with room, both stay.
    let out = t.run(&["run", "tests/plan.yaml", "--reset"]);
    assert_eq!(out.code(), 0, "{out}");
    assert!(
        out.stdout
            .contains("package `hello`: tests/steps.wasm (5 steps, compiled in"),
        "{out}"
    );
    assert!(
        out.stdout
            .contains("package `audit`: tests/audit.wasm (2 steps, loaded from cache in"),
        "{out}"
    );
    assert_eq!(entries(&cache), 2);
    let out = t.run(&["run", "tests/plan.yaml", "--reset"]);
    assert_eq!(
        out.stdout.matches("loaded from cache in").count(),
        2,
        "{out}"
    );
}

#[test]
fn two_runs_sharing_one_cache_at_once_both_pass() {
    let shared = tempfile::tempdir().expect("cache dir");
    for bound in ["0", "1024"] {
        let runs: Vec<TestDir> = (0..2).map(|_| two_package_plan()).collect();
        let children: Vec<_> = runs
            .iter()
            .map(|t| {
                let mut cmd = t.command(&["run", "tests/plan.yaml", "--cache-max-mib", bound]);
                cmd.env("PROMETHEUS_WASM_CACHE_DIR", shared.path());
                cmd.spawn().expect("spawn the runner")
            })
            .collect();
        for child in children {
            let out = wait_output(child);
            assert_eq!(out.code(), 0, "cache bound {bound} MiB:\n{out}");
        }
    }
    assert_eq!(entries(shared.path()), 2, "both entries kept under 1 GiB");
    let leftovers = std::fs::read_dir(shared.path())
        .expect("cache")
        .flatten()
        // Besides the entries, the cache holds its HMAC key (created once by the two runs
        // racing, one file, private): anything else would be a temp file left behind.
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            !name.ends_with(".cwasm") && name != ".cache-key"
        })
        .count();
    assert_eq!(leftovers, 0, "no temp files left behind");
    let key = std::fs::metadata(shared.path().join(".cache-key")).expect("the cache key");
    assert_eq!(key.len(), 32);
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&key.permissions()) & 0o777,
        0o600
    );
}
