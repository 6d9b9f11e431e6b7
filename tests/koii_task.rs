//! The koii-task example (`examples/koii-task`) run by the real binary: three `koii-worker`
//! servers verify every signed payload; `submit` signs worker1's result with its staking
//! key, `audit` opens it with worker1's public key and sends a signed audit to the leader,
//! recording it in MongoDB. Passes on the embedded store and on SecantusDB; a submission
//! signed with another worker's key is rejected by the server (401) and fails the run.

use ed25519_dalek::SigningKey;
use system_tests::secantus::Secantus;
use system_tests::{RunOutput, TestDir, component, repo_root, wait_output};

/// The workers and the env vars (workers.json `keypairs`) naming their keypair files.
const KEY_VARS: [(&str, &str); 6] = [
    ("LEADER_STAKING_KEYPAIR", "leader-staking"),
    ("LEADER_MAIN_KEYPAIR", "leader-main"),
    ("WORKER1_STAKING_KEYPAIR", "worker1-staking"),
    ("WORKER1_MAIN_KEYPAIR", "worker1-main"),
    ("WORKER2_STAKING_KEYPAIR", "worker2-staking"),
    ("WORKER2_MAIN_KEYPAIR", "worker2-main"),
];

/// The example in a temp dir, with six keypair files (Solana-style: 64 bytes, seed then
/// public key, as a JSON array) under `keys/` and a `tests/.env` naming them.
fn koii_task() -> TestDir {
    let t = TestDir::example("koii-task", &component("koii_task_steps"));
    let root = t
        .tests()
        .parent()
        .expect("tests has a parent")
        .to_path_buf();
    std::fs::create_dir_all(root.join("keys")).expect("keys dir");
    let mut env = String::new();
    for (i, (var, file)) in KEY_VARS.iter().enumerate() {
        let seed = [i as u8 + 1; 32];
        let key = SigningKey::from_bytes(&seed);
        let mut bytes = seed.to_vec();
        bytes.extend_from_slice(key.verifying_key().as_bytes());
        let path = format!("keys/{file}.json");
        std::fs::write(
            root.join(&path),
            serde_json::to_string(&bytes).expect("json"),
        )
        .expect("write keypair");
        env.push_str(&format!("{var}={path}\n"));
    }
    std::fs::write(t.tests().join(".env"), env).expect(".env");
    t
}

/// `prometheus-wasm run tests/steps.wasm` with the example's worker binary, on the
/// embedded store or on `server`.
fn run(t: &TestDir, server: Option<&Secantus>) -> RunOutput {
    let mut args = vec!["run", "tests/steps.wasm"];
    if let Some(server) = server {
        args.extend(["--mongo-uri", server.uri.as_str()]);
    }
    let mut cmd = t.command(&args);
    cmd.env_remove("MONGO_URI")
        .env("KOII_WORKER", repo_root().join("target/debug/koii-worker"));
    wait_output(cmd.spawn().expect("spawn the runner"))
}

fn full_run_submits_and_audits_every_todo(server: Option<&Secantus>) {
    let t = koii_task();
    let out = run(&t, server);
    assert_eq!(out.code(), 0, "{out}");
    for line in [
        "seeded `todos` with 3 document(s)",
        "4 round(s): documents in `todos` + 1",
        "todo 2: submitted `3 words: letters the reverse`",
        "round 3: worker1's submission audited valid",
        "PASSED: 6 passed, 2 skipped, 0 failed",
    ] {
        assert!(out.stdout.contains(line), "no `{line}` in:\n{out}");
    }
    for n in 1..=3 {
        assert!(
            out.stdout
                .contains(&format!("round {n}: worker1's submission audited valid")),
            "round {n} not audited:\n{out}"
        );
    }
}

#[test]
fn full_run_on_the_embedded_store_submits_and_audits_every_todo() {
    full_run_submits_and_audits_every_todo(None);
}

#[test]
fn full_run_on_the_embedded_store_records_the_audits_in_mongodb() {
    let t = koii_task();
    let out = run(&t, None);
    assert_eq!(out.code(), 0, "{out}");
    let path = t
        .tests()
        .join("data/embedded-mongo/koii_task_example/audits.jsonl");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}\n{out}", path.display()));
    let audits: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("a document a line"))
        .collect();
    assert_eq!(audits.len(), 3, "{audits:?}");
    for audit in &audits {
        assert_eq!(audit["valid"], true, "{audit}");
        assert_eq!(audit["auditor"], "worker2", "{audit}");
    }
}

#[test]
fn full_run_on_secantusdb_submits_and_audits_every_todo() {
    let server = Secantus::start();
    full_run_submits_and_audits_every_todo(Some(&server));
}

#[test]
fn a_submission_signed_with_another_workers_key_is_rejected_by_the_server() {
    let t = koii_task();
    t.set_config("sign_submission_as", "worker2".into());
    let out = run(&t, None);
    assert_eq!(out.code(), 1, "{out}");
    let all = out.all();
    assert!(all.contains("401"), "{all}");
    assert!(
        all.contains("invalid signature for staking key")
            && all.contains("the signature does not match the public key"),
        "the server's message is not in the output:\n{all}"
    );
    assert!(!all.contains("audited valid"), "{all}");
}

#[test]
fn an_auditor_offline_in_round_2_leaves_that_round_unaudited_and_audits_again_when_back() {
    // `faults:` stops the auditor (worker2) as round 2 starts and starts it again, with
    // its data, as round 3 starts: round 2's audit must not happen (nothing signed by an
    // offline node reaches the leader or `audits`), rounds 1 and 3 are audited as usual.
    let t = koii_task();
    let faults: serde_yaml::Value = serde_yaml::from_str(
        "- at: {round: 2}\n  stop: worker2\n- at: {round: 3}\n  start: worker2\n",
    )
    .expect("yaml");
    t.set_config("faults", faults);
    let out = run(&t, None);
    assert_eq!(out.code(), 0, "{out}");
    for line in [
        "⚡ fault (round start): stopped worker2 (pid",
        "round 2: auditor worker2 is offline, round not audited",
        "⚡ fault (round start): started worker2 (pid",
        "round 1: worker1's submission audited valid",
        "round 3: worker1's submission audited valid",
        "PASSED: 5 passed, 3 skipped, 0 failed",
    ] {
        assert!(out.stdout.contains(line), "no `{line}` in:\n{out}");
    }
    assert!(
        !out.stdout.contains("round 2: worker1's submission audited"),
        "{out}"
    );
    let path = t
        .tests()
        .join("data/embedded-mongo/koii_task_example/audits.jsonl");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}\n{out}", path.display()));
    let rounds: Vec<u64> = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("a document a line"))
        .map(|audit| {
            // Stored as Extended JSON: a plain number or {"$numberInt": "2"}.
            let n = &audit["roundNumber"];
            n.as_u64()
                .or_else(|| n["$numberInt"].as_str()?.parse().ok())
                .or_else(|| n["$numberLong"].as_str()?.parse().ok())
                .unwrap_or_else(|| panic!("no roundNumber in {audit}"))
        })
        .collect();
    assert_eq!(rounds, [1, 3], "{text}");
}
