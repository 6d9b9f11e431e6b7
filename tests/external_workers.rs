//! External workers through the binary: servers the test starts itself (the same
//! `hello-worker` and `koii-worker` binaries Compose would run), declared in workers.json
//! with `"external": true` and a `url`. The runner waits for their readiness probe, calls
//! their reset hook before a fresh run, mixes them with local workers — and, when a worker
//! is not ready or its reset fails, refuses before anything is seeded or deleted.

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::json;
use system_tests::external::{
    assert_untouched, broken_server, compose, hello_worker, make_external, run_with,
    set_worker_key, start, with_seed_and_marker,
};
use system_tests::{TestDir, component, free_ports, is_alive, repo_root, wait_output};

#[test]
fn the_compose_example_runs_against_workers_it_did_not_start() {
    let port = free_ports(2);
    let w1 = hello_worker("worker1", port);
    let w2 = hello_worker("worker2", port + 1);
    let (t, env) = compose([&w1.url(), &w2.url()]);
    for round in 1..=2 {
        let out = run_with(&t, &["run", "tests/steps.wasm", "--reset"], &env);
        assert_eq!(out.code(), 0, "run {round}: {out}");
        assert!(
            out.stdout.contains("PASSED: 9 passed, 1 skipped, 0 failed"),
            "{out}"
        );
        assert!(
            out.stdout
                .contains(&format!("worker1 {} (external)", w1.url())),
            "{out}"
        );
        for (name, server) in [("worker1", &w1), ("worker2", &w2)] {
            assert!(
                out.stdout.contains(&format!(
                    "reset external worker {name}: POST {}/reset answered 200 OK",
                    server.url()
                )),
                "{out}"
            );
        }
        assert!(out.stdout.contains("starting 0 worker(s)"), "{out}");
        assert!(
            !out.stdout.contains("[worker1]"),
            "no output of a local worker\n{out}"
        );
        // The reset emptied the worker: every run's greetings start at 1 again.
        assert_eq!(
            t.state()["global"]["greeting_ids"],
            json!(["worker1-1", "worker1-2"]),
            "run {round}: {out}"
        );
        assert!(
            is_alive(w1.pid()) && is_alive(w2.pid()),
            "the runner stopped an external worker"
        );
    }
}

#[test]
fn check_shows_external_workers_with_their_probe_and_reset() {
    let (t, env) = compose(["http://127.0.0.1:5790", "http://127.0.0.1:5791"]);
    let out = run_with(&t, &["check", "tests"], &env);
    assert_eq!(out.code(), 0, "{out}");
    for line in [
        "worker1: port 5790, http://127.0.0.1:5790 (external: not started by the runner)",
        "ready: GET /health expecting 200 (timeout 120s)",
        "fresh run: resets it with POST /reset",
    ] {
        assert!(out.stdout.contains(line), "no `{line}` in\n{out}");
    }
    assert!(out.stdout.contains("http://127.0.0.1:5791"), "{out}");
    assert!(!out.stdout.contains("command:"), "{out}");
}

#[test]
fn local_and_external_workers_mix_in_one_test() {
    let t = TestDir::hello();
    let port = free_ports(1);
    let w2 = hello_worker("worker2", port);
    make_external(&t, "worker2", &w2.url());
    let out = t.run_steps(&["--reset"]);
    assert_eq!(out.code(), 0, "{out}");
    assert!(
        out.stdout.contains("PASSED: 9 passed, 1 skipped, 0 failed"),
        "{out}"
    );
    assert!(out.stdout.contains("starting 1 worker(s)"), "{out}");
    assert!(
        out.stdout.contains("[worker1] POST /greetings 201"),
        "{out}"
    );
    assert!(
        out.stdout
            .contains(&format!("worker2 {} (external)", w2.url())),
        "{out}"
    );
    // No reset hook: the runner says so instead of claiming a reset.
    assert!(
        out.all()
            .contains("external worker worker2 was NOT reset: its state is yours to reset"),
        "{out}"
    );
    assert!(is_alive(w2.pid()), "the runner stopped an external worker");
}

#[test]
fn keys_sign_for_an_external_worker_beside_local_ones() {
    // The koii-task example with worker1 (whose staking key signs every submission) run by
    // the test: leader and worker2 verify worker1's signatures, so a wrong key fails.
    let t = TestDir::example("koii-task", &component("koii_task_steps"));
    let root = t.tests().parent().expect("parent").to_path_buf();
    std::fs::create_dir_all(root.join("keys")).expect("keys");
    let mut env = String::new();
    for (i, (var, file)) in [
        ("LEADER_STAKING_KEYPAIR", "leader-staking"),
        ("LEADER_MAIN_KEYPAIR", "leader-main"),
        ("WORKER1_STAKING_KEYPAIR", "worker1-staking"),
        ("WORKER1_MAIN_KEYPAIR", "worker1-main"),
        ("WORKER2_STAKING_KEYPAIR", "worker2-staking"),
        ("WORKER2_MAIN_KEYPAIR", "worker2-main"),
    ]
    .iter()
    .enumerate()
    {
        let seed = [i as u8 + 1; 32];
        let key = ed25519_dalek::SigningKey::from_bytes(&seed);
        let mut bytes = seed.to_vec();
        bytes.extend_from_slice(key.verifying_key().as_bytes());
        std::fs::write(
            root.join(format!("keys/{file}.json")),
            serde_json::to_string(&bytes).expect("json"),
        )
        .expect("keypair");
        env.push_str(&format!("{var}=keys/{file}.json\n"));
    }
    std::fs::write(t.tests().join(".env"), env).expect(".env");
    let port = free_ports(1);
    let mut command = Command::new(repo_root().join("target/debug/koii-worker"));
    command
        .env("PORT", port.to_string())
        .env("WORKER_ID", "worker1");
    let w1 = start(command, port);
    make_external(&t, "worker1", &w1.url());
    let mut cmd = t.command(&["run", "tests/steps.wasm", "--reset"]);
    cmd.env_remove("MONGO_URI")
        .env("KOII_WORKER", repo_root().join("target/debug/koii-worker"));
    let out = wait_output(cmd.spawn().expect("spawn the runner"));
    assert_eq!(out.code(), 0, "{out}");
    assert!(
        out.stdout
            .contains("round 3: worker1's submission audited valid"),
        "{out}"
    );
    assert!(out.stdout.contains("starting 2 worker(s)"), "{out}");
}

#[test]
fn an_external_worker_that_never_answers_fails_after_its_timeout_touching_nothing() {
    let t = TestDir::hello();
    let marker = with_seed_and_marker(&t);
    let port = free_ports(1);
    make_external(&t, "worker2", &format!("http://127.0.0.1:{port}"));
    set_worker_key(
        &t,
        "worker2",
        "ready",
        json!({"timeout": 1, "interval": 0.1}),
    );
    let started = Instant::now();
    let out = t.run_steps(&["--reset"]);
    assert_eq!(out.code(), 1, "{out}");
    assert!(started.elapsed() < Duration::from_secs(20), "{out}");
    let all = out.all();
    assert!(
        all.contains(&format!(
            "worker `worker2`: not ready within 1s: GET http://127.0.0.1:{port}/health expecting 200; last answer: "
        )),
        "{all}"
    );
    assert!(all.to_lowercase().contains("connection refused"), "{all}");
    assert!(
        all.contains("docker compose up -d"),
        "the hint says what to do\n{all}"
    );
    assert_untouched(&t, &marker, &out);
}

#[test]
fn a_probe_answering_500_names_the_status_and_the_body() {
    let t = TestDir::hello();
    let marker = with_seed_and_marker(&t);
    let port = free_ports(1);
    let _broken = broken_server(port);
    make_external(&t, "worker2", &format!("http://127.0.0.1:{port}"));
    set_worker_key(
        &t,
        "worker2",
        "ready",
        json!({"http": "/ready", "timeout": 1}),
    );
    let out = t.run_steps(&["--reset"]);
    assert_eq!(out.code(), 1, "{out}");
    assert!(
        out.all().contains(&format!(
            "GET http://127.0.0.1:{port}/ready expecting 200; last answer: HTTP 500 Internal Server Error: database not migrated"
        )),
        "{out}"
    );
    assert_untouched(&t, &marker, &out);
}

#[test]
fn a_failing_reset_hook_refuses_the_run_before_anything_is_wiped() {
    let t = TestDir::hello();
    let marker = with_seed_and_marker(&t);
    let port = free_ports(1);
    let w2 = hello_worker("worker2", port);
    make_external(&t, "worker2", &w2.url());
    set_worker_key(
        &t,
        "worker2",
        "reset",
        json!({"method": "DELETE", "path": "/nope"}),
    );
    let out = t.run_steps(&["--reset"]);
    assert_eq!(out.code(), 1, "{out}");
    assert!(
        out.all().contains(&format!(
            "worker `worker2`: reset hook DELETE {}/nope failed: HTTP 404 Not Found",
            w2.url()
        )),
        "{out}"
    );
    assert!(!out.stdout.contains("reset external worker"), "{out}");
    assert_untouched(&t, &marker, &out);
}

#[test]
fn a_local_http_probe_catches_a_port_open_but_not_serving() {
    let t = TestDir::hello();
    set_worker_key(
        &t,
        "worker1",
        "ready",
        json!({"http": "/not-served", "timeout": 1}),
    );
    let out = t.run_steps(&["--reset"]);
    assert_eq!(out.code(), 1, "{out}");
    let port = t.base_port();
    assert!(
        out.all().contains(&format!(
            "worker `worker1`: not ready within 1s: GET http://localhost:{port}/not-served expecting 200; last answer: HTTP 404 Not Found: {{\"message\":\"no route GET /not-served\"}}"
        )),
        "{out}"
    );
    // With the path it serves, the same probe passes.
    set_worker_key(
        &t,
        "worker1",
        "ready",
        json!({"http": "/health", "status": 200}),
    );
    let out = t.run_steps(&["--reset"]);
    assert_eq!(out.code(), 0, "{out}");
}
