//! Koii compatibility through the binary: both real peer-suite folders pass `check`
//! unchanged (given a .env with keypairs and a stand-in entrypoint) with the right plan and
//! no secret in the output; `sign` and `verify` reproduce the reference's vectors.

use std::path::{Path, PathBuf};

use serde_json::Value;
use system_tests::{RunOutput, copy_dir, repo_root, run_in};

fn vectors() -> Value {
    let text =
        std::fs::read_to_string(repo_root().join("tests/fixtures/koii-signatures/vectors.json"))
            .expect("vectors.json");
    serde_json::from_str(&text).expect("vectors parse")
}

/// A peer suite copied into a temp project with a stand-in `main.py`, keypair files
/// (the reference vectors' keypairs 0..4) and a tests/.env naming them.
fn project(name: &str) -> (tempfile::TempDir, PathBuf) {
    let root = tempfile::tempdir().expect("tempdir");
    copy_dir(
        &repo_root().join("tests/fixtures/peer-suites").join(name),
        root.path(),
    );
    std::fs::write(root.path().join("main.py"), "").expect("main.py");
    let keypairs = vectors()["keypairs"].clone();
    let mut env = String::from(
        "WORKER1_GITHUB_TOKEN=ghp_secret_token_one\nWORKER1_GITHUB_USERNAME=alice-secret\n\
         WORKER2_GITHUB_TOKEN=ghp_secret_token_two\nWORKER2_GITHUB_USERNAME=bobby-secret\n",
    );
    for (i, var) in [
        "WORKER1_STAKING_KEYPAIR",
        "WORKER1_PUBLIC_KEYPAIR",
        "WORKER2_STAKING_KEYPAIR",
        "WORKER2_PUBLIC_KEYPAIR",
    ]
    .iter()
    .enumerate()
    {
        std::fs::create_dir_all(root.path().join("keys")).expect("keys dir");
        std::fs::write(
            root.path().join(format!("keys/{i}.json")),
            keypairs[i].to_string(),
        )
        .expect("key");
        env.push_str(&format!("{var}=keys/{i}.json\n"));
    }
    std::fs::write(root.path().join("tests/.env"), env).expect(".env");
    let path = root.path().to_path_buf();
    (root, path)
}

fn assert_no_secrets(out: &RunOutput, dir: &Path) {
    let all = out.all();
    for secret in [
        "ghp_secret_token_one",
        "ghp_secret_token_two",
        "alice-secret",
        "bobby-secret",
    ] {
        assert!(!all.contains(secret), "{secret} leaked:\n{all}");
    }
    for key in vectors()["keypairs"].as_array().expect("list") {
        let compact = key.to_string();
        assert!(
            !all.contains(&compact[1..40]),
            "a private key leaked:\n{all}"
        );
    }
    let _ = dir;
}

#[test]
fn docs_summarizer_passes_check_with_its_plan_and_no_secrets() {
    let (_root, dir) = project("Prometheus-Swarm__docs-summarizer");
    let out = run_in(&dir, &["check", "tests"]);
    assert_eq!(out.code(), 0, "{out}");
    let public = vectors()["public_keys"].clone();
    let expected = [
        "config: ".to_string(),
        "(task_id 1111)".into(),
        "worker1: port 5000, http://localhost:5000".into(),
        "worker2: port 5001, http://localhost:5001".into(),
        format!("command: python3 {}", dir.canonicalize().expect("canonical").join("main.py").display()),
        "variables: GITHUB_TOKEN <- WORKER1_GITHUB_TOKEN, GITHUB_USERNAME <- WORKER1_GITHUB_USERNAME".into(),
        format!("staking key: {} (from WORKER1_STAKING_KEYPAIR)", public[0].as_str().expect("str")),
        format!("main key: {} (from WORKER2_PUBLIC_KEYPAIR)", public[3].as_str().expect("str")),
        "mongodb database: builder247".into(),
        "documentations: 1 document from ".into(),
        "audits: no data file, required_count 0".into(),
        "rounds: 2 = 1 `documentations` document for the task + 1".into(),
        "http://localhost:5000, http://127.0.0.1:5000".into(),
        "http://localhost:3000".into(),
        "ok: the test folder is valid (nothing was started)".into(),
    ];
    for line in expected {
        assert!(out.stdout.contains(&line), "missing `{line}`:\n{out}");
    }
    assert_no_secrets(&out, &dir);
}

#[test]
fn builder_247_old_format_passes_check_with_explicit_ports() {
    let (_root, dir) = project("koii-network__builder-247");
    let out = run_in(&dir, &["check"]);
    assert_eq!(out.code(), 0, "{out}");
    for line in [
        "(task_id summarizer)",
        "worker1: port 5001, http://localhost:5001",
        "worker2: port 5002, http://localhost:5002",
        "leader: port 5000, http://localhost:5000",
        "variables: WORKER_ID, ANTHROPIC_API_KEY, GITHUB_USERNAME, GITHUB_TOKEN",
        "todos: 2 documents from ",
        "issues: 2 documents from ",
        "rounds: 3 (max_rounds)",
    ] {
        assert!(out.stdout.contains(line), "missing `{line}`:\n{out}");
    }
    assert!(
        !out.stdout.contains(" key: "),
        "no keypairs in this format:\n{out}"
    );
}

#[test]
fn check_names_worker_variable_and_path_of_a_missing_keypair() {
    let (_root, dir) = project("Prometheus-Swarm__docs-summarizer");
    std::fs::remove_file(dir.join("keys/2.json")).expect("remove");
    let out = run_in(&dir, &["check", "tests"]);
    assert_eq!(out.code(), 2, "{out}");
    assert!(
        out.stderr.contains("worker `worker2`: keypair `staking`"),
        "{out}"
    );
    assert!(
        out.stderr
            .contains("keys/2.json (from WORKER2_STAKING_KEYPAIR) does not exist"),
        "{out}"
    );
    assert_no_secrets(&out, &dir);
}

#[test]
fn sign_and_verify_reproduce_the_reference_vectors() {
    let vectors = vectors();
    let dir = tempfile::tempdir().expect("tempdir");
    for (i, v) in vectors["vectors"]
        .as_array()
        .expect("list")
        .iter()
        .take(40)
        .enumerate()
    {
        let k = v["keypair"].as_u64().expect("index") as usize;
        let file = dir.path().join(format!("k{k}.json"));
        std::fs::write(&file, vectors["keypairs"][k].to_string()).expect("key");
        let payload = v["payload"].as_str().expect("payload");
        let out = run_in(
            dir.path(),
            &["sign", "--keypair", file.to_str().expect("utf-8"), payload],
        );
        assert_eq!(out.code(), 0, "#{i}: {out}");
        assert_eq!(
            out.stdout.trim(),
            v["signature"].as_str().expect("sig"),
            "#{i}"
        );
        let public = vectors["public_keys"][k].as_str().expect("public");
        let out = run_in(dir.path(), &["verify", out.stdout.trim(), public]);
        assert_eq!(out.code(), 0, "#{i}: {out}");
        assert_eq!(
            out.stdout.trim_end_matches('\n'),
            v["dumped"].as_str().expect("dumped")
        );
    }
    let v = &vectors["vectors"][0];
    let other = vectors["public_keys"][(v["keypair"].as_u64().expect("k") as usize + 1) % 4]
        .as_str()
        .expect("public");
    let out = run_in(
        dir.path(),
        &["verify", v["signature"].as_str().expect("sig"), other],
    );
    assert_eq!(out.code(), 1, "{out}");
    assert!(
        out.stderr.contains("does not match the public key"),
        "{out}"
    );
}
