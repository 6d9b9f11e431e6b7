use std::collections::BTreeMap;
use std::fs;

use super::*;
use crate::config;

/// A project with two workers; `worker1` has `keypairs`, `worker2` none.
fn project(keypairs: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let root = tempfile::tempdir().expect("tempdir");
    let tests = root.path().join("tests");
    fs::create_dir_all(&tests).expect("mkdir");
    fs::write(root.path().join("main.py"), "").expect("main.py");
    fs::write(tests.join("config.yaml"), "max_rounds: 1\n").expect("config");
    fs::write(
        tests.join("workers.json"),
        format!(r#"{{"worker1": {{"keypairs": {keypairs}}}, "worker2": {{}}}}"#),
    )
    .expect("workers");
    (root, tests.join("config.yaml"))
}

fn key_file(dir: &Path, name: &str, seed: u8) -> String {
    let bytes = ed25519_dalek::SigningKey::from_bytes(&[seed; 32]).to_keypair_bytes();
    fs::write(
        dir.join(name),
        serde_json::to_string(&bytes.to_vec()).expect("json"),
    )
    .expect("key");
    name.to_string()
}

fn load(config_path: &Path, env: &[(&str, &str)]) -> Result<Keyring, KeyError> {
    let env: BTreeMap<String, String> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Keyring::load(&config::load(config_path, &env).expect("config loads"))
}

#[test]
fn keypairs_load_from_paths_in_variables_relative_to_the_project() {
    let (root, config) = project(r#"{"staking": "W1_STAKING", "public": "W1_MAIN"}"#);
    let staking = key_file(root.path(), "staking.json", 1);
    let main = key_file(root.path(), "main.json", 2);
    let keyring = load(&config, &[("W1_STAKING", &staking), ("W1_MAIN", &main)]).expect("loads");
    let expected = Keypair::from_seed(&[2; 32]);
    assert_eq!(
        keyring
            .get("worker1", KeyKind::Main)
            .map(Keypair::public_key),
        Some(expected.public_key())
    );
    assert!(keyring.get("worker1", KeyKind::Staking).is_some());
    assert!(keyring.get("worker2", KeyKind::Staking).is_none());
    assert_eq!(keyring.secret_values().len(), 6);
}

#[test]
fn keypair_errors_name_worker_variable_and_path() {
    let (root, config) = project(r#"{"staking": "W1_STAKING"}"#);
    let unset = load(&config, &[]).expect_err("unset").to_string();
    assert!(
        unset.contains("worker `worker1`: keypair `staking`: variable W1_STAKING is not set"),
        "{unset}"
    );

    let missing = load(&config, &[("W1_STAKING", "keys/none.json")]).expect_err("missing");
    let text = missing.to_string();
    assert!(text.contains("(from W1_STAKING) does not exist"), "{text}");
    assert!(
        text.contains(&root.path().join("keys/none.json").display().to_string()),
        "{text}"
    );
    assert!(
        missing.hint().contains("solana-keygen"),
        "{}",
        missing.hint()
    );

    fs::write(root.path().join("bad.json"), "[\"hunter2-secret\"]").expect("bad");
    let bad = load(&config, &[("W1_STAKING", "bad.json")])
        .expect_err("bad")
        .to_string();
    assert!(
        bad.contains("bad.json (from W1_STAKING): it is not a keypair"),
        "{bad}"
    );
    assert!(!bad.contains("hunter2"), "{bad}");
}

#[test]
fn unknown_or_duplicate_kinds_are_refused() {
    let (_root, config) = project(r#"{"stacking": "X"}"#);
    assert!(matches!(
        *load(&config, &[]).expect_err("unknown").kind,
        KeyErrorKind::UnknownKind
    ));
    let (root, config) = project(r#"{"main": "A", "public": "B"}"#);
    let a = key_file(root.path(), "a.json", 1);
    let error = load(&config, &[("A", &a), ("B", &a)]).expect_err("duplicate");
    assert!(matches!(*error.kind, KeyErrorKind::Duplicate), "{error}");
}
