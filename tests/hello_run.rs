//! The hello example end to end: workers start, every step of every round runs, the state
//! is checkpointed, the workers are stopped.

use serde_json::json;
use system_tests::{TestDir, exit, is_alive};

const ROUND: [&str; 5] = [
    "check-health",
    "submit-greeting",
    "audit-greeting",
    "bonus-round",
    "summary",
];

#[test]
fn full_run_passes_every_step_of_every_round() {
    let t = TestDir::hello();
    let out = t.run_steps(&[]);
    assert_eq!(out.code(), exit::OK, "{out}");
    let expected: Vec<&str> = ROUND.iter().chain(ROUND.iter()).copied().collect();
    assert_eq!(out.started_steps(), expected, "{out}");
    assert!(out.stdout.contains("━━ round 1/2 ━━"), "{out}");
    assert!(out.stdout.contains("━━ round 2/2 ━━"), "{out}");
    assert!(
        out.stdout
            .contains("bonus-round skipped: bonus runs only in even rounds (round 1)"),
        "{out}"
    );
    assert!(
        out.stdout.contains("PASSED: 9 passed, 1 skipped, 0 failed"),
        "{out}"
    );
    // Worker output is streamed with the worker's name.
    assert!(
        out.stdout.contains("[worker1] POST /greetings 201"),
        "{out}"
    );
    assert!(out.stdout.contains("[worker2] GET /health 200"), "{out}");
    // post-load ran before the first step and its log line is shown.
    let post_load = out
        .stdout
        .find("hello: post-load ran")
        .expect("post-load log line");
    let first_step = out.stdout.find("▶ [1/5]").expect("first step banner");
    assert!(post_load < first_step, "{out}");

    let state = t.state();
    assert_eq!(state["current_round"], json!(2));
    assert_eq!(state["last_completed_step"], json!("summary"));
    assert_eq!(state["global"]["post_load_ran"], json!(true));
    assert_eq!(
        state["global"]["greeting_ids"],
        json!(["worker1-1", "worker1-2"])
    );
    assert_eq!(state["rounds"]["1"]["greeting_id"], json!("worker1-1"));
    assert_eq!(state["rounds"]["2"]["audited"], json!(true));
}

#[test]
fn workers_are_stopped_when_the_run_ends() {
    let t = TestDir::hello();
    let out = t.run_steps(&[]);
    assert_eq!(out.code(), exit::OK, "{out}");
    let pids = out.worker_pids();
    assert_eq!(pids.len(), 2, "{out}");
    for pid in pids {
        assert!(
            !is_alive(pid),
            "worker pid {pid} outlived the runner\n{out}"
        );
    }
    assert!(
        out.stdout
            .contains("[worker1] hello-worker worker1 stopped"),
        "{out}"
    );
}

#[test]
fn workers_are_stopped_when_a_step_fails() {
    let t = TestDir::hello();
    t.set_config("fail_step", "summary".into());
    let out = t.run_steps(&[]);
    assert_eq!(out.code(), exit::FAILED, "{out}");
    let pids = out.worker_pids();
    assert_eq!(pids.len(), 2, "{out}");
    assert!(pids.iter().all(|p| !is_alive(*p)), "{out}");
}

#[test]
fn list_prints_the_manifest() {
    let t = TestDir::hello();
    let out = t.run(&["list", "tests/steps.wasm"]);
    assert_eq!(out.code(), exit::OK, "{out}");
    assert!(out.stdout.contains("1. check-health @ worker1"), "{out}");
    assert!(out.stdout.contains("params: {\"text\":\"hello\"}"), "{out}");

    let out = t.run(&["list", "tests/steps.wasm", "--json"]);
    assert_eq!(out.code(), exit::OK, "{out}");
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).expect("list --json is JSON");
    let names: Vec<&str> = doc["steps"]
        .as_array()
        .expect("steps array")
        .iter()
        .map(|s| s["name"].as_str().expect("name"))
        .collect();
    assert_eq!(names, ROUND);
    assert_eq!(doc["steps"][1]["params"], json!({"text": "hello"}));
    assert_eq!(doc["sha256"].as_str().map(str::len), Some(64));
}

#[test]
fn second_run_loads_compiled_code_from_the_cache() {
    let t = TestDir::hello();
    let first = t.run_steps(&[]);
    assert_eq!(first.code(), exit::OK, "{first}");
    assert!(first.stdout.contains("compiled in"), "{first}");
    let second = t.run_steps(&["--reset"]);
    assert_eq!(second.code(), exit::OK, "{second}");
    assert!(second.stdout.contains("loaded from cache in"), "{second}");
    let third = t.run_steps(&["--reset", "--no-cache"]);
    assert!(third.stdout.contains("compiled in"), "{third}");
}

#[test]
fn corrupt_cache_entry_is_recompiled() {
    let t = TestDir::hello();
    let out = t.run_steps(&[]);
    assert_eq!(out.code(), exit::OK, "{out}");
    let cache = t.tests().parent().expect("root").join("cache");
    let mut entries = 0;
    for entry in std::fs::read_dir(&cache).expect("cache dir exists") {
        let path = entry.expect("entry").path();
        // The cache's HMAC key (`.cache-key`) sits beside the entries.
        if path.extension().is_none_or(|x| x != "cwasm") {
            continue;
        }
        std::fs::write(&path, b"garbage").expect("corrupt the entry");
        entries += 1;
    }
    assert_eq!(entries, 1);
    let out = t.run_steps(&["--reset"]);
    assert_eq!(out.code(), exit::OK, "{out}");
    assert!(out.stdout.contains("compiled in"), "{out}");
}

#[test]
fn help_is_available_for_every_command() {
    let t = TestDir::hello();
    for args in [&["--help"][..], &["run", "--help"], &["list", "--help"]] {
        let out = t.run(args);
        assert_eq!(out.code(), exit::OK, "{out}");
        assert!(out.stdout.contains("Usage: prometheus-wasm"), "{out}");
    }
    let out = t.run(&["run"]);
    assert_eq!(out.code(), exit::USAGE, "{out}");
}

#[test]
fn junit_and_json_reports_are_written() {
    let t = TestDir::hello();
    t.set_config("fail_step", "audit-greeting".into());
    t.set_config("fail_round", 2.into());
    let out = t.run_steps(&["--junit", "reports/junit.xml", "--json", "reports/run.json"]);
    assert_eq!(out.code(), exit::FAILED, "{out}");
    let root = t.tests().parent().expect("root").to_path_buf();
    let xml = std::fs::read_to_string(root.join("reports/junit.xml")).expect("junit report");
    assert!(
        xml.contains(r#"<testsuite name="round 1" tests="5" failures="0" errors="0" skipped="1""#),
        "{xml}"
    );
    assert!(
        xml.contains(r#"<testsuite name="round 2" tests="5" failures="1" errors="0" skipped="2""#),
        "{xml}"
    );
    assert!(xml.contains("injected failure in audit-greeting"), "{xml}");
    let doc: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("reports/run.json")).expect("json report"),
    )
    .expect("the JSON report is JSON");
    assert_eq!(doc["outcome"], json!("failed"));
    assert_eq!(doc["totals"]["passed"], json!(6));
    assert_eq!(doc["totals"]["not_run"], json!(2));
    assert_eq!(doc["failures"][0]["round"], json!(2));
    assert_eq!(doc["failures"][0]["step"], json!("audit-greeting"));
}
