//! `url:` packages against a local HTTP server: fetched once into the package store and
//! then run without the network, `--offline`, and every way a download can go wrong
//! (each: exit 2, the package named, no worker started, nothing in the store).

use std::path::PathBuf;

use system_tests::http_server::{Body, FileServer};
use system_tests::{RunOutput, TestDir, component, repo_root};

/// The shared-steps example with `hello` beside the plan and `audit` from `url`.
fn plan_with_url(url: &str, sha256: Option<&str>) -> TestDir {
    let t = TestDir::example("shared-steps", &component("hello_steps"));
    std::fs::copy(component("hello_steps"), t.tests().join("hello.wasm")).expect("copy");
    let pin = sha256
        .map(|s| format!("\n    sha256: {s}"))
        .unwrap_or_default();
    let plan = std::fs::read_to_string(repo_root().join("examples/shared-steps/tests/plan.yaml"))
        .expect("read the example plan")
        .replace(
            "path: ../../../target/wasm32-wasip2/guest/hello_steps.wasm",
            "path: hello.wasm",
        )
        .replace(
            "path: ../../../target/wasm32-wasip2/guest/audit_steps.wasm",
            &format!("url: {url}{pin}"),
        );
    t.write("plan.yaml", &plan);
    t
}

fn audit_bytes() -> Vec<u8> {
    std::fs::read(component("audit_steps")).expect("read audit_steps")
}

fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Every file under the package store (temporary files included).
fn store_files(t: &TestDir) -> Vec<PathBuf> {
    std::fs::read_dir(t.cache_dir().join("packages"))
        .map(|d| d.map(|e| e.expect("entry").path()).collect())
        .unwrap_or_default()
}

fn assert_refused(out: &RunOutput, t: &TestDir, what: &str) {
    assert_eq!(out.code(), 2, "{out}");
    assert!(
        out.stderr.contains("package `audit`"),
        "names the package:\n{out}"
    );
    assert!(out.stderr.contains(what), "says `{what}`:\n{out}");
    assert!(!out.stdout.contains("starting"), "workers started:\n{out}");
    assert!(
        store_files(t).is_empty(),
        "nothing stored: {:?}",
        store_files(t)
    );
}

#[test]
fn a_url_package_is_fetched_once_then_runs_from_the_store_and_offline() {
    let server = FileServer::start();
    let bytes = audit_bytes();
    server.serve("/audit.wasm", Body::Full(bytes.clone()));
    let t = plan_with_url(&server.url("/audit.wasm"), Some(&sha256(&bytes)));

    let out = t.run(&["run", "tests/plan.yaml"]);
    assert_eq!(out.code(), 0, "{out}");
    assert!(out.stdout.contains(", fetched ("), "{out}");
    assert_eq!(server.requests(), 1);
    assert_eq!(
        store_files(&t),
        vec![
            t.cache_dir()
                .join(format!("packages/sha256-{}.wasm", sha256(&bytes)))
        ]
    );

    let out = t.run(&["run", "tests/plan.yaml", "--reset"]);
    assert_eq!(out.code(), 0, "{out}");
    assert!(out.stdout.contains("from the package store"), "{out}");
    assert_eq!(
        server.requests(),
        1,
        "the second run did not touch the network"
    );

    server.serve("/audit.wasm", Body::Full(b"gone".to_vec()));
    let out = t.run(&["run", "tests/plan.yaml", "--reset", "--offline"]);
    assert_eq!(out.code(), 0, "{out}");
    assert_eq!(server.requests(), 1, "--offline did not touch the network");
}

#[test]
fn a_corrupt_store_entry_is_deleted_and_fetched_again() {
    let server = FileServer::start();
    let bytes = audit_bytes();
    server.serve("/audit.wasm", Body::Full(bytes.clone()));
    let t = plan_with_url(&server.url("/audit.wasm"), Some(&sha256(&bytes)));
    assert_eq!(t.run(&["run", "tests/plan.yaml"]).code(), 0);
    let entry = t
        .cache_dir()
        .join(format!("packages/sha256-{}.wasm", sha256(&bytes)));
    let mut corrupt = bytes.clone();
    corrupt[100] ^= 0xff;
    std::fs::write(&entry, corrupt).expect("corrupt the entry");

    let out = t.run(&["run", "tests/plan.yaml", "--reset"]);
    assert_eq!(out.code(), 0, "{out}");
    assert!(out.stdout.contains(", fetched ("), "{out}");
    assert_eq!(server.requests(), 2);
    assert_eq!(std::fs::read(&entry).expect("entry"), bytes, "whole again");
}

#[test]
fn a_download_that_does_not_match_its_pin_is_refused_and_not_stored() {
    let server = FileServer::start();
    let hello = std::fs::read(component("hello_steps")).expect("read");
    server.serve("/audit.wasm", Body::Full(hello.clone()));
    let pin = sha256(&audit_bytes());
    let t = plan_with_url(&server.url("/audit.wasm"), Some(&pin));
    let out = t.run(&["run", "tests/plan.yaml"]);
    assert_refused(&out, &t, "does not match its pin");
    assert!(
        out.stderr.contains(&pin) && out.stderr.contains(&sha256(&hello)),
        "{out}"
    );
    assert!(
        out.stderr.contains("lock --update-pins"),
        "the hint names the way out:\n{out}"
    );
}

#[test]
fn an_interrupted_download_leaves_nothing_behind() {
    let server = FileServer::start();
    let bytes = audit_bytes();
    server.serve("/audit.wasm", Body::Truncated(bytes.clone()));
    let t = plan_with_url(&server.url("/audit.wasm"), Some(&sha256(&bytes)));
    let out = t.run(&["run", "tests/plan.yaml"]);
    assert_refused(&out, &t, "interrupted");
}

#[test]
fn offline_names_the_package_that_was_never_fetched() {
    let server = FileServer::start();
    let bytes = audit_bytes();
    server.serve("/audit.wasm", Body::Full(bytes.clone()));
    let t = plan_with_url(&server.url("/audit.wasm"), Some(&sha256(&bytes)));
    let out = t.run(&["run", "tests/plan.yaml", "--offline"]);
    assert_refused(&out, &t, "--offline");
    assert_eq!(server.requests(), 0);
}

#[test]
fn missing_unreachable_and_unpinned_urls_are_refused_before_any_worker() {
    let server = FileServer::start();
    let pin = sha256(&audit_bytes());
    let t = plan_with_url(&server.url("/nope.wasm"), Some(&pin));
    assert_refused(&t.run(&["run", "tests/plan.yaml"]), &t, "not found");

    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = closed.local_addr().expect("addr").port();
    drop(closed);
    let t = plan_with_url(&format!("http://127.0.0.1:{port}/audit.wasm"), Some(&pin));
    assert_refused(&t.run(&["run", "tests/plan.yaml"]), &t, "cannot reach it");

    let t = plan_with_url(&server.url("/audit.wasm"), None);
    let out = t.run(&["run", "tests/plan.yaml"]);
    assert_refused(&out, &t, "has no `sha256` pin");
    assert!(
        out.stderr.contains("plan.yaml:"),
        "at the plan's line:\n{out}"
    );
    assert_eq!(server.requests(), 1, "only the 404 reached the server");
}

#[test]
fn refused_by_the_server_names_the_package_and_says_to_log_in() {
    let server = FileServer::start();
    let pin = sha256(&audit_bytes());
    for code in [401, 403] {
        server.serve("/audit.wasm", Body::Status(code));
        let t = plan_with_url(&server.url("/audit.wasm"), Some(&pin));
        let out = t.run(&["run", "tests/plan.yaml"]);
        assert_refused(&out, &t, &format!("not authorized: HTTP {code}"));
    }
}

#[test]
fn plain_http_to_another_machine_is_refused_without_touching_the_network() {
    // 192.0.2.0/24 is TEST-NET-1: never routed, so only the scheme check can answer.
    let t = plan_with_url("http://192.0.2.1/audit.wasm", Some(&sha256(&audit_bytes())));
    let out = t.run(&["run", "tests/plan.yaml"]);
    assert_refused(
        &out,
        &t,
        "refusing plain HTTP to http://192.0.2.1/audit.wasm",
    );
    assert!(out.stderr.contains("--insecure"), "{out}");

    // A loopback server may not redirect to plain HTTP elsewhere either.
    let server = FileServer::start();
    server.serve(
        "/audit.wasm",
        Body::Redirect("http://192.0.2.1/audit.wasm".into()),
    );
    let t = plan_with_url(&server.url("/audit.wasm"), Some(&sha256(&audit_bytes())));
    assert_refused(
        &t.run(&["run", "tests/plan.yaml"]),
        &t,
        "a redirect to plain HTTP",
    );
}

#[test]
fn redirects_are_followed_a_bounded_number_of_times() {
    let server = FileServer::start();
    let bytes = audit_bytes();
    server.serve("/audit.wasm", Body::Redirect("/v1/audit.wasm".into()));
    server.serve("/v1/audit.wasm", Body::Full(bytes.clone()));
    let t = plan_with_url(&server.url("/audit.wasm"), Some(&sha256(&bytes)));
    let out = t.run(&["run", "tests/plan.yaml"]);
    assert_eq!(out.code(), 0, "one redirect is followed:\n{out}");

    server.serve("/loop.wasm", Body::Redirect("/loop.wasm".into()));
    let t = plan_with_url(&server.url("/loop.wasm"), Some(&sha256(&bytes)));
    assert_refused(
        &t.run(&["run", "tests/plan.yaml"]),
        &t,
        "more than 5 redirects",
    );
}

#[test]
fn a_package_over_the_size_limit_is_refused_and_the_limit_can_be_raised() {
    let server = FileServer::start();
    // Not a component: the limit answers before anything looks at the bytes.
    let big = vec![0u8; (1 << 20) + 1];
    server.serve("/audit.wasm", Body::Full(big.clone()));
    let t = plan_with_url(&server.url("/audit.wasm"), Some(&sha256(&big)));
    let out = t.run(&["run", "tests/plan.yaml", "--max-package-mib", "1"]);
    assert_refused(&out, &t, "larger than the 1 MiB limit");
    assert!(out.stderr.contains("--max-package-mib"), "{out}");

    // Under a raised limit the same bytes download (and then fail as a non-component,
    // which proves the limit was what stopped them before).
    let out = t.run(&["run", "tests/plan.yaml", "--max-package-mib", "2"]);
    assert_eq!(out.code(), 2, "{out}");
    assert!(!out.stderr.contains("MiB limit"), "{out}");
}

#[test]
fn a_server_that_stops_answering_fails_the_fetch_after_the_read_timeout() {
    let server = FileServer::start();
    server.serve("/audit.wasm", Body::Stall);
    let t = plan_with_url(&server.url("/audit.wasm"), Some(&sha256(&audit_bytes())));
    let out = t.run(&["run", "tests/plan.yaml", "--fetch-timeout", "1"]);
    assert_refused(&out, &t, "interrupted");
}

#[test]
fn credentials_in_a_package_url_are_never_shown() {
    let server = FileServer::start();
    let bytes = audit_bytes();
    server.serve("/audit.wasm", Body::Full(bytes.clone()));
    let with_token = |path: &str| server.url(path).replace("://", "://ci:Url-T0ken-pw@");

    let t = plan_with_url(&with_token("/audit.wasm"), Some(&sha256(&bytes)));
    let out = t.run(&["run", "tests/plan.yaml"]);
    assert_eq!(out.code(), 0, "{out}");
    assert!(
        out.stdout.contains("ci:***@127.0.0.1"),
        "shown redacted:\n{out}"
    );
    assert!(!out.all().contains("Url-T0ken-pw"), "{out}");

    let t = plan_with_url(&with_token("/nope.wasm"), Some(&sha256(&bytes)));
    let out = t.run(&["run", "tests/plan.yaml"]);
    assert_refused(&out, &t, "not found");
    assert!(!out.all().contains("Url-T0ken-pw"), "{out}");
}
