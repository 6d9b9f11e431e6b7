//! `prometheus-wasm keygen` through the binary: keypair files in the reference format that
//! `sign` and `check` accept, a real peer suite made ready for `check` in one command, and
//! never an existing key or `.env` line overwritten.

use std::os::unix::fs::PermissionsExt;

use system_tests::{copy_dir, repo_root, run_in};

/// The public key `keygen` printed at the end of the line naming `what`.
fn printed_key(stdout: &str, what: &str) -> String {
    let line = stdout
        .lines()
        .find(|l| l.contains(what))
        .unwrap_or_else(|| panic!("no line with {what}:\n{stdout}"));
    line.rsplit(": ").next().expect("key").to_string()
}

#[test]
fn keygen_files_are_keypairs_that_sign_and_are_never_overwritten() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = run_in(dir.path(), &["keygen", "a.json", "b.json"]);
    assert_eq!(out.code(), 0, "{out}");
    let path = dir.path().join("a.json");
    let text = std::fs::read_to_string(&path).expect("a.json");
    let bytes: Vec<u8> = serde_json::from_str(&text).expect("a JSON array of bytes");
    assert_eq!(bytes.len(), 64, "{text}");
    let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "a private key is private");
    assert_ne!(
        text,
        std::fs::read_to_string(dir.path().join("b.json")).unwrap()
    );

    let public = printed_key(&out.stdout, "a.json");
    let signed = run_in(
        dir.path(),
        &["sign", "--keypair", "a.json", r#"{"round":1}"#],
    );
    assert_eq!(signed.code(), 0, "{signed}");
    assert!(signed.stderr.contains(&public), "{signed}");

    let again = run_in(dir.path(), &["keygen", "a.json"]);
    assert_eq!(again.code(), 2, "{again}");
    assert!(again.stderr.contains("never overwrites"), "{again}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text, "unchanged");
}

#[test]
fn keygen_makes_a_peer_suite_ready_for_check_and_keeps_what_exists() {
    let root = tempfile::tempdir().expect("tempdir");
    copy_dir(
        &repo_root().join("tests/fixtures/peer-suites/Prometheus-Swarm__docs-summarizer"),
        root.path(),
    );
    std::fs::write(root.path().join("main.py"), "").expect("main.py");
    // One key the user already has: its variable and file are kept as they are.
    let existing = run_in(root.path(), &["keygen", "mine.json"]);
    assert_eq!(existing.code(), 0, "{existing}");
    let mine = std::fs::read(root.path().join("mine.json")).unwrap();
    let env = "WORKER1_GITHUB_TOKEN=ghp_one\nWORKER1_GITHUB_USERNAME=alice\n\
               WORKER2_GITHUB_TOKEN=ghp_two\nWORKER2_GITHUB_USERNAME=bob\n\
               WORKER2_PUBLIC_KEYPAIR=mine.json";
    std::fs::write(root.path().join("tests/.env"), env).expect(".env");

    let before = run_in(root.path(), &["check", "tests"]);
    assert_eq!(before.code(), 2, "keys are missing: {before}");

    let out = run_in(root.path(), &["keygen", "tests"]);
    assert_eq!(out.code(), 0, "{out}");
    assert!(
        out.stdout
            .contains("kept mine.json (WORKER2_PUBLIC_KEYPAIR)"),
        "{out}"
    );
    assert!(out.stdout.contains("added 3 line(s)"), "{out}");
    let staking = printed_key(&out.stdout, "WORKER1_STAKING_KEYPAIR");
    assert!(
        root.path()
            .join("tests/keys/worker1-staking.json")
            .is_file()
    );
    let env_after = std::fs::read_to_string(root.path().join("tests/.env")).unwrap();
    assert!(
        env_after.starts_with(env),
        "existing lines kept:\n{env_after}"
    );
    assert!(
        env_after.contains("\nWORKER1_STAKING_KEYPAIR=tests/keys/worker1-staking.json\n"),
        "{env_after}"
    );
    assert_eq!(std::fs::read(root.path().join("mine.json")).unwrap(), mine);

    let check = run_in(root.path(), &["check", "tests"]);
    assert_eq!(check.code(), 0, "{check}");
    assert!(
        check.stdout.contains(&format!(
            "staking key: {staking} (from WORKER1_STAKING_KEYPAIR)"
        )),
        "{check}"
    );

    let key_file = root.path().join("tests/keys/worker1-staking.json");
    let key_text = std::fs::read(&key_file).unwrap();
    let twice = run_in(root.path(), &["keygen", "tests"]);
    assert_eq!(twice.code(), 0, "{twice}");
    assert!(
        twice.stdout.contains("every keypair already exists"),
        "{twice}"
    );
    assert_eq!(
        std::fs::read(&key_file).unwrap(),
        key_text,
        "never overwritten"
    );
    assert_eq!(
        std::fs::read_to_string(root.path().join("tests/.env")).unwrap(),
        env_after,
        "no line added twice"
    );
}

#[test]
fn sign_refuses_a_payload_on_stdin_past_its_cap_without_reading_it_whole() {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().expect("tempdir");
    assert_eq!(run_in(dir.path(), &["keygen", "k.json"]).code(), 0);
    let mut child = Command::new(system_tests::runner_bin())
        .args(["sign", "--keypair", "k.json", "-"])
        .current_dir(dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn sign");
    let mut stdin = child.stdin.take().expect("stdin");
    // 64 MiB offered; the runner stops reading past its cap and exits, closing the pipe.
    let writer = std::thread::spawn(move || {
        let chunk = vec![b'a'; 1 << 20];
        for _ in 0..64 {
            if stdin.write_all(&chunk).is_err() {
                break;
            }
        }
    });
    let out = system_tests::wait_output(child);
    writer.join().expect("writer");
    assert_eq!(out.code(), 2, "{out}");
    assert!(
        out.stderr.contains("the payload on stdin is larger than"),
        "refused while reading, not after: {out}"
    );
}
