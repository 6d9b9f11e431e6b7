//! Every refused run leaves the user's data alone: the MongoDB collections keep their
//! documents and the workers' `.db` files stay in data_dir, the run exits 2 ("nothing was
//! tested") and the message names the worker (or the input) at fault.
//!
//! Each case breaks a copy of the todos example (seeded MongoDB collections, two workers)
//! in one way, puts a marker document into its `todos` collection on SecantusDB and a
//! `.db` file beside the seed files, then runs it as a fresh run would (`--reset`, the
//! strongest way to ask for a wipe).

use std::net::TcpListener;

use serde_json::json;
use system_tests::secantus::Secantus;
use system_tests::{RunOutput, TestDir, component, wait_output};

/// The todos example's database and the collection its seed file fills.
const DATABASE: &str = "todos_example";
const COLLECTION: &str = "todos";

fn todos() -> TestDir {
    TestDir::example("todos", &component("todos_steps"))
}

/// Sets `worker2`'s entry of workers.json to `entry`, merged over the existing one.
fn set_worker2(t: &TestDir, entry: serde_json::Value) {
    let mut workers = t.workers_json();
    let worker2 = workers["worker2"]
        .as_object_mut()
        .expect("worker2 is an object");
    for (key, value) in entry.as_object().expect("an object") {
        worker2.insert(key.clone(), value.clone());
    }
    t.write_workers_json(&workers);
}

/// Plants the marker and the `.db` file, runs `t` with `extra`, and checks that the run
/// was refused with every piece of data in place and a message containing `names`.
fn assert_refused_keeping_data(
    server: &Secantus,
    case: &str,
    t: &TestDir,
    extra: &[&str],
    names: &[&str],
) -> RunOutput {
    server.insert_marker(DATABASE, COLLECTION, case);
    let db_file = t.tests().join("data/database_worker1.db");
    std::fs::write(&db_file, "worker1's data").expect("write a worker database");

    let mut args = vec![
        "run",
        "tests/steps.wasm",
        "--reset",
        "--mongo-uri",
        &server.uri,
    ];
    args.extend_from_slice(extra);
    let mut cmd = t.command(&args);
    cmd.env_remove("MONGO_URI");
    let out = wait_output(cmd.spawn().expect("spawn the runner"));

    assert_eq!(out.code(), 2, "{case}: {out}");
    for name in names {
        assert!(out.stderr.contains(name), "{case}: no {name:?} in\n{out}");
    }
    assert_eq!(
        server.count_marker(DATABASE, COLLECTION, case),
        1,
        "{case}: the marker document is gone\n{out}"
    );
    assert_eq!(
        std::fs::read_to_string(&db_file).ok().as_deref(),
        Some("worker1's data"),
        "{case}: the worker's .db file is gone\n{out}"
    );
    assert!(
        !out.stdout.contains("seeded"),
        "{case}: seeded anyway\n{out}"
    );
    out
}

#[test]
fn refused_runs_keep_the_database_and_the_worker_files() {
    let server = Secantus::start();

    // A port in use (a previous run's worker, another service).
    let t = todos();
    let busy = TcpListener::bind(("127.0.0.1", t.base_port() + 1)).expect("occupy worker2's port");
    assert_refused_keeping_data(&server, "port-in-use", &t, &[], &["worker2", "in use"]);
    drop(busy);

    // Two workers on one port.
    let t = todos();
    set_worker2(&t, json!({ "port": t.base_port() }));
    assert_refused_keeping_data(&server, "duplicate-port", &t, &[], &["worker2", "worker1"]);

    // A program that is not installed.
    let t = todos();
    set_worker2(&t, json!({ "command": ["prometheus-wasm-no-such-server"] }));
    assert_refused_keeping_data(
        &server,
        "missing-program",
        &t,
        &[],
        &["worker2", "prometheus-wasm-no-such-server", "not found"],
    );

    // A program that exists but cannot be executed.
    let t = todos();
    t.write("server.sh", "#!/bin/sh\nexec sleep 1000\n");
    set_worker2(&t, json!({ "command": ["./server.sh"] }));
    assert_refused_keeping_data(
        &server,
        "not-executable",
        &t,
        &[],
        &["worker2", "not executable", "chmod +x"],
    );

    // A report file under a path that cannot be a directory (a regular file is in the
    // way): the run's result would be lost. (A missing directory is made.)
    let t = todos();
    t.write("../not-a-dir", "a file");
    assert_refused_keeping_data(
        &server,
        "report-dir",
        &t,
        &["--junit", "not-a-dir/report.xml"],
        &["--junit", "not-a-dir"],
    );

    // Rounds counted from a collection that seeding does not create.
    let t = todos();
    t.set_config("rounds_collection", "no_such_collection".into());
    assert_refused_keeping_data(
        &server,
        "rounds-collection",
        &t,
        &[],
        &["no_such_collection"],
    );
}

#[test]
fn a_missing_program_is_refused_before_the_embedded_store_is_emptied() {
    let t = todos();
    // A first, successful start creates the embedded store; the second run must not
    // empty it before refusing.
    let out = t.run_steps(&[]);
    assert_eq!(out.code(), 0, "{out}");
    let store = t
        .tests()
        .join("data/embedded-mongo/todos_example/todos.jsonl");
    let before = std::fs::read_to_string(&store).unwrap_or_default();
    set_worker2(&t, json!({ "command": ["prometheus-wasm-no-such-server"] }));
    let db_file = t.tests().join("data/database_worker2.db");
    std::fs::write(&db_file, "kept").expect("write a worker database");
    let refused = t.run_steps(&["--reset"]);
    assert_eq!(refused.code(), 2, "{refused}");
    assert!(refused.stderr.contains("worker2"), "{refused}");
    assert_eq!(std::fs::read_to_string(&store).unwrap_or_default(), before);
    assert!(db_file.exists(), "{refused}");
}
