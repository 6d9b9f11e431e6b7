//! Bad external-worker entries through the binary: `check` and `run` both refuse them
//! (exit 2) with `tests/workers.json:LINE:COLUMN: worker `NAME`: ...` and a hint, before
//! anything starts.

use serde_json::{Value, json};
use system_tests::TestDir;
use system_tests::external::{make_external, position, set_worker_key};

/// Runs `check` and `run` on a bad workers.json: both refuse it (exit 2) with the same
/// message, which starts with `tests/workers.json:LINE:COLUMN: worker `NAME`: `.
fn assert_refused(t: &TestDir, at: &str, worker: &str, expected: &[&str]) {
    for args in [
        &["check", "tests"][..],
        &["run", "tests/steps.wasm", "--reset"][..],
    ] {
        let out = t.run(args);
        assert_eq!(out.code(), 2, "{args:?}: {out}");
        let all = out.all();
        assert!(
            all.contains(&format!("tests/workers.json:{at}: worker `{worker}`: ")),
            "{args:?}: no location {at} in\n{all}"
        );
        for text in expected {
            assert!(all.contains(text), "{args:?}: no `{text}` in\n{all}");
        }
        assert!(!all.contains("starting"), "{all}");
    }
}

#[test]
fn a_url_with_another_scheme_is_refused_where_it_is_written() {
    let t = TestDir::hello();
    make_external(&t, "worker2", "ftp://127.0.0.1:2121");
    let at = position(&t, "\"ftp://");
    assert_refused(
        &t,
        &at,
        "worker2",
        &[
            "invalid `url`",
            "the scheme `ftp` is not supported",
            "http:// or https://",
        ],
    );
}

#[test]
fn an_external_worker_with_launch_keys_is_refused_naming_them() {
    let t = TestDir::hello();
    make_external(&t, "worker2", "http://127.0.0.1:5999");
    set_worker_key(&t, "worker2", "command", json!(["./srv"]));
    set_worker_key(&t, "worker2", "port", json!(5999));
    let text = std::fs::read_to_string(t.tests().join("workers.json")).expect("text");
    // The error points at the first launch key's value in the entry.
    let worker2 = text.find("\"worker2\"").expect("worker2");
    let command = worker2 + text[worker2..].find("\"command\": ").expect("command") + 11;
    let before = &text[..command];
    let at = format!(
        "{}:{}",
        before.matches('\n').count() + 1,
        command - before.rfind('\n').map_or(0, |n| n + 1) + 1
    );
    assert_refused(
        &t,
        &at,
        "worker2",
        &[
            "an external worker is not started by the runner, but its entry sets `command`, `port`",
            "remove command, port",
        ],
    );
}

#[test]
fn an_external_url_on_a_local_workers_port_is_refused() {
    let t = TestDir::hello();
    let port = t.base_port();
    make_external(&t, "worker2", &format!("http://localhost:{port}"));
    let at = position(&t, &format!("\"http://localhost:{port}"));
    assert_refused(
        &t,
        &at,
        "worker2",
        &[&format!(
            "`url` http://localhost:{port} is on this host, on port {port} of local worker `worker1`"
        )],
    );
}

#[test]
fn other_bad_external_entries_are_refused_with_their_location() {
    let cases: [(&str, Value, &str, &str); 5] = [
        (
            "ready",
            json!({"http": "/h", "timout": 2}),
            "\"timout\"",
            "did you mean `timeout`?",
        ),
        (
            "ready",
            json!({"tcp": true, "http": "/h"}),
            "{\n      \"tcp\"",
            "not both",
        ),
        (
            "reset",
            json!({"method": "CONNECT", "path": "/r"}),
            "\"CONNECT\"",
            "invalid `reset.method`",
        ),
        (
            "url",
            json!("${NOT_SET_ANYWHERE}"),
            "\"${NOT_SET",
            "uses unset variable `NOT_SET_ANYWHERE`",
        ),
        (
            "url",
            json!("http://user:pw@127.0.0.1:5999"),
            "\"http://user",
            "holds credentials",
        ),
    ];
    for (key, value, needle, expected) in cases {
        let t = TestDir::hello();
        make_external(&t, "worker2", "http://127.0.0.1:5999");
        set_worker_key(&t, "worker2", key, value);
        let mut at = position(&t, needle);
        if needle == "\"timout\"" {
            // The value of the misspelt key.
            let (line, column) = at.split_once(':').expect("l:c");
            let column: usize = column.parse().expect("column");
            at = format!("{line}:{}", column + "\"timout\": ".len());
        }
        assert_refused(&t, &at, "worker2", &[expected]);
    }
    // A local worker has no reset hook: the runner deletes its database itself.
    let t = TestDir::hello();
    set_worker_key(&t, "worker1", "reset", json!("/reset"));
    let at = position(&t, "\"/reset\"");
    assert_refused(
        &t,
        &at,
        "worker1",
        &["only an external worker takes a reset hook"],
    );
    // An external worker needs a url.
    let t = TestDir::hello();
    set_worker_key(&t, "worker2", "command", Value::Null);
    set_worker_key(&t, "worker2", "external", json!(true));
    let at = position(&t, "true");
    assert_refused(&t, &at, "worker2", &["invalid `url`: missing"]);
}
