//! The Python and JavaScript helpers at parity with the Rust SDK: one step package per
//! language (`tests/polyglot-steps/parity-{python,js}`, built by `scripts/build-polyglot.sh`)
//! exercises every row of the parity table of docs/writing-steps.md — config, params,
//! state scopes, worker info and env, HTTP with status checks, the test database, public
//! keys, sign and verify, skip, fail and the step log — against two real `hello-worker`
//! processes and the embedded store. The signing rows sign every Koii golden vector of
//! `tests/fixtures/koii-signatures` from inside the guest and compare byte for byte.

use std::path::PathBuf;
use std::sync::OnceLock;

use system_tests::{TestDir, fresh_shared_cache, polyglot_component, repo_root};

/// The steps of the parity packages, in order.
const STEPS: [&str; 9] = [
    "config-params",
    "state-read",
    "worker-info",
    "http",
    "mongo",
    "signing",
    "golden",
    "skip-and-log",
    "fail",
];

/// The golden vectors' keypairs, as workers.json names them: keypair k is worker
/// (k / 2 + 1)'s staking (even k) or main (odd k) key, as the packages assume.
const KEY_VARS: [(&str, &str, &str); 4] = [
    ("worker1", "staking", "PARITY_KEY_0"),
    ("worker1", "main", "PARITY_KEY_1"),
    ("worker2", "staking", "PARITY_KEY_2"),
    ("worker2", "main", "PARITY_KEY_3"),
];

static PYTHON_CACHE: OnceLock<PathBuf> = OnceLock::new();
static JS_CACHE: OnceLock<PathBuf> = OnceLock::new();

fn golden() -> serde_json::Value {
    let path = repo_root().join("tests/fixtures/koii-signatures/vectors.json");
    let text = std::fs::read_to_string(&path).expect("read the golden vectors");
    serde_json::from_str(&text).expect("the golden vectors are JSON")
}

/// The hello example's folder with the parity package, the golden vectors' keypairs on the
/// two workers, a seeded `items` collection and the vectors in config.yaml.
fn parity_dir(component: &str, warm: &'static OnceLock<PathBuf>) -> TestDir {
    let golden = golden();
    let make = |cache: PathBuf| {
        let t =
            TestDir::example("hello-python", &polyglot_component(component)).with_cache_dir(cache);
        let root = t.tests().parent().expect("temp root").to_path_buf();
        std::fs::create_dir_all(root.join("keys")).expect("keys dir");
        let mut env = String::new();
        let mut workers = t.workers_json();
        for (k, (worker, kind, var)) in KEY_VARS.iter().enumerate() {
            let file = format!("keys/key{k}.json");
            std::fs::write(root.join(&file), golden["keypairs"][k].to_string())
                .expect("keypair file");
            env.push_str(&format!("{var}={file}\n"));
            workers[worker]["keypairs"][kind] = (*var).into();
        }
        t.write_workers_json(&workers);
        t.write(".env", &env);
        t.write(
            "data/items.json",
            r#"[{"name": "a", "value": 1}, {"name": "b", "value": 2}]"#,
        );
        t.set_config("task_id", "parity".into());
        t.set_config("max_rounds", 1.into());
        let config = |yaml: &str| serde_yaml::from_str::<serde_yaml::Value>(yaml).expect("yaml");
        t.set_config("nested", config("answer: 42"));
        t.set_config(
            "mongodb",
            config("database: parity\ncollections:\n  items: {data_file: items.json, required_count: 2}"),
        );
        let vectors: Vec<serde_json::Value> = golden["vectors"]
            .as_array()
            .expect("vectors")
            .iter()
            .map(|v| {
                serde_json::json!({
                    "keypair": v["keypair"], "payload": v["payload"],
                    "dumped": v["dumped"], "signature": v["signature"],
                })
            })
            .collect();
        t.set_config(
            "golden_vectors",
            serde_yaml::to_value(&vectors).expect("vectors as YAML"),
        );
        t
    };
    let cache = warm
        .get_or_init(|| {
            let cache = fresh_shared_cache(component);
            let out = make(cache.clone()).run(&["list", "tests/steps.wasm"]);
            assert_eq!(out.code(), 0, "{out}");
            cache
        })
        .clone();
    make(cache)
}

fn every_row_passes(component: &str, warm: &'static OnceLock<PathBuf>, golden_line: &str) {
    let t = parity_dir(component, warm);
    let out = t.run_steps(&[]);
    assert_eq!(out.code(), 0, "{out}");
    assert_eq!(out.started_steps(), STEPS, "{out}");
    assert!(
        out.stdout.contains("PASSED: 8 passed, 1 skipped, 0 failed"),
        "{out}"
    );
    assert!(out.stdout.contains(golden_line), "{out}");
    assert!(
        out.stdout
            .contains("skip-and-log skipped: skipped on purpose in round 1"),
        "{out}"
    );
    for line in ["info line", "warn line", "printed line"] {
        assert!(out.stdout.contains(line), "{line}: {out}");
    }
    let state = t.state();
    assert_eq!(state["global"]["post_load_ran"], serde_json::json!(true));
    assert_eq!(state["global"]["shared"]["counter"], serde_json::json!(1));
    assert_eq!(
        state["rounds"]["1"]["round_value"],
        serde_json::json!({"n": 1})
    );

    // The fail row: a failure ends the run with the step's own message.
    t.set_config("fail_on_purpose", true.into());
    let out = t.run_steps(&["--reset"]);
    assert_eq!(out.code(), 1, "{out}");
    assert!(out.stdout.contains("failed on purpose"), "{out}");
}

#[test]
fn python_helper_covers_every_row() {
    every_row_passes(
        "parity_python",
        &PYTHON_CACHE,
        "golden: 1150 vectors signed byte-identically",
    );
}

#[test]
fn js_helper_covers_every_row() {
    every_row_passes(
        "parity_js",
        &JS_CACHE,
        "golden: 1150 vectors signed byte-identically (",
    );
}
