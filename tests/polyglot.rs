//! The hello example with steps in Python (`examples/hello-python`, componentize-py) and in
//! JavaScript (`examples/hello-js`, componentize-qjs), end to end against real
//! `hello-worker` processes, with the assertions of the Rust example's tests: step order,
//! the skip, the state, a failure and its resume; and how a Python exception and a
//! JavaScript error reach the user.
//!
//! Both packages are built by `scripts/build-polyglot.sh`. They are large (1.7 MB of
//! QuickJS, 19 MB of CPython), so the tests of this binary share one compiled-code cache:
//! each package is compiled once, by the first test that needs it, and every run after
//! that must load it from the cache.

use std::path::PathBuf;
use std::sync::OnceLock;

use serde_json::json;
use system_tests::{TestDir, component, fresh_shared_cache, polyglot_component};

const ROUND: [&str; 5] = [
    "check-health",
    "submit-greeting",
    "audit-greeting",
    "bonus-round",
    "summary",
];

/// One guest language's example.
struct Lang {
    /// Folder under examples/.
    example: &'static str,
    /// Component name under target/polyglot/.
    component: &'static str,
    /// The step package, compiled into the shared cache by the first test that asks.
    warm: &'static OnceLock<PathBuf>,
}

static PYTHON_CACHE: OnceLock<PathBuf> = OnceLock::new();
static JS_CACHE: OnceLock<PathBuf> = OnceLock::new();

const PYTHON: Lang = Lang {
    example: "hello-python",
    component: "hello_python",
    warm: &PYTHON_CACHE,
};
const JS: Lang = Lang {
    example: "hello-js",
    component: "hello_js",
    warm: &JS_CACHE,
};

impl Lang {
    /// The shared cache, holding this language's package compiled. The first caller
    /// compiles it (with `list`) into an empty cache; concurrent callers wait for it.
    fn cache(&self) -> PathBuf {
        self.warm
            .get_or_init(|| {
                let cache = fresh_shared_cache(self.component);
                let t = TestDir::example(self.example, &polyglot_component(self.component))
                    .with_cache_dir(cache.clone());
                // Entries only: the cache's HMAC key (`.cache-key`) sits beside them.
                let entries = || {
                    std::fs::read_dir(&cache).map_or(0, |d| {
                        d.flatten()
                            .filter(|e| e.file_name().to_string_lossy().ends_with(".cwasm"))
                            .count()
                    })
                };
                assert_eq!(entries(), 0, "the shared cache starts empty");
                let out = t.run(&["list", "tests/steps.wasm"]);
                assert_eq!(out.code(), 0, "{out}");
                assert_eq!(entries(), 1, "listing compiled the package into the cache");
                cache
            })
            .clone()
    }

    /// The example's test folder with the package, using the shared cache.
    fn test_dir(&self) -> TestDir {
        let cache = self.cache();
        TestDir::example(self.example, &polyglot_component(self.component)).with_cache_dir(cache)
    }
}

fn full_run_matches_the_rust_example(lang: &Lang) {
    let t = lang.test_dir();
    let out = t.run_steps(&[]);
    assert_eq!(out.code(), 0, "{out}");
    // The package was compiled by the warm-up: this run starts from the cache.
    assert!(out.stdout.contains("loaded from cache in"), "{out}");
    let expected: Vec<&str> = ROUND.iter().chain(ROUND.iter()).copied().collect();
    assert_eq!(out.started_steps(), expected, "{out}");
    assert!(
        out.stdout
            .contains("bonus-round skipped: bonus runs only in even rounds (round 1)"),
        "{out}"
    );
    assert!(
        out.stdout.contains("PASSED: 9 passed, 1 skipped, 0 failed"),
        "{out}"
    );
    assert!(
        out.stdout.contains("[worker1] POST /greetings 201"),
        "{out}"
    );
    assert!(
        out.stdout.contains("greeting worker1-2 posted (2 so far)"),
        "{out}"
    );
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
    assert_eq!(state["rounds"]["1"]["greeting_from"], json!("worker1"));
    assert_eq!(state["rounds"]["2"]["audited"], json!(true));

    // The manifest is the Rust package's, params included.
    let out = t.run(&["list", "tests/steps.wasm", "--json"]);
    assert_eq!(out.code(), 0, "{out}");
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).expect("list --json");
    let names: Vec<&str> = doc["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| s["name"].as_str().expect("name"))
        .collect();
    assert_eq!(names, ROUND);
    assert_eq!(doc["steps"][1]["params"], json!({"text": "hello"}));
    assert_eq!(doc["steps"][2]["worker"], json!("worker2"));
}

fn failure_then_resume_at_the_failed_step(lang: &Lang) {
    let t = lang.test_dir();
    t.set_config("fail_step", "audit-greeting".into());
    let out = t.run_steps(&[]);
    assert_eq!(out.code(), 1, "{out}");
    assert_eq!(
        out.started_steps(),
        ["check-health", "submit-greeting", "audit-greeting"]
    );
    assert!(
        out.stdout
            .contains("audit-greeting failed (round 1, worker worker2"),
        "{out}"
    );
    assert!(
        out.stdout
            .contains("injected failure in audit-greeting (config fail_step)"),
        "{out}"
    );
    // A deliberate `fail(...)` shows its message only, no traceback.
    assert!(!out.stdout.contains("Traceback"), "{out}");
    assert!(!out.stdout.contains("    at "), "{out}");
    let state = t.state();
    assert_eq!(state["current_round"], json!(1));
    assert_eq!(state["last_completed_step"], json!("submit-greeting"));

    t.remove_config("fail_step");
    let out = t.run_steps(&[]);
    assert_eq!(out.code(), 0, "{out}");
    assert!(
        out.stdout
            .contains("resuming round 1 after step submit-greeting"),
        "{out}"
    );
    let started = out.started_steps();
    assert_eq!(started[0], "audit-greeting", "{out}");
    assert_eq!(started.len(), 3 + 5, "{out}");
    assert_eq!(
        t.state()["global"]["greeting_ids"],
        json!(["worker1-1", "worker1-2"])
    );
    assert!(!out.stdout.contains("post-load ran"), "{out}");
}

#[test]
fn python_full_run_matches_the_rust_example() {
    full_run_matches_the_rust_example(&PYTHON);
}

#[test]
fn js_full_run_matches_the_rust_example() {
    full_run_matches_the_rust_example(&JS);
}

#[test]
fn python_failure_then_resume_at_the_failed_step() {
    failure_then_resume_at_the_failed_step(&PYTHON);
}

#[test]
fn js_failure_then_resume_at_the_failed_step() {
    failure_then_resume_at_the_failed_step(&JS);
}

#[test]
fn python_exception_reaches_the_user_with_its_traceback() {
    let t = PYTHON.test_dir();
    t.set_config("raise_in", "audit-greeting".into());
    let out = t.run_steps(&[]);
    assert_eq!(out.code(), 1, "{out}");
    assert!(
        out.stdout
            .contains("audit-greeting failed (round 1, worker worker2, "),
        "{out}"
    );
    assert!(
        out.stdout
            .contains("execute returned an error: KeyError: 'injected-audit-greeting'"),
        "{out}"
    );
    assert!(
        out.stdout.contains("Traceback (most recent call last):"),
        "{out}"
    );
    // The frames name the example's file and functions, down to where it was raised.
    assert!(out.stdout.contains("hello_steps.py\", line "), "{out}");
    assert!(out.stdout.contains("in audit_greeting_execute"), "{out}");
    assert!(out.stdout.contains("in fail_if_injected"), "{out}");
    // ...and not the helper module's export shim.
    assert!(!out.stdout.contains("in _guarded"), "{out}");
    assert!(!out.stdout.contains("trapped"), "{out}");
    assert_eq!(t.state()["last_completed_step"], json!("submit-greeting"));
}

#[test]
fn js_thrown_error_reaches_the_user_with_its_stack() {
    let t = JS.test_dir();
    t.set_config("throw_in", "summary".into());
    let out = t.run_steps(&[]);
    assert_eq!(out.code(), 1, "{out}");
    assert!(
        out.stdout
            .contains("summary failed (round 1, worker worker1, "),
        "{out}"
    );
    assert!(
        out.stdout.contains(
            "execute returned an error: TypeError: cannot read property 'text' of undefined"
        ),
        "{out}"
    );
    assert!(
        out.stdout.contains("at failIfInjected (/hello-steps.js:"),
        "{out}"
    );
    assert!(!out.stdout.contains("at guarded"), "{out}");
    assert!(!out.stdout.contains("trapped"), "{out}");
    assert_eq!(t.state()["last_completed_step"], json!("bonus-round"));
}

#[test]
fn a_run_started_in_rust_is_resumed_in_python_and_finished_in_javascript() {
    // Packages in different languages share the test folder's state: what one wrote,
    // the next reads. (Several packages in one run is the plans issue's work.)
    let t = TestDir::example("hello", &component("hello_steps"));
    t.set_config("fail_step", "audit-greeting".into());
    let out = t.run_steps(&[]);
    assert_eq!(out.code(), 1, "{out}");
    assert_eq!(t.state()["last_completed_step"], json!("submit-greeting"));

    let t = t.with_cache_dir(PYTHON.cache());
    t.use_steps(&polyglot_component("hello_python"));
    t.set_config("fail_step", "submit-greeting".into());
    t.set_config("fail_round", 2.into());
    let out = t.run_steps(&[]);
    assert_eq!(out.code(), 1, "{out}");
    // The Python audit read the greeting the Rust step posted and stored.
    assert_eq!(out.started_steps()[0], "audit-greeting", "{out}");
    assert_eq!(t.state()["rounds"]["1"]["audited"], json!(true));
    assert_eq!(t.state()["current_round"], json!(2));
    assert_eq!(t.state()["last_completed_step"], json!("check-health"));

    let t = t.with_cache_dir(JS.cache());
    t.use_steps(&polyglot_component("hello_js"));
    t.remove_config("fail_step");
    let out = t.run_steps(&[]);
    assert_eq!(out.code(), 0, "{out}");
    assert_eq!(out.started_steps()[0], "submit-greeting", "{out}");
    let state = t.state();
    assert_eq!(state["last_completed_step"], json!("summary"));
    assert_eq!(
        state["global"]["greeting_ids"],
        json!(["worker1-1", "worker1-2"])
    );
    assert_eq!(state["rounds"]["2"]["audited"], json!(true));
}

#[test]
fn one_plan_runs_steps_from_rust_python_and_javascript_packages() {
    // A round whose steps come from three packages in three languages: each step runs in
    // its own package, and they hand data to each other through the runner state.
    let t = TestDir::example("hello", &component("hello_steps")).with_cache_dir(PYTHON.cache());
    let plan = format!(
        "packages:\n  rust: {{path: {}}}\n  py: {{path: {}}}\n  js: {{path: {}}}\n\
         steps:\n  - use: rust/check-health\n  - use: py/submit-greeting\n  \
         - use: js/audit-greeting\n  - use: rust/bonus-round\n  - use: py/summary\n",
        component("hello_steps").display(),
        polyglot_component("hello_python").display(),
        polyglot_component("hello_js").display(),
    );
    t.write("plan.yaml", &plan);
    let out = t.run(&["run", "tests/plan.yaml"]);
    assert_eq!(out.code(), 0, "{out}");
    let expected: Vec<&str> = ROUND.iter().chain(ROUND.iter()).copied().collect();
    assert_eq!(out.started_steps(), expected, "{out}");
    assert!(
        out.stdout.contains("PASSED: 9 passed, 1 skipped, 0 failed"),
        "{out}"
    );
    let state = t.state();
    assert_eq!(
        state["global"]["greeting_ids"],
        json!(["worker1-1", "worker1-2"])
    );
    assert_eq!(state["rounds"]["2"]["audited"], json!(true));
    // Every package's post-load ran (each sets the same flag; the Python and JS helpers
    // log their own line).
    assert_eq!(state["global"]["post_load_ran"], json!(true));
}
