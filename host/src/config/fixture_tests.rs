//! Every folder of `tests/fixtures/peer-suites` (real users' test configurations) loads
//! through [`super::load()`], with the ports, URLs and paths the reference gives them.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use super::*;

/// `tests/fixtures/peer-suites`, found from the crate (workspace build) or from this file's
/// absolute path (when compiled from another crate).
fn peer_suites() -> PathBuf {
    let from_manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/peer-suites");
    let from_file = Path::new(file!())
        .ancestors()
        .nth(4)
        .map(|root| root.join("tests/fixtures/peer-suites"));
    [Some(from_manifest), from_file]
        .into_iter()
        .flatten()
        .find(|path| path.is_dir())
        .expect("tests/fixtures/peer-suites exists")
}

/// Copies a peer-suite folder into a temporary project with a stand-in `main.py` (fresh
/// files, so read-only fixture modes are not copied).
fn copy_fixture(name: &str) -> (tempfile::TempDir, PathBuf) {
    fn copy_dir(from: &Path, to: &Path) {
        fs::create_dir_all(to).expect("mkdir");
        for entry in fs::read_dir(from).expect("read_dir") {
            let entry = entry.expect("entry");
            let target = to.join(entry.file_name());
            if entry.file_type().expect("type").is_dir() {
                copy_dir(&entry.path(), &target);
            } else {
                fs::write(&target, fs::read(entry.path()).expect("read")).expect("write");
            }
        }
    }
    let root = tempfile::tempdir().expect("tempdir");
    let project = root.path().canonicalize().expect("canonical").join(name);
    copy_dir(&peer_suites().join(name), &project);
    fs::write(project.join("main.py"), "").expect("main.py");
    (root, project)
}

#[test]
fn every_peer_suite_loads() {
    let names: Vec<String> = fs::read_dir(peer_suites())
        .expect("read_dir")
        .map(|entry| {
            entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    assert!(names.len() >= 2, "{names:?}");
    let env: BTreeMap<String, String> = ["1", "2"]
        .iter()
        .flat_map(|n| {
            [
                (format!("WORKER{n}_GITHUB_TOKEN"), format!("ghp_token_{n}")),
                (format!("WORKER{n}_GITHUB_USERNAME"), format!("user{n}")),
            ]
        })
        .collect();
    for name in names {
        let (_root, project) = copy_fixture(&name);
        let config = load(&project.join("tests/config.yaml"), &env)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!config.workers.is_empty(), "{name}");
        assert!(config.warnings.is_empty(), "{name}: {:?}", config.warnings);
    }
}

#[test]
fn builder_247_uses_explicit_ports_and_literal_env() {
    let (_root, project) = copy_fixture("koii-network__builder-247");
    let config = load(&project.join("tests/config.yaml"), &BTreeMap::new()).expect("loads");
    assert_eq!(config.task_id, "summarizer");
    assert_eq!(config.max_rounds, Some(3));
    assert_eq!(config.data_dir, project.join("tests/data"));
    assert_eq!(config.mongodb.database, "summarizer_test");
    let collections: Vec<&str> = config
        .mongodb
        .collections
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(collections, ["todos", "issues"]);
    let leader = config.worker("leader").expect("leader");
    assert_eq!(
        (leader.port, leader.url.as_str()),
        (5000, "http://localhost:5000")
    );
    assert_eq!(leader.env["WORKER_ID"], "leader");
    let ports: Vec<u16> = config.workers.iter().map(|w| w.port).collect();
    assert_eq!(ports, [5001, 5002, 5000]);
    assert_eq!(
        config.worker("worker2").expect("w2").url,
        "http://localhost:5002"
    );
}

#[test]
fn docs_summarizer_uses_base_port_and_env_vars() {
    let (_root, project) = copy_fixture("Prometheus-Swarm__docs-summarizer");
    let env: BTreeMap<String, String> = [
        ("WORKER1_GITHUB_TOKEN", "ghp_one_secret"),
        ("WORKER1_GITHUB_USERNAME", "alice"),
        ("WORKER2_GITHUB_TOKEN", "ghp_two_secret"),
        ("WORKER2_GITHUB_USERNAME", "bob"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let config = load(&project.join("tests/config.yaml"), &env).expect("loads");
    assert_eq!(config.task_id, "1111");
    assert_eq!(config.max_rounds, None);
    assert_eq!(config.rounds_collection, "documentations");
    assert!(
        config.data_dir.ends_with("data/minimal"),
        "{}",
        config.data_dir.display()
    );
    assert_eq!(
        config.middle_server_url.as_deref(),
        Some("http://localhost:3000")
    );
    let documentations = &config.mongodb.collections["documentations"];
    assert_eq!(
        documentations.data_file.as_deref(),
        Some("documentations.json")
    );
    assert_eq!(documentations.required_count, 1);
    assert_eq!(
        config.mongodb.collections["audits"],
        CollectionConfig::default()
    );
    let w1 = config.worker("worker1").expect("worker1");
    let w2 = config.worker("worker2").expect("worker2");
    assert_eq!((w1.port, w1.url.as_str()), (5000, "http://localhost:5000"));
    assert_eq!((w2.port, w2.url.as_str()), (5001, "http://localhost:5001"));
    assert_eq!(w2.env["GITHUB_TOKEN"], "ghp_two_secret");
    assert_eq!(w1.keypairs["staking"], "WORKER1_STAKING_KEYPAIR");
    assert_eq!(w1.args, [project.join("main.py").display().to_string()]);
    assert_eq!(
        config.secret_values(),
        ["ghp_one_secret", "ghp_two_secret", "alice"]
    );
}
