//! Seeding throughput: 100,000 documents imported by the runner's seeding
//! (`SeedPlan::seed`: `delete_many({})` then `insert_many`) on the embedded store and on a
//! SecantusDB server, and, on the same server in the same run, pymongo's `delete_many` +
//! `insert_many` of the same file as the reference.
//!
//! `cargo bench -p prometheus-wasm --bench seed [-- DOCUMENTS]`. Needs `.venv` with
//! secantusdb and pymongo (`scripts/setup-venv.sh`). Not part of the test suite: timings
//! depend on the machine, so they live here and in docs/mongodb.md.
//!
//! Each figure is the median of [`REPEATS`] seedings into the same collection (each one
//! empties it first, as a fresh run does). Parsing the file (`SeedPlan::load` here,
//! `json_util.loads` in Python) is reported apart: a run does it once, before connecting.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use prometheus_wasm::config;
use prometheus_wasm::store::mongo::seed::SeedPlan;
use prometheus_wasm::store::mongo::{self, Backend};

/// Documents in the generated data file, unless given as the first argument.
const DEFAULT_DOCUMENTS: usize = 100_000;
/// Seedings measured per backend; the median is reported.
const REPEATS: usize = 3;

/// pymongo's side: parse the file with bson's Extended JSON reader, tag `taskId`, then time
/// `delete_many({})` + `insert_many` (ordered, the driver's default batching) `REPEATS` times.
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

async fn time_seed(plan: &SeedPlan, backend: &Backend) -> Duration {
    let db = mongo::open(backend, "seed_bench", usize::MAX)
        .await
        .expect("open the backend");
    let mut times = Vec::new();
    for _ in 0..REPEATS {
        let t = Instant::now();
        plan.seed(&*db).await.expect("seed");
        times.push(t.elapsed());
    }
    median(times)
}

fn pymongo(uri: &str, file: &Path) -> (Duration, Duration) {
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python");
    let out = Command::new(python)
        .args(["-c", PYMONGO, uri])
        .arg(file)
        .arg(REPEATS.to_string())
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

fn row(name: &str, d: Duration, documents: usize, reference: Duration) {
    println!(
        "| {name} | {:.2} s | {:.0} | {:.2} |",
        d.as_secs_f64(),
        documents as f64 / d.as_secs_f64(),
        reference.as_secs_f64() / d.as_secs_f64()
    );
}

#[tokio::main]
async fn main() {
    let documents = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .map_or(DEFAULT_DOCUMENTS, |a| {
            a.parse().expect("DOCUMENTS is a number")
        });
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
    )
    .await;
    let server = system_tests::secantus::Secantus::start();
    let remote = time_seed(
        &plan,
        &Backend::Remote {
            uri: server.uri.clone(),
            source: "bench",
        },
    )
    .await;
    let (py_load, py_seed) = pymongo(&server.uri, &dir.path().join("data/todos.json"));
    drop(server);

    println!(
        "{documents} documents, median of {REPEATS} seedings (delete_many + insert_many)\n\
         parse + check the file: runner {:.2} s, pymongo json_util {:.2} s\n",
        load.as_secs_f64(),
        py_load.as_secs_f64()
    );
    println!("| seeding | time | documents/s | speed vs pymongo on SecantusDB |");
    println!("|---|---|---|---|");
    row(
        "pymongo insert_many, SecantusDB",
        py_seed,
        documents,
        py_seed,
    );
    row(
        "runner, remote backend, SecantusDB",
        remote,
        documents,
        py_seed,
    );
    row("runner, embedded store", embedded, documents, py_seed);
}
