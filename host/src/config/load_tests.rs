//! End-to-end tests of [`super::load()`] on temporary test folders and on every folder of
//! `tests/fixtures/peer-suites`.

use crate::error::UserFacing;

use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::json;

use super::*;

/// A temporary project: `<root>/project/main.py` and `<root>/project/tests/`.
struct Project {
    _root: tempfile::TempDir,
    project: PathBuf,
    tests: PathBuf,
}

impl Project {
    fn new(config: &str, workers: &str) -> Self {
        let root = tempfile::tempdir().expect("tempdir");
        let project = root.path().join("project");
        let tests = project.join("tests");
        fs::create_dir_all(&tests).expect("mkdir");
        fs::write(project.join("main.py"), "# stand-in server\n").expect("write main.py");
        fs::write(tests.join("config.yaml"), config).expect("write config");
        fs::write(tests.join("workers.json"), workers).expect("write workers");
        let project = project.canonicalize().expect("canonical");
        let tests = project.join("tests");
        Project {
            _root: root,
            project,
            tests,
        }
    }

    fn write(&self, relative: &str, text: &str) -> &Self {
        let path = self.project.join(relative);
        fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        fs::write(path, text).expect("write");
        self
    }

    fn load(&self, process_env: &[(&str, &str)]) -> Result<TestConfig, ConfigError> {
        let env = process_env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        load(&self.tests.join("config.yaml"), &env)
    }
}

#[test]
fn empty_config_gives_reference_defaults() {
    let p = Project::new("", r#"{"solo": {}}"#);
    let config = p.load(&[]).expect("loads");
    assert_eq!(config.config_path, p.tests.join("config.yaml"));
    assert_eq!(config.tests_dir, p.tests);
    assert_eq!(config.task_id, "test-task-123");
    assert_eq!(config.base_port, 5000);
    assert_eq!(config.max_rounds, None);
    assert_eq!(config.rounds_collection, "todos");
    assert_eq!(config.data_dir, p.tests.join("data"));
    assert_eq!(config.workers_config, p.tests.join("workers.json"));
    assert_eq!(config.server_entrypoint, None);
    assert_eq!(config.middle_server_url, None);
    assert!(config.allowed_hosts.is_empty());
    assert_eq!(config.startup_timeout, Duration::from_secs(30));
    assert_eq!(config.mongodb, MongoConfig::default());
    assert_eq!(config.mongodb.database, "builder247");
    assert_eq!(config.raw, json!({}));
    assert!(config.warnings.is_empty());
    let solo = config.worker("solo").expect("worker");
    assert_eq!(
        (solo.port, solo.url.as_str()),
        (5000, "http://localhost:5000")
    );
    assert_eq!(solo.program, "python3");
    assert_eq!(solo.args, [p.project.join("main.py").display().to_string()]);
    assert_eq!(solo.cwd, p.tests);
    assert_eq!(solo.database_path, p.tests.join("data/database_solo.db"));
}

#[test]
fn relative_paths_follow_the_reference_rules() {
    let config = "data_dir: d/x\nworkers_config: cfg/w.json\nserver_entrypoint: srv/run.py\n\
                  startup_timeout: 2.5\nallowed_hosts: [\"http://api.test:8080\"]\n";
    let workers = r#"{"a": {}, "b": {"server_entrypoint": "bin/server"}}"#;
    let p = Project::new(config, "{}");
    p.write("tests/cfg/w.json", workers)
        .write("srv/run.py", "")
        .write("bin/server", "");
    let config = p.load(&[]).expect("loads");
    assert_eq!(config.data_dir, p.tests.join("d/x"));
    assert_eq!(config.workers_config, p.tests.join("cfg/w.json"));
    assert_eq!(config.server_entrypoint, Some(p.project.join("srv/run.py")));
    assert_eq!(config.startup_timeout, Duration::from_millis(2500));
    assert_eq!(config.allowed_hosts, ["http://api.test:8080"]);
    let a = config.worker("a").expect("a");
    assert_eq!(a.program, "python3");
    assert_eq!(a.args, [p.project.join("srv/run.py").display().to_string()]);
    let b = config.worker("b").expect("b");
    assert_eq!(
        b.program,
        p.project.join("bin/server").display().to_string()
    );
    assert!(b.args.is_empty());
    assert_eq!(
        b.data["server_entrypoint"], "bin/server",
        "entry keys kept as written"
    );

    let absolute = p.project.join("elsewhere");
    fs::write(
        p.tests.join("config.yaml"),
        format!(
            "data_dir: {}\nworkers_config: cfg/w.json\nserver_entrypoint: srv/run.py\n",
            absolute.display()
        ),
    )
    .expect("rewrite");
    assert_eq!(p.load(&[]).expect("loads").data_dir, absolute);
}

#[test]
fn ports_follow_file_order_unless_set_and_urls_follow_ports() {
    let p = Project::new(
        "base_port: 6000\n",
        r#"{"b": {}, "a": {"port": 7000, "url": "http://stale:1", "role": "x"}, "c": {}}"#,
    );
    let config = p.load(&[]).expect("loads");
    let ports: Vec<(&str, u16, &str)> = config
        .workers
        .iter()
        .map(|w| (w.name.as_str(), w.port, w.url.as_str()))
        .collect();
    assert_eq!(
        ports,
        [
            ("b", 6000, "http://localhost:6000"),
            ("a", 7000, "http://localhost:7000"),
            ("c", 6002, "http://localhost:6002"),
        ]
    );
    let a = config.worker("a").expect("a");
    assert_eq!(a.env["PORT"], "7000");
    assert_eq!(a.data["port"], 7000);
    assert_eq!(a.data["url"], "http://localhost:7000");
    assert_eq!(a.data["role"], "x");
    assert_eq!(a.data["name"], "a");
    assert_eq!(a.data["base_dir"], p.tests.display().to_string());
}

#[test]
fn port_past_65535_is_an_error() {
    let p = Project::new("base_port: 65535\n", r#"{"w1": {}, "w2": {}}"#);
    let error = p.load(&[]).expect_err("overflow").to_string();
    assert!(error.contains("worker `w2`: invalid `port`"), "{error}");
}

#[test]
fn worker_env_layers_process_dotenv_literals_and_mappings() {
    let workers = r#"{"w1": {"env": {"MODE": "literal", "N": 3, "SHARED": "literal"},
                             "env_vars": {"GITHUB_TOKEN": "W1_TOKEN", "DATA_DIR": "/data/x"}}}"#;
    let p = Project::new("", workers);
    p.write(
        ".env",
        "W1_TOKEN=from-project\nPARENT_ONLY=parent-secret\nSHARED=project\n",
    )
    .write("tests/.env", "W1_TOKEN=from-tests-env\n");
    let config = p
        .load(&[
            ("PATH", "/bin"),
            ("SHARED", "process"),
            ("PARENT_ONLY", "proc"),
        ])
        .expect("loads");
    assert_eq!(
        config.env["PARENT_ONLY"], "proc",
        "project .env fills only unset names"
    );
    assert_eq!(
        config.env["W1_TOKEN"], "from-tests-env",
        "tests/.env overrides"
    );
    let w1 = config.worker("w1").expect("w1");
    assert_eq!(w1.env["PATH"], "/bin");
    assert_eq!(w1.env["MODE"], "literal");
    assert_eq!(w1.env["N"], "3");
    assert_eq!(
        w1.env["SHARED"], "literal",
        "entry literals override the run env"
    );
    assert_eq!(w1.env["GITHUB_TOKEN"], "from-tests-env");
    assert_eq!(w1.env["DATA_DIR"], "/data/x", "DATA_DIR is used literally");
    assert_eq!(w1.env["PORT"], "5000");
    assert_eq!(w1.env["PYTHONUNBUFFERED"], "1");
    let db = p.tests.join("data/database_w1.db").display().to_string();
    assert_eq!(w1.env["DATABASE_PATH"], db);
    assert_eq!(w1.env_vars["GITHUB_TOKEN"], "W1_TOKEN");
    assert!(!w1.data.contains_key("env_vars"));
    assert_eq!(config.secret_values(), ["from-tests-env"]);
}

#[test]
fn secret_values_skip_short_values_and_sort_longest_first() {
    let workers = r#"{"w": {"env_vars": {"A": "SRC_A", "B": "SRC_B"}}}"#;
    let p = Project::new("", workers);
    p.write("tests/.env", "FLAG=1\nAPI_KEY=sk-abcdef\n");
    let config = p
        .load(&[("SRC_A", "abc"), ("SRC_B", "longer-token")])
        .expect("loads");
    assert_eq!(config.secret_values(), ["longer-token", "sk-abcdef"]);
}

#[test]
fn missing_env_vars_name_worker_and_variables() {
    let workers = r#"{"worker1": {"env_vars": {"GITHUB_TOKEN": "WORKER1_GITHUB_TOKEN",
                     "DATA_DIR": "unused", "GITHUB_USERNAME": "WORKER1_GITHUB_USERNAME"}}}"#;
    let p = Project::new("", workers);
    let error = p
        .load(&[("WORKER1_GITHUB_USERNAME", "")])
        .expect_err("missing");
    let text = error.to_string();
    assert!(
        text.ends_with(
            "workers.json: worker `worker1`: missing required environment variables: \
         GITHUB_TOKEN (WORKER1_GITHUB_TOKEN), GITHUB_USERNAME (WORKER1_GITHUB_USERNAME)"
        ),
        "{text}"
    );
    assert!(error.hint().expect("hint").contains("WORKER1_GITHUB_TOKEN"));
}

#[test]
fn command_expands_variables_and_resolves_a_relative_program() {
    let workers = r#"{"w": {"command": ["./bin/srv", "--host=${HOST}", "--mode=${MODE:-dev}",
                                        "--port=${PORT}", "$literal"]},
                      "x": {"command": ["node", "${MISSING:-server.js}"]}}"#;
    let p = Project::new("", workers);
    let config = p.load(&[("HOST", "127.0.0.1")]).expect("loads");
    let w = config.worker("w").expect("w");
    assert_eq!(w.program, p.tests.join("./bin/srv").display().to_string());
    assert_eq!(
        w.args,
        ["--host=127.0.0.1", "--mode=dev", "--port=5000", "$literal"]
    );
    assert!(!w.data.contains_key("server_entrypoint"));
    let x = config.worker("x").expect("x");
    assert_eq!(
        (x.program.as_str(), x.args.as_slice()),
        ("node", &["server.js".to_string()][..])
    );

    let p = Project::new("", r#"{"w": {"command": ["srv", "${NOPE}"]}}"#);
    let error = p.load(&[]).expect_err("unset");
    assert!(
        error
            .to_string()
            .ends_with("worker `w`: `command` uses unset variable `NOPE`"),
        "{error}"
    );
    assert!(error.hint().expect("hint").contains("${NOPE:-value}"));
}

#[test]
fn missing_entrypoint_names_worker_and_path() {
    let p = Project::new("", r#"{"w": {"server_entrypoint": "nope.py"}}"#);
    let error = p.load(&[]).expect_err("missing");
    let text = error.to_string();
    assert!(
        text.contains("worker `w`: server entrypoint not found at"),
        "{text}"
    );
    assert!(
        text.contains(&p.project.join("nope.py").display().to_string()),
        "{text}"
    );
    assert!(error.hint().expect("hint").contains("command"));
}

#[test]
fn extra_keys_are_readable_by_dotted_key() {
    let config = "task_id: 42\npost_urls:\n  worker1: http://a\nlist: [x, {y: z}]\n\"a.b\": flat\n";
    let p = Project::new(config, "{}");
    let config = p.load(&[]).expect("loads");
    assert_eq!(config.task_id, "42");
    assert_eq!(config.get("post_urls.worker1"), Some(&json!("http://a")));
    assert_eq!(config.get("list.1.y"), Some(&json!("z")));
    assert_eq!(config.get("a.b"), Some(&json!("flat")));
    assert_eq!(config.get("task_id"), Some(&json!(42)));
    assert_eq!(config.get("post_urls.nope"), None);
    assert_eq!(config.get("task_id.x"), None);
}

#[test]
fn typo_of_a_known_key_is_a_warning() {
    let p = Project::new("task_id: t\nbase_port: 5000\nmax_round: 3\n", "{}");
    let config = p.load(&[]).expect("loads");
    assert_eq!(config.max_rounds, None);
    assert_eq!(config.warnings.len(), 1);
    assert!(
        config.warnings[0]
            .ends_with("config.yaml:3:1: unknown key `max_round`; did you mean `max_rounds`?"),
        "{:?}",
        config.warnings
    );
}

#[test]
fn malformed_files_name_file_line_and_column() {
    let p = Project::new("task_id: t\nmongodb:\n  database: [x\n", "{}");
    let text = p.load(&[]).expect_err("yaml").to_string();
    assert!(text.contains("config.yaml:4:1: syntax error"), "{text}");

    let p = Project::new("", "{\n  \"w\": {\"port\": }\n}\n");
    let text = p.load(&[]).expect_err("json").to_string();
    assert!(text.contains("workers.json:2:"), "{text}");
}

#[test]
fn missing_files_are_named() {
    let root = tempfile::tempdir().expect("tempdir");
    let missing = root.path().join("tests/config.yaml");
    let error = load(&missing, &BTreeMap::new()).expect_err("missing config");
    assert_eq!(
        error.to_string(),
        format!("{}: file not found", missing.display())
    );
    assert!(error.hint().is_some());

    let p = Project::new("workers_config: nodes.json\n", "{}");
    let error = p.load(&[]).expect_err("missing workers file");
    let text = error.to_string();
    assert!(text.ends_with("nodes.json: file not found"), "{text}");
    assert!(error.hint().expect("hint").contains("workers_config"));
}

#[test]
fn secrets_are_named_mapped_flagged_or_uri_credentials_never_plain_dotenv() {
    let workers = r#"{"w": {"env_vars": {"GH": "SRC_GH"},
                            "keypairs": {"staking": "STAKING_PATH"},
                            "env": {"DB_PASSWORD": "literal-pw"}}}"#;
    let p = Project::new("mongodb:\n  uri: mongodb://admin:hunter22@db/x\n", workers);
    p.write(
        "tests/.env",
        "NODE_ENV=test\nMY_THING=custom-value\nAPI_KEY=sk-abcdef\nSHORT_PASS=abc\n",
    );
    let config = p
        .load(&[
            ("SRC_GH", "gh-value-1"),
            ("STAKING_PATH", "/keys/staking.json"),
            ("CI_URL", "https://tok123456@git.example/x"),
        ])
        .expect("loads");
    let secrets = config.secrets(&["MY_THING".into(), "NOPE".into()]);
    let values = secrets.values();
    for v in [
        "gh-value-1",
        "/keys/staking.json",
        "literal-pw",
        "custom-value",
        "sk-abcdef",
        "hunter22",
        "tok123456",
    ] {
        assert!(values.contains(&v.to_string()), "{v}: {values:?}");
    }
    assert!(
        !values.iter().any(|v| v == "test" || v == "abc"),
        "{values:?}"
    );
    assert_eq!(secrets.unknown, ["NOPE"]);
    let short = secrets.variables.iter().find(|v| v.name == "SHORT_PASS");
    assert!(!short.expect("listed").is_masked());
    assert!(secrets.variables.iter().all(|v| v.name != "NODE_ENV"));
    // Without --secret, a .env value alone is not secret.
    assert!(!config.secret_values().contains(&"custom-value".to_string()));
}
