//! The host calls of a real step reach its [`StepLog`] as [`HostCall`]s, in order, cut
//! and masked: the hello example's `submit-greeting` against a real `hello-worker`
//! process (components by `scripts/build-components.sh`).

use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use prometheus_wasm::plugin::http::HttpCtx;
use prometheus_wasm::plugin::record::Masker;
use prometheus_wasm::plugin::{
    Budgets, CallKind, HostCall, LogLevel, NetworkPolicy, Package, RecordCtx, RunCtx, StepEngine,
    StepLog, Steps, WorkerInfo,
};
use prometheus_wasm::store::state::RunState;
use system_tests::{component, free_ports, hello_worker_bin};

/// Keeps every call a step reports.
#[derive(Default)]
struct Calls(Mutex<Vec<HostCall>>);

impl StepLog for Calls {
    fn line(&self, _: LogLevel, _: &str) {}
    fn call(&self, call: &HostCall) {
        self.0.lock().expect("calls").push(call.clone());
    }
}

/// A hello worker on `port`, killed on drop.
struct Worker(Child);

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_worker(port: u16, dir: &std::path::Path) -> Worker {
    let child = Command::new(hello_worker_bin())
        .env("PORT", port.to_string())
        .env("WORKER_ID", "worker1")
        .env("DATABASE_PATH", dir.join("worker1.db"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start hello-worker");
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "hello-worker did not listen"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    Worker(child)
}

#[tokio::test]
async fn submit_greeting_reports_its_calls_in_order() {
    let dir = tempfile::tempdir().expect("temp dir");
    let port = free_ports(1);
    let _worker = start_worker(port, dir.path());
    let url = format!("http://127.0.0.1:{port}");

    let budgets = Budgets::default();
    let mut policy = NetworkPolicy::deny_all();
    policy.allow_url(&url, "worker worker1").expect("allow");
    let data = serde_json::json!({ "name": "worker1", "url": url, "port": port });
    let run = RunCtx {
        workers: vec![WorkerInfo {
            name: "worker1".into(),
            data: data.as_object().expect("object").clone(),
            env: Default::default(),
        }],
        http: HttpCtx::new(policy, &budgets),
        record: RecordCtx {
            // The greeting text stands in for a secret: masked in what is shown.
            mask: Masker::new(|t| t.replace("hello", "***")),
            ..RecordCtx::default()
        },
        budgets: budgets.clone(),
        ..RunCtx::empty()
    };
    let engine = Arc::new(StepEngine::for_budgets(&budgets).expect("engine"));
    let package = Package::load(engine, &component("hello_steps"), None, &budgets)
        .await
        .expect("load hello")
        .with_run(run);
    let step = package
        .manifest()
        .iter()
        .find(|s| s.name == "submit-greeting")
        .expect("submit-greeting")
        .clone();
    let calls = Arc::new(Calls::default());
    let mut state = RunState::default();
    package
        .run_step(&step, &mut state, calls.clone())
        .await
        .expect("submit-greeting passes");

    let calls = calls.0.lock().expect("calls");
    let summaries: Vec<&str> = calls.iter().map(|c| c.summary.as_str()).collect();
    assert_eq!(
        summaries,
        // Every call, reads included (what a step read explains what it did next).
        [
            "config.get fail_step".to_string(),
            "worker.get worker1 url".into(),
            format!("POST {url}/greetings -> 201 Created"),
            "state.set round greeting_id".into(),
            "state.set round greeting_from".into(),
            "state.get greeting_ids".into(),
            "state.set global greeting_ids".into(),
        ]
    );
    let kinds: Vec<CallKind> = calls.iter().map(|c| c.kind).collect();
    assert_eq!(
        kinds,
        [
            CallKind::Config,
            CallKind::Worker,
            CallKind::Http,
            CallKind::State,
            CallKind::State,
            CallKind::State,
            CallKind::State
        ]
    );
    let post = &calls[2];
    assert!(!post.failed);
    assert!(
        post.request
            .contains("\"text\":\"*** from worker1 in round 1\""),
        "masked: {}",
        post.request
    );
    assert!(
        post.response.starts_with("HTTP 201 Created\n"),
        "{}",
        post.response
    );
    assert!(
        post.response.contains("\"id\":\"worker1-1\""),
        "{}",
        post.response
    );
    assert_eq!(calls[3].request, "\"worker1-1\"");
}
