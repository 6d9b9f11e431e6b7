//! Bad input of every kind gets a clear error, the right exit code, and starts nothing.

use std::net::TcpListener;

use serde_json::json;
use system_tests::{TestDir, component, exit, is_alive};

#[test]
fn missing_config_names_the_file() {
    let t = TestDir::hello();
    std::fs::remove_file(t.tests().join("config.yaml")).expect("remove config");
    let out = t.run_steps(&[]);
    assert_eq!(out.code(), exit::USAGE, "{out}");
    assert!(out.stderr.contains("config.yaml"), "{out}");
    assert!(out.worker_pids().is_empty(), "{out}");
}

#[test]
fn explicit_config_flag_is_used() {
    let t = TestDir::hello();
    let moved = t.tests().parent().expect("root").join("elsewhere.yaml");
    std::fs::rename(t.tests().join("config.yaml"), &moved).expect("move config");
    // workers.json and data_dir are relative to the config file's folder.
    std::fs::rename(
        t.tests().join("workers.json"),
        moved.with_file_name("workers.json"),
    )
    .expect("move workers");
    let out = t.run_steps(&["--config", "elsewhere.yaml"]);
    assert_eq!(out.code(), exit::OK, "{out}");
}

#[test]
fn malformed_yaml_reports_line_and_column() {
    let t = TestDir::hello();
    t.write(
        "config.yaml",
        "task_id: hello\nmax_rounds: 2\nbase_port: [5000,\n",
    );
    let out = t.run_steps(&[]);
    assert_eq!(out.code(), exit::USAGE, "{out}");
    assert!(out.stderr.contains("config.yaml:4:1"), "{out}");
}

#[test]
fn wrong_type_reports_the_key_and_position() {
    let t = TestDir::hello();
    t.write("config.yaml", "task_id: hello\nmax_rounds: two\n");
    let out = t.run_steps(&[]);
    assert_eq!(out.code(), exit::USAGE, "{out}");
    assert!(out.stderr.contains("config.yaml:2:"), "{out}");
    assert!(out.stderr.contains("max_rounds"), "{out}");
}

#[test]
fn malformed_workers_json_reports_line_and_column() {
    let t = TestDir::hello();
    t.write(
        "workers.json",
        "{\n  \"worker1\": {\n    \"env\": {,\n  }\n}\n",
    );
    let out = t.run_steps(&[]);
    assert_eq!(out.code(), exit::USAGE, "{out}");
    assert!(out.stderr.contains("workers.json:3:"), "{out}");
}

#[test]
fn missing_workers_json_is_found_before_anything_starts() {
    let t = TestDir::hello();
    std::fs::remove_file(t.tests().join("workers.json")).expect("remove workers.json");
    let out = t.run_steps(&[]);
    assert_eq!(out.code(), exit::USAGE, "{out}");
    assert!(out.stderr.contains("workers.json"), "{out}");
    assert!(
        !t.tests().join("data").exists(),
        "nothing was written\n{out}"
    );
}

#[test]
fn missing_max_rounds_is_a_configuration_error() {
    let t = TestDir::hello();
    t.remove_config("max_rounds");
    let out = t.run_steps(&[]);
    assert_eq!(out.code(), exit::USAGE, "{out}");
    assert!(out.stderr.contains("max_rounds"), "{out}");
}

#[test]
fn a_step_naming_an_unknown_worker_fails_before_workers_start() {
    let t = TestDir::hello();
    let mut workers = t.workers_json();
    let w2 = workers
        .as_object_mut()
        .expect("object")
        .shift_remove("worker2")
        .expect("worker2");
    workers
        .as_object_mut()
        .expect("object")
        .insert("helper".into(), w2);
    t.write_workers_json(&workers);
    let out = t.run_steps(&[]);
    assert_eq!(out.code(), exit::USAGE, "{out}");
    assert!(out.stderr.contains("step `audit-greeting`"), "{out}");
    assert!(out.stderr.contains("worker `worker2`"), "{out}");
    assert!(
        out.stderr.contains("worker1, helper"),
        "the hint lists the workers\n{out}"
    );
    assert!(out.worker_pids().is_empty(), "{out}");
}

#[test]
fn a_core_module_is_not_a_component() {
    let t = TestDir::hello();
    t.write("steps.wasm", "\0asm\u{1}\0\0\0");
    let out = t.run_steps(&[]);
    assert_eq!(out.code(), exit::USAGE, "{out}");
    assert!(out.stderr.contains("core WebAssembly module"), "{out}");
    assert!(
        out.stderr.contains("wasm32-wasip2"),
        "the hint says how to build one\n{out}"
    );
}

#[test]
fn a_text_file_is_not_a_component() {
    let t = TestDir::hello();
    t.write("steps.wasm", "console.log('hi')\n");
    let out = t.run_steps(&[]);
    assert_eq!(out.code(), exit::USAGE, "{out}");
    assert!(
        out.stderr.contains("is not a WebAssembly component"),
        "{out}"
    );
}

#[test]
fn a_missing_package_is_named() {
    let t = TestDir::hello();
    let out = t.run(&["run", "tests/nope.wasm"]);
    assert_eq!(out.code(), exit::USAGE, "{out}");
    assert!(out.stderr.contains("tests/nope.wasm"), "{out}");
}

#[test]
fn a_component_of_another_world_is_refused() {
    let t = TestDir::hello();
    t.use_steps(&component("other_world"));
    let out = t.run_steps(&[]);
    assert_eq!(out.code(), exit::USAGE, "{out}");
    assert!(
        out.stderr.contains("does not export the `steps` world"),
        "{out}"
    );
    assert!(out.worker_pids().is_empty(), "{out}");
}

#[test]
fn a_component_of_another_contract_version_names_both_versions() {
    let t = TestDir::hello();
    t.use_steps(&component("future_version"));
    let out = t.run_steps(&[]);
    assert_eq!(out.code(), exit::USAGE, "{out}");
    assert!(out.stderr.contains("prometheus:step/log@0.2.0"), "{out}");
    assert!(out.stderr.contains("prometheus:step@0.1.0"), "{out}");
}

#[test]
fn a_worker_that_exits_at_start_fails_the_run_with_its_stderr() {
    let t = TestDir::hello();
    let mut workers = t.workers_json();
    workers["worker2"]["command"] = json!(["sh", "-c", "echo boom: no database >&2; exit 3"]);
    t.write_workers_json(&workers);
    let out = t.run_steps(&[]);
    assert_eq!(out.code(), exit::FAILED, "{out}");
    assert!(out.stderr.contains("worker2"), "{out}");
    assert!(out.stderr.contains("boom: no database"), "{out}");
    assert!(out.stderr.contains("exit status: 3"), "{out}");
    // The healthy worker was started and stopped again.
    for pid in out.worker_pids() {
        assert!(!is_alive(pid), "{out}");
    }
    assert!(out.started_steps().is_empty(), "{out}");
}

#[test]
fn a_port_in_use_is_reported_before_any_worker_starts() {
    let t = TestDir::hello();
    let port = t.base_port() + 1;
    let _taken = TcpListener::bind(("127.0.0.1", port)).expect("bind worker2's port");
    let out = t.run_steps(&[]);
    assert_eq!(out.code(), exit::USAGE, "{out}");
    assert!(out.stderr.contains(&format!("port {port}")), "{out}");
    assert!(out.stderr.contains("worker2"), "{out}");
    assert!(out.worker_pids().is_empty(), "{out}");
}

#[test]
fn an_unknown_worker_program_is_named() {
    let t = TestDir::hello();
    let mut workers = t.workers_json();
    workers["worker1"]["command"] = json!(["./no-such-server"]);
    t.write_workers_json(&workers);
    let out = t.run_steps(&[]);
    assert_eq!(out.code(), exit::USAGE, "{out}");
    assert!(out.stderr.contains("no-such-server"), "{out}");
}

#[test]
fn an_env_var_mapping_to_an_unset_variable_is_named() {
    let t = TestDir::hello();
    let mut workers = t.workers_json();
    workers["worker1"]["env_vars"] = json!({"API_TOKEN": "HELLO_TEST_UNSET_TOKEN"});
    t.write_workers_json(&workers);
    let out = t.run_steps(&[]);
    assert_eq!(out.code(), exit::USAGE, "{out}");
    assert!(
        out.stderr.contains("API_TOKEN (HELLO_TEST_UNSET_TOKEN)"),
        "{out}"
    );
}

#[test]
fn secrets_from_dotenv_never_reach_the_output() {
    let t = TestDir::hello();
    t.write(".env", "WORKER1_SECRET=sup3r-s3cret-value\n");
    let mut workers = t.workers_json();
    workers["worker1"]["env_vars"] = json!({"SECRET": "WORKER1_SECRET"});
    // The worker prints its secret: the runner must mask it.
    workers["worker1"]["command"] =
        json!(["sh", "-c", "echo token=$SECRET; exec \"$HELLO_WORKER\""]);
    t.write_workers_json(&workers);
    let out = t.run_steps(&[]);
    assert_eq!(out.code(), exit::OK, "{out}");
    assert!(out.stdout.contains("[worker1] token=***"), "{out}");
    assert!(!out.all().contains("sup3r-s3cret-value"), "{out}");
}

#[test]
fn a_negative_or_non_numeric_duration_flag_is_a_usage_error() {
    let t = TestDir::hello();
    for value in ["-1", "abc", "0"] {
        let out = t.run_steps(&[&format!("--startup-timeout={value}")]);
        assert_eq!(out.code(), exit::USAGE, "{out}");
        assert!(out.stderr.contains("--startup-timeout"), "{out}");
        assert!(out.worker_pids().is_empty(), "{out}");
    }
}
