//! Seeding throughput: the same documents imported by the runner's seeding
//! (`SeedPlan::seed`: `delete_many({})` then `insert_many`) on the embedded store and on a
//! SecantusDB server, and, on the same server in the same run, pymongo's `delete_many` +
//! `insert_many` of the same file as the reference; for 200 (a typical test's data),
//! 20 000 and 100 000 documents.
//!
//! `cargo bench -p prometheus-wasm --bench seed [-- DOCUMENTS...]` (default: 200 20000
//! 100000). Needs `.venv` with secantusdb and pymongo (`scripts/setup-venv.sh`). Not part
//! of the test suite: timings depend on the machine, so they live here and in
//! docs/mongodb.md and docs/performance.md.
//!
//! Each figure is the median of [`repeats`] seedings into the same collection (each one
//! empties it first, as a fresh run does). Parsing the file (`SeedPlan::load` here,
//! `json_util.loads` in Python) is reported apart: a run does it once, before connecting.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use prometheus_wasm::config;
use prometheus_wasm::store::mongo::seed::SeedPlan;
use prometheus_wasm::store::mongo::{self, Backend};

/// Documents in the generated data files, unless given as arguments.
const DEFAULT_DOCUMENTS: [usize; 3] = [200, 20_000, 100_000];
/// Seedings measured per backend; the median is reported (more for small files, whose
/// seedings take milliseconds).
fn repeats(documents: usize) -> usize {
    if documents <= 1_000 { 21 } else { 3 }
}

/// pymongo's side: parse the file with bson's Extended JSON reader, tag `taskId`, then time
/// `delete_many({})` + `insert_many` (ordered, the driver's default batching) `repeats` times.
/// Prints the parse time and the seeding times in seconds, one a line.
const PYMONGO: &str = r#"
import sys, time
from bson import json_util
from pymongo import MongoClient
uri, path, repeats = sys.argv[1], sys.argv[2], int(sys.argv[3])
t = time.perf_counter()
with open(path) as f:
    docs = json_util.loads(f.read())
for d in docs:
    d["taskId"] = "bench"
print(time.perf_counter() - t)
coll = MongoClient(uri)["seed_bench_pymongo"]["todos"]
for _ in range(repeats):
    batch = [dict(d) for d in docs]
    t = time.perf_counter()
    coll.delete_many({})
    coll.insert_many(batch)
    print(time.perf_counter() - t)
"#;

fn write_test(dir: &Path, documents: usize) {
    std::fs::create_dir_all(dir.join("data")).unwrap();
    let config = "task_id: bench\nmax_rounds: 1\ndata_dir: data\nworkers_config: workers.json\n\
                  mongodb:\n  database: seed_bench\n  collections:\n    todos:\n      \
                  data_file: todos.json\n";
    std::fs::write(dir.join("config.yaml"), config).unwrap();
    std::fs::write(
        dir.join("workers.json"),
        r#"{"worker1": {"command": ["true"]}}"#,
    )
    .unwrap();
    let docs: Vec<serde_json::Value> = (0..documents)
        .map(|i| {
            serde_json::json!({
                "order": i,
                "title": format!("todo number {i}"),
                "status": if i % 3 == 0 { "done" } else { "open" },
                "assignee": format!("worker{}", i % 4 + 1),
                "uuid": "PLACEHOLDER",
                "tags": ["bench", format!("t{}", i % 10)],
                "createdAt": {"$date": "2026-01-05T09:00:00Z"},
            })
        })
        .collect();
    std::fs::write(
        dir.join("data/todos.json"),
        serde_json::to_string(&docs).unwrap(),
    )
    .unwrap();
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

async fn time_seed(plan: &SeedPlan, backend: &Backend, repeats: usize) -> Duration {
    let db = mongo::open(backend, "seed_bench", usize::MAX)
        .await
        .expect("open the backend");
    let mut times = Vec::new();
    for _ in 0..repeats {
        let t = Instant::now();
        plan.seed(&*db).await.expect("seed");
        times.push(t.elapsed());
    }
    median(times)
}

fn pymongo(uri: &str, file: &Path, repeats: usize) -> (Duration, Duration) {
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python");
    let out = Command::new(python)
        .args(["-c", PYMONGO, uri])
        .arg(file)
        .arg(repeats.to_string())
        .output()
        .expect("run .venv/bin/python");
    assert!(
        out.status.success(),
        "pymongo failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let secs: Vec<Duration> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| Duration::from_secs_f64(l.trim().parse().expect("seconds")))
        .collect();
    (secs[0], median(secs[1..].to_vec()))
}

fn row(documents: usize, name: &str, d: Duration, reference: Duration) {
    println!(
        "| {documents} | {name} | {:.1} ms | {:.0} | {:.2} |",
        d.as_secs_f64() * 1000.0,
        documents as f64 / d.as_secs_f64(),
        reference.as_secs_f64() / d.as_secs_f64()
    );
}

#[tokio::main]
async fn main() {
    let mut sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .map(|a| a.parse().expect("DOCUMENTS is a number"))
        .collect();
    if sizes.is_empty() {
        sizes = DEFAULT_DOCUMENTS.to_vec();
    }
    let server = system_tests::secantus::Secantus::start();
    let mut rows = Vec::new();
    for documents in sizes {
        let repeats = repeats(documents);
        let dir = tempfile::tempdir().unwrap();
        write_test(dir.path(), documents);
        let config = config::load(&dir.path().join("config.yaml"), &Default::default())
            .expect("bench config loads");

        let t = Instant::now();
        let plan = SeedPlan::load(&config).expect("data file is valid");
        let load = t.elapsed();

        let embedded = time_seed(
            &plan,
            &Backend::Embedded {
                dir: dir.path().join("data/embedded-mongo"),
            },
            repeats,
        )
        .await;
        let remote = time_seed(
            &plan,
            &Backend::Remote {
                uri: server.uri.clone(),
                source: "bench",
            },
            repeats,
        )
        .await;
        let (py_load, py_seed) = pymongo(&server.uri, &dir.path().join("data/todos.json"), repeats);
        println!(
            "{documents} documents, median of {repeats} seedings (delete_many + insert_many); \
             parse + check the file: runner {:.1} ms, pymongo json_util {:.1} ms",
            load.as_secs_f64() * 1000.0,
            py_load.as_secs_f64() * 1000.0
        );
        rows.push((documents, py_seed, remote, embedded));
    }
    drop(server);

    println!();
    println!("| documents | seeding | time | documents/s | speed vs pymongo on SecantusDB |");
    println!("|---|---|---|---|---|");
    for (documents, py_seed, remote, embedded) in rows {
        row(
            documents,
            "pymongo insert_many, SecantusDB",
            py_seed,
            py_seed,
        );
        row(
            documents,
            "runner, remote backend, SecantusDB",
            remote,
            py_seed,
        );
        row(documents, "runner, embedded store", embedded, py_seed);
    }
}
