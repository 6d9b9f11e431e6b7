//! The todos example (`examples/todos`) run by the real binary on both MongoDB backends:
//! the embedded store, and SecantusDB (a MongoDB-wire server the test starts from `.venv`
//! on a free loopback port and stops by PID). Rounds come from the `todos` collection,
//! post-load rewrites the seed file's placeholders, a failed run resumes without
//! reseeding, `--reset` reseeds, and bad inputs fail before the database is touched.
//!
//! On SecantusDB the database is read back by the example's own steps: `check-todo` counts
//! the done todos every round and `check-list` (last round) fails on any placeholder left
//! or any todo not done. On the embedded store the tests also read its files.

use serde_json::Value;
use system_tests::secantus::Secantus;
use system_tests::{RunOutput, TestDir, component, free_ports, wait_output};

/// Which backend a run uses.
enum Backend {
    /// `data/embedded-mongo/` (no URI anywhere).
    Embedded,
    /// A SecantusDB server, named with `--mongo-uri`.
    Remote(Secantus),
}

impl Backend {
    fn remote() -> Self {
        Backend::Remote(Secantus::start())
    }
}

fn todos() -> TestDir {
    TestDir::example("todos", &component("todos_steps"))
}

/// `prometheus-wasm run tests/steps.wasm <extra>` on `backend`, with no `MONGO_URI`
/// inherited from the developer's environment.
fn run(t: &TestDir, backend: &Backend, extra: &[&str]) -> RunOutput {
    let mut args = vec!["run", "tests/steps.wasm"];
    args.extend_from_slice(extra);
    if let Backend::Remote(server) = backend {
        args.extend(["--mongo-uri", server.uri.as_str()]);
    }
    let mut cmd = t.command(&args);
    cmd.env_remove("MONGO_URI");
    wait_output(cmd.spawn().expect("spawn the runner"))
}

/// The documents of `todos` in the embedded store's file, by `order`.
fn embedded_todos(t: &TestDir) -> Vec<Value> {
    let path = t
        .tests()
        .join("data/embedded-mongo/todos_example/todos.jsonl");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut docs: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("a document a line"))
        .collect();
    docs.sort_by_key(order);
    docs
}

/// A todo's `order` (canonical Extended JSON: `{"$numberInt": "1"}`).
fn order(doc: &Value) -> u32 {
    doc["order"]["$numberInt"]
        .as_str()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no int32 order in {doc}"))
}

/// Runs `t` with `pick-todo` failing in round 2: round 1 has marked todo 1 done.
fn run_failing_in_round_2(t: &TestDir, backend: &Backend) {
    t.set_config("fail_step", "pick-todo".into());
    t.set_config("fail_round", 2.into());
    let out = run(t, backend, &[]);
    assert_eq!(out.code(), 1, "{out}");
    assert!(
        out.all()
            .contains("injected failure in pick-todo (config fail_step)"),
        "{out}"
    );
    t.remove_config("fail_step");
    t.remove_config("fail_round");
}

fn full_run_derives_rounds_from_the_collection_and_rewrites_placeholders(backend: &Backend) {
    let t = todos();
    let out = run(&t, backend, &[]);
    assert_eq!(out.code(), 0, "{out}");
    for line in [
        "seeded `todos` with 3 document(s)",
        "4 round(s): documents in `todos` + 1",
        "todos: post-load rewrote the placeholders of 3 todo(s)",
        "━━ round 4/4 ━━",
        "check-list: all 3 todo(s) done",
        "PASSED: 7 passed, 5 skipped, 0 failed",
    ] {
        assert!(out.stdout.contains(line), "no `{line}` in:\n{out}");
    }
    assert!(!out.stdout.contains("round 5/"), "{out}");
}

#[test]
fn full_run_on_the_embedded_store_derives_rounds_and_rewrites_placeholders() {
    full_run_derives_rounds_from_the_collection_and_rewrites_placeholders(&Backend::Embedded);
}

#[test]
fn full_run_on_the_embedded_store_leaves_every_todo_done_with_unique_uuids() {
    let t = todos();
    let out = run(&t, &Backend::Embedded, &[]);
    assert_eq!(out.code(), 0, "{out}");
    assert!(out.stdout.contains("using embedded store at"), "{out}");
    let docs = embedded_todos(&t);
    assert_eq!(docs.len(), 3, "{docs:?}");
    let mut uuids = Vec::new();
    for (i, doc) in docs.iter().enumerate() {
        assert_eq!(doc["taskId"], "todos", "{doc}");
        assert_eq!(doc["status"], "done", "{doc}");
        assert_eq!(doc["doneRound"]["$numberInt"], (i + 1).to_string(), "{doc}");
        let uuid = doc["uuid"].as_str().expect("uuid is a string");
        assert_ne!(uuid, "PLACEHOLDER", "{doc}");
        assert_eq!(uuid.len(), 36, "{doc}");
        uuids.push(uuid.to_owned());
        let assignee = doc["assignee"].as_str().expect("assignee is a string");
        assert!(["worker1", "worker2"].contains(&assignee), "{doc}");
        let greeting = doc["greetingId"].as_str().expect("greetingId is a string");
        assert!(greeting.starts_with(assignee), "{doc}");
    }
    uuids.sort();
    uuids.dedup();
    assert_eq!(uuids.len(), 3, "uuids are not distinct: {docs:?}");
}

#[test]
fn full_run_on_secantusdb_derives_rounds_and_rewrites_placeholders() {
    let backend = Backend::remote();
    full_run_derives_rounds_from_the_collection_and_rewrites_placeholders(&backend);
}

#[test]
fn full_run_on_secantusdb_uses_the_server_not_the_embedded_store() {
    let backend = Backend::remote();
    let t = todos();
    let out = run(&t, &backend, &[]);
    assert_eq!(out.code(), 0, "{out}");
    assert!(out.stdout.contains("database `todos_example` on"), "{out}");
    assert!(!out.stdout.contains("using embedded store"), "{out}");
    assert!(!t.tests().join("data/embedded-mongo").exists());
}

/// Checks a run resumed after [`run_failing_in_round_2`]: no reseeding, no post-load, the
/// run goes on from round 2 and passes.
fn assert_resumed_without_reseeding(out: &RunOutput) {
    assert_eq!(out.code(), 0, "{out}");
    assert!(
        out.stdout.contains("resuming at the start of round 2"),
        "{out}"
    );
    assert!(!out.stdout.contains("seeded `todos`"), "{out}");
    assert!(!out.stdout.contains("post-load"), "{out}");
    assert!(!out.stdout.contains("round 1/4"), "{out}");
    // Round 2 picks todo 2 (todo 1 is still done) and check-todo counts 2 done todos.
    assert!(out.stdout.contains("todo 2 done: greeting"), "{out}");
    assert!(
        out.stdout.contains("check-list: all 3 todo(s) done"),
        "{out}"
    );
}

#[test]
fn resume_on_the_embedded_store_keeps_the_todos_done_before_the_failure() {
    let t = todos();
    run_failing_in_round_2(&t, &Backend::Embedded);
    let before = embedded_todos(&t);
    assert_eq!(before[0]["status"], "done", "{before:?}");
    assert_eq!(before[1]["status"], "open", "{before:?}");

    assert_resumed_without_reseeding(&run(&t, &Backend::Embedded, &[]));
    let after = embedded_todos(&t);
    // Not reseeded: the same document, same uuid (post-load did not run again), same greeting.
    for key in ["_id", "uuid", "greetingId", "doneRound", "status"] {
        assert_eq!(before[0][key], after[0][key], "`{key}` of todo 1 changed");
    }
    assert!(after.iter().all(|d| d["status"] == "done"), "{after:?}");
}

#[test]
fn resume_on_secantusdb_does_not_reseed() {
    let backend = Backend::remote();
    let t = todos();
    run_failing_in_round_2(&t, &backend);
    assert_resumed_without_reseeding(&run(&t, &backend, &[]));
}

/// Checks a `--reset` run after [`run_failing_in_round_2`]: reseeded, post-load again, every
/// round from round 1.
fn assert_reseeded_from_round_1(out: &RunOutput) {
    assert_eq!(out.code(), 0, "{out}");
    for line in [
        "starting a fresh run (--reset)",
        "seeded `todos` with 3 document(s)",
        "todos: post-load rewrote the placeholders of 3 todo(s)",
        "━━ round 1/4 ━━",
        "todo 1 done: greeting",
        "check-list: all 3 todo(s) done",
    ] {
        assert!(out.stdout.contains(line), "no `{line}` in:\n{out}");
    }
}

#[test]
fn reset_on_the_embedded_store_reseeds() {
    let t = todos();
    run_failing_in_round_2(&t, &Backend::Embedded);
    let before = embedded_todos(&t);
    assert_reseeded_from_round_1(&run(&t, &Backend::Embedded, &["--reset"]));
    let after = embedded_todos(&t);
    assert_ne!(before[0]["_id"], after[0]["_id"], "todo 1 was not reseeded");
    assert_ne!(
        before[0]["uuid"], after[0]["uuid"],
        "post-load did not run again"
    );
}

#[test]
fn reset_on_secantusdb_reseeds() {
    let backend = Backend::remote();
    let t = todos();
    run_failing_in_round_2(&t, &backend);
    assert_reseeded_from_round_1(&run(&t, &backend, &["--reset"]));
}

#[test]
fn unreachable_mongo_uri_fails_fast_with_exit_2_and_the_masked_uri() {
    let t = todos();
    let port = free_ports(1);
    let uri = format!("mongodb://alice:s3cret@127.0.0.1:{port}/");
    let out = run(&t, &Backend::Embedded, &["--mongo-uri", &uri]);
    assert_eq!(out.code(), 2, "{out}");
    let all = out.all();
    assert!(
        all.contains(&format!("mongodb://alice:***@127.0.0.1:{port}/")),
        "{out}"
    );
    assert!(!all.contains("s3cret"), "the password leaked:\n{out}");
    assert!(!all.contains("starting 2 worker(s)"), "{out}");
    assert!(!t.tests().join("data/test_state.json").exists());
    assert!(!t.tests().join("data/embedded-mongo").exists());
}

#[test]
fn malformed_data_file_fails_before_the_database_is_touched() {
    let t = todos();
    assert_eq!(run(&t, &Backend::Embedded, &[]).code(), 0);
    let before = embedded_todos(&t);
    t.write(
        "data/todos.json",
        "[\n  {\"order\": 1, \"title\": \"ok\"},\n  {\"order\": 2, \"title\": oops}\n]\n",
    );
    let out = run(&t, &Backend::Embedded, &["--reset"]);
    assert_eq!(out.code(), 2, "{out}");
    assert!(out.stderr.contains("todos.json:3:"), "{out}");
    assert!(!out.stdout.contains("starting 2 worker(s)"), "{out}");
    assert_eq!(embedded_todos(&t), before, "the database changed");
}

#[test]
fn data_file_that_is_not_objects_fails_before_the_database_is_touched() {
    let t = todos();
    assert_eq!(run(&t, &Backend::Embedded, &[]).code(), 0);
    let before = embedded_todos(&t);
    t.write("data/todos.json", "[{\"order\": 1}, 2]\n");
    let out = run(&t, &Backend::Embedded, &["--reset"]);
    assert_eq!(out.code(), 2, "{out}");
    assert!(out.stderr.contains("todos.json"), "{out}");
    assert_eq!(embedded_todos(&t), before, "the database changed");
}
