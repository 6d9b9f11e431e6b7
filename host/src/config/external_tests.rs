//! [`super::load()`] on workers files with external workers, probes and reset hooks: what
//! they resolve to, and the errors (file:line:column, worker, what to do).

use crate::error::UserFacing;

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::json;

use super::*;

/// Loads a tests folder holding an empty config.yaml, `workers` and a `.env`.
fn load_workers(workers: &str, dotenv: &str) -> Result<TestConfig, ConfigError> {
    let root = tempfile::tempdir().expect("tempdir");
    let tests = root.path().join("tests");
    std::fs::create_dir_all(&tests).expect("mkdir");
    std::fs::write(root.path().join("main.py"), "").expect("main.py");
    std::fs::write(tests.join("config.yaml"), "base_port: 6000\n").expect("config");
    std::fs::write(tests.join("workers.json"), workers).expect("workers");
    std::fs::write(tests.join(".env"), dotenv).expect(".env");
    let env = BTreeMap::from([("PATH".to_string(), "/bin".to_string())]);
    load(&tests.join("config.yaml"), &env)
}

fn error_text(workers: &str) -> String {
    let error = load_workers(workers, "").expect_err(workers);
    let hint = error.hint().unwrap_or_default();
    format!("{error}\nhint: {hint}")
}

#[test]
fn an_external_worker_is_reached_at_its_url_with_its_env_and_keys() {
    let config = load_workers(
        r#"{"local": {},
            "remote": {"external": true, "url": "http://Worker2:8080/", "env": {"A": "x"},
                       "env_vars": {"TOKEN": "REMOTE_TOKEN"}, "keypairs": {"staking": "K"},
                       "role": "auditor"}}"#,
        "REMOTE_TOKEN=secret-token\n",
    )
    .expect("loads");
    let local = config.worker("local").expect("local");
    assert_eq!(local.kind, WorkerKind::Local);
    assert_eq!(local.ready, ReadyCheck::default());
    let remote = config.worker("remote").expect("remote");
    assert_eq!(remote.kind, WorkerKind::External { reset: None });
    assert!(remote.is_external());
    assert_eq!(remote.url, "http://worker2:8080");
    assert_eq!(remote.port, 8080);
    assert_eq!(
        remote.ready.probe,
        ReadyProbe::Http {
            path: DEFAULT_HEALTH_PATH.into(),
            status: 200
        }
    );
    assert_eq!(remote.env["A"], "x");
    assert_eq!(remote.env["TOKEN"], "secret-token");
    assert!(
        !remote.env.contains_key("DATABASE_PATH"),
        "nobody starts it"
    );
    assert_eq!(remote.keypairs["staking"], "K");
    assert_eq!(remote.data["url"], json!("http://worker2:8080"));
    assert_eq!(remote.data["port"], json!(8080));
    assert_eq!(remote.data["role"], json!("auditor"));
    assert_eq!(remote.data["external"], json!(true));
    assert!(!remote.data.contains_key("database_path"));
    assert!(config.secret_values().contains(&"secret-token".to_string()));
}

#[test]
fn probes_and_hooks_resolve_per_kind() {
    let config = load_workers(
        r#"{"a": {"ready": {"http": "/up", "timeout": 2}},
            "b": {"external": true, "url": "https://b.test", "ready": {"tcp": true},
                  "reset": {"path": "/reset"}}}"#,
        "",
    )
    .expect("loads");
    let a = config.worker("a").expect("a");
    assert_eq!(
        a.ready.probe,
        ReadyProbe::Http {
            path: "/up".into(),
            status: 200
        }
    );
    assert_eq!(a.ready.timeout, Some(Duration::from_secs(2)));
    let b = config.worker("b").expect("b");
    assert_eq!(b.port, 443);
    assert_eq!(b.ready.probe, ReadyProbe::Tcp);
    assert_eq!(
        b.kind,
        WorkerKind::External {
            reset: Some(ResetHook {
                method: DEFAULT_RESET_METHOD.into(),
                path: "/reset".into(),
                timeout: None
            })
        }
    );
}

#[test]
fn an_old_file_with_a_url_key_loads_as_before() {
    // `url` without `external` stays data the runner overrides, as in the reference.
    let config =
        load_workers(r#"{"w": {"url": "http://elsewhere:1", "port": 6100}}"#, "").expect("loads");
    let w = config.worker("w").expect("w");
    assert!(!w.is_external());
    assert_eq!(w.url, "http://localhost:6100");
}

#[test]
fn bad_external_entries_are_located_and_explained() {
    let cases = [
        (
            "{\"w\": {\"external\": true,\n  \"url\": \"ftp://h:21\"}}",
            "tests/workers.json:2:10: worker `w`: invalid `url`: `ftp://h:21`: the scheme `ftp` is not supported",
        ),
        (
            "{\"w\": {\"external\": true, \"url\": \"http://h\",\n \"command\": [\"x\"], \"server_entrypoint\": \"s.py\"}}",
            "tests/workers.json:2:13: worker `w`: an external worker is not started by the runner, but its entry sets `command`, `server_entrypoint`",
        ),
        (
            "{\"w\": {\"external\": \"yes\"}}",
            "tests/workers.json:1:20: worker `w`: invalid `external`: expected true or false",
        ),
        (
            "{\"w\": {\"external\": true}}",
            "tests/workers.json:1:20: worker `w`: invalid `url`: missing",
        ),
        (
            "{\"a\": {},\n \"w\": {\"external\": true, \"url\": \"http://127.0.0.1:6000\"}}",
            "tests/workers.json:2:33: worker `w`: `url` http://127.0.0.1:6000 is on this host, on port 6000 of local worker `a`",
        ),
        (
            "{\"w\": {\"ready\": {\"interval\": -1}}}",
            "tests/workers.json:1:30: worker `w`: invalid `ready.interval`",
        ),
    ];
    for (workers, expected) in cases {
        let text = error_text(workers);
        assert!(text.contains(expected), "expected `{expected}` in:\n{text}");
        assert!(
            text.contains("\nhint: ") && !text.ends_with("hint: "),
            "{text}"
        );
    }
}

#[test]
fn an_external_worker_elsewhere_may_share_a_local_port_number() {
    load_workers(
        r#"{"a": {}, "w": {"external": true, "url": "http://worker-w:6000"}}"#,
        "",
    )
    .expect("another host's port 6000 is not ours");
}
