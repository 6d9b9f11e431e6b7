//! `oci:` packages, `push` and `pull` against a real OCI registry (Debian's
//! docker-registry on 127.0.0.1): the round trip push → pull → run, a plan mixing
//! `path:`, `url:` and `oci:`, credentials, moved tags and `lock --update-pins`, and every
//! way a pull can fail (exit 2, the package named, no worker started, nothing stored).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use system_tests::http_server::{Body, FileServer};
use system_tests::registry::Registry;
use system_tests::{RunOutput, TestDir, component, repo_root, wait_output};

fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The shared-steps example with every package source written by `packages` (YAML under
/// `packages:`), plus a step from a third package `extra` when given.
fn plan(packages: &str, extra_step: bool) -> TestDir {
    let t = TestDir::example("shared-steps", &component("hello_steps"));
    let mut steps =
        std::fs::read_to_string(repo_root().join("examples/shared-steps/tests/plan.yaml"))
            .expect("read the example plan");
    steps = steps[steps.find("steps:").expect("steps")..].to_string();
    if extra_step {
        steps.push_str("  - use: extra/summary\n    name: summary-from-oci\n");
    }
    t.write("plan.yaml", &format!("packages:\n{packages}{steps}"));
    t
}

/// Runs the binary in the test's root with a Docker config dir of the test's own (so a
/// developer's real credentials never play a part) and `stdin` on standard input.
fn run(t: &TestDir, args: &[&str], stdin: Option<&str>, env: &[(&str, &str)]) -> RunOutput {
    let docker = t.tests().join("docker-config");
    let mut cmd = t.command(args);
    cmd.env("DOCKER_CONFIG", &docker)
        .env_remove("PROMETHEUS_WASM_REGISTRY_USERNAME")
        .env_remove("PROMETHEUS_WASM_REGISTRY_PASSWORD");
    for (k, v) in env {
        cmd.env(k, v);
    }
    if stdin.is_some() {
        cmd.stdin(Stdio::piped());
    }
    let mut child = cmd.spawn().expect("spawn the runner");
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(text.as_bytes())
            .expect("write stdin");
    }
    wait_output(child)
}

fn push(t: &TestDir, file: &Path, reference: &str) -> RunOutput {
    run(
        t,
        &["push", &file.display().to_string(), reference],
        None,
        &[],
    )
}

/// `file` stamped with `name@version` by the `metadata` command, as a new file.
fn stamped(t: &TestDir, file: &Path, name: &str, version: &str) -> PathBuf {
    let out_path = t.tests().join(format!("{name}-{version}.wasm"));
    let out = run(
        t,
        &[
            "metadata",
            &file.display().to_string(),
            "--name",
            name,
            "--set-version",
            version,
            "-o",
            &out_path.display().to_string(),
        ],
        None,
        &[],
    );
    assert_eq!(out.code(), 0, "{out}");
    out_path
}

fn store_is_empty(t: &TestDir) -> bool {
    std::fs::read_dir(t.cache_dir().join("packages")).map_or(true, |mut d| d.next().is_none())
}

fn assert_refused(out: &RunOutput, t: &TestDir, package: &str, what: &str) {
    assert_eq!(out.code(), 2, "{out}");
    assert!(
        out.stderr.contains(&format!("package `{package}`")),
        "names the package:\n{out}"
    );
    assert!(out.stderr.contains(what), "says `{what}`:\n{out}");
    assert!(!out.stdout.contains("starting"), "workers started:\n{out}");
    assert!(store_is_empty(t), "nothing stored");
}

#[test]
fn push_pull_run_round_trip_with_a_plan_mixing_path_url_and_oci() {
    let registry = Registry::start();
    let server = FileServer::start();
    let audit = std::fs::read(component("audit_steps")).expect("read");
    server.serve("/audit.wasm", Body::Full(audit.clone()));
    let hello = std::fs::read(component("hello_steps")).expect("read");
    let reference = registry.reference("team/hello:1.0.0");

    let t = plan("", false);
    let out = push(&t, &component("hello_steps"), &reference);
    assert_eq!(out.code(), 0, "{out}");
    assert!(
        out.stdout.contains(&sha256(&hello)),
        "push prints the pin:\n{out}"
    );

    let pulled = t.tests().join("pulled.wasm");
    let out = run(
        &t,
        &["pull", &reference, "-o", &pulled.display().to_string()],
        None,
        &[],
    );
    assert_eq!(out.code(), 0, "{out}");
    assert_eq!(
        std::fs::read(&pulled).expect("pulled"),
        hello,
        "same bytes back"
    );
    assert!(
        out.stdout.contains(&format!("sha256: {}", sha256(&hello))),
        "{out}"
    );

    std::fs::copy(component("hello_steps"), t.tests().join("hello.wasm")).expect("copy");
    let t = {
        let packages = format!(
            "  hello:\n    path: hello.wasm\n  audit:\n    url: {}\n    sha256: {}\n  extra:\n    oci: {reference}\n    sha256: {}\n",
            server.url("/audit.wasm"),
            sha256(&audit),
            sha256(&hello)
        );
        let mixed = plan(&packages, true);
        std::fs::copy(component("hello_steps"), mixed.tests().join("hello.wasm")).expect("copy");
        mixed
    };
    let out = run(&t, &["run", "tests/plan.yaml"], None, &[]);
    assert_eq!(out.code(), 0, "{out}");
    assert!(
        out.started_steps()
            .contains(&"summary-from-oci".to_string()),
        "{out}"
    );
    assert!(
        out.stdout.contains("package `extra`: ") && out.stdout.contains(", fetched"),
        "{out}"
    );

    drop(registry);
    let out = run(
        &t,
        &["run", "tests/plan.yaml", "--reset", "--offline"],
        None,
        &[],
    );
    assert_eq!(
        out.code(),
        0,
        "runs from the store with the registry gone:\n{out}"
    );
}

#[test]
fn a_moved_tag_is_refused_showing_both_versions_until_update_pins() {
    let registry = Registry::start();
    let reference = registry.reference("team/hello:stable");
    let t = plan("", false);
    let v1 = stamped(&t, &component("hello_steps"), "hello-steps", "1.0.0");
    let v2 = stamped(&t, &component("hello_steps"), "hello-steps", "1.1.0");
    let (pin1, pin2) = (
        sha256(&std::fs::read(&v1).expect("v1")),
        sha256(&std::fs::read(&v2).expect("v2")),
    );
    assert_eq!(push(&t, &v1, &reference).code(), 0);
    std::fs::copy(component("audit_steps"), t.tests().join("audit.wasm")).expect("copy");
    t.write(
        "plan.yaml",
        &std::fs::read_to_string(t.tests().join("plan.yaml"))
            .expect("plan")
            .replace(
                "packages:\n",
                &format!(
                    "packages:\n  hello:\n    oci: {reference}  # the team's stable tag\n    sha256: {pin1}\n  audit:\n    path: audit.wasm\n"
                ),
            ),
    );
    let out = run(&t, &["run", "tests/plan.yaml"], None, &[]);
    assert_eq!(out.code(), 0, "{out}");
    assert!(
        out.stdout.contains("hello-steps@1.0.0"),
        "the run shows name@version:\n{out}"
    );

    assert_eq!(
        push(&t, &v1, &reference).code(),
        0,
        "the same package again moves nothing"
    );
    let refused = push(&t, &v2, &reference);
    assert_eq!(refused.code(), 2, "a tag is not moved silently: {refused}");
    assert!(
        refused.stderr.contains("already names another package")
            && refused.stderr.contains("--force"),
        "{refused}"
    );
    let moved = run(
        &t,
        &["push", &v2.display().to_string(), &reference, "--force"],
        None,
        &[],
    );
    assert_eq!(moved.code(), 0, "the tag moves with --force: {moved}");
    std::fs::remove_dir_all(t.cache_dir().join("packages")).expect("forget v1");
    let out = run(&t, &["run", "tests/plan.yaml", "--reset"], None, &[]);
    assert_eq!(out.code(), 2, "{out}");
    assert!(
        out.stderr.contains(&pin1) && out.stderr.contains(&pin2),
        "{out}"
    );
    assert!(
        out.stderr.contains(&format!("{pin1} (hello-steps@1.0.0)"))
            && out.stderr.contains(&format!("{pin2} (hello-steps@1.1.0)")),
        "both versions, the old one from plan.lock (this store never had it):\n{out}"
    );
    assert!(out.stderr.contains("lock --update-pins"), "{out}");
    assert!(!out.stdout.contains("starting"), "{out}");

    // No terminal, no --yes: shown, not rewritten.
    let out = run(&t, &["lock", "tests/plan.yaml", "--update-pins"], None, &[]);
    assert_eq!(out.code(), 2, "{out}");
    assert!(
        out.stdout
            .contains(&format!("old {pin1} hello-steps@1.0.0")),
        "{out}"
    );
    assert!(
        out.stdout
            .contains(&format!("new {pin2} hello-steps@1.1.0")),
        "{out}"
    );
    assert!(out.stderr.contains("--yes"), "{out}");
    let plan_text = std::fs::read_to_string(t.tests().join("plan.yaml")).expect("plan");
    assert!(plan_text.contains(&pin1), "not rewritten");

    let out = run(
        &t,
        &["lock", "tests/plan.yaml", "--update-pins", "--yes"],
        None,
        &[],
    );
    assert_eq!(out.code(), 0, "{out}");
    let plan_text = std::fs::read_to_string(t.tests().join("plan.yaml")).expect("plan");
    assert!(
        plan_text.contains(&format!("sha256: {pin2}")) && !plan_text.contains(&pin1),
        "{plan_text}"
    );
    assert!(
        plan_text.contains("# the team's stable tag"),
        "comments kept"
    );
    let out = run(&t, &["run", "tests/plan.yaml", "--reset"], None, &[]);
    assert_eq!(out.code(), 0, "{out}");
    assert!(out.stdout.contains("hello-steps@1.1.0"), "{out}");
}

#[test]
fn credentials_come_from_stdin_the_environment_or_the_docker_config_and_are_never_printed() {
    let registry = Registry::start_with_auth("alice", "s3cret-pw");
    let reference = registry.reference("team/hello:1");
    let t = plan("", false);
    let file = component("hello_steps").display().to_string();

    let out = run(&t, &["push", &file, &reference], None, &[]);
    assert_eq!(out.code(), 2, "{out}");
    assert!(out.stderr.contains("not authorized"), "{out}");

    let out = run(
        &t,
        &[
            "push",
            &file,
            &reference,
            "--username",
            "alice",
            "--password-stdin",
        ],
        Some("St1n-Wr0ng-pw\n"),
        &[],
    );
    assert_eq!(out.code(), 2, "{out}");
    assert!(out.stderr.contains("not authorized"), "{out}");
    assert!(!out.all().contains("St1n-Wr0ng-pw"), "{out}");

    // A plan's oci: package refused for its credentials: named, nothing started or
    // stored, and the password from the environment never shown.
    let pin = sha256(&std::fs::read(component("hello_steps")).expect("read"));
    let denied = plan(
        &format!(
            "  hello:\n    oci: {reference}\n    sha256: {pin}\n  audit:\n    oci: {reference}\n    sha256: {pin}\n"
        ),
        false,
    );
    let out = run(
        &denied,
        &["run", "tests/plan.yaml"],
        None,
        &[
            ("PROMETHEUS_WASM_REGISTRY_USERNAME", "alice"),
            ("PROMETHEUS_WASM_REGISTRY_PASSWORD", "Env-Wr0ng-pw"),
        ],
    );
    assert_refused(&out, &denied, "hello", "not authorized");
    assert!(
        out.stderr.contains("docker login"),
        "says how to log in:\n{out}"
    );
    assert!(!out.all().contains("Env-Wr0ng-pw"), "{out}");

    let out = run(
        &t,
        &[
            "push",
            &file,
            &reference,
            "--username",
            "alice",
            "--password-stdin",
        ],
        Some("s3cret-pw\n"),
        &[],
    );
    assert_eq!(out.code(), 0, "{out}");
    assert!(!out.all().contains("s3cret-pw"), "{out}");

    let out = run(
        &t,
        &["pull", &reference],
        None,
        &[
            ("PROMETHEUS_WASM_REGISTRY_USERNAME", "alice"),
            ("PROMETHEUS_WASM_REGISTRY_PASSWORD", "s3cret-pw"),
        ],
    );
    assert_eq!(out.code(), 0, "{out}");

    // base64("alice:s3cret-pw"), as `docker login` writes it.
    t.write(
        "docker-config/config.json",
        &format!(
            r#"{{"auths": {{"{}": {{"auth": "YWxpY2U6czNjcmV0LXB3"}}}}}}"#,
            registry.host
        ),
    );
    let out = run(&t, &["pull", &reference], None, &[]);
    assert_eq!(out.code(), 0, "{out}");
    assert!(
        !out.all().contains("s3cret-pw") && !out.all().contains("YWxpY2U6"),
        "{out}"
    );
}

#[test]
fn unreachable_registries_missing_tags_foreign_artifacts_and_bad_digests_are_refused() {
    let registry = Registry::start();
    let hello = std::fs::read(component("hello_steps")).expect("read");
    let pin = sha256(&hello);
    let oci_plan = |reference: &str| {
        plan(
            &format!(
                "  hello:\n    oci: {reference}\n    sha256: {pin}\n  audit:\n    oci: {reference}\n    sha256: {pin}\n"
            ),
            false,
        )
    };

    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = closed.local_addr().expect("addr").port();
    drop(closed);
    let t = oci_plan(&format!("127.0.0.1:{port}/team/hello:1"));
    assert_refused(
        &run(&t, &["run", "tests/plan.yaml"], None, &[]),
        &t,
        "hello",
        "cannot reach it",
    );

    let t = oci_plan(&registry.reference("team/hello:missing"));
    assert_refused(
        &run(&t, &["run", "tests/plan.yaml"], None, &[]),
        &t,
        "hello",
        "not found",
    );

    // A plain (non-Wasm) artifact: the push of a file that is not a component fails, so
    // the test writes one through the registry API itself.
    let foreign = registry.reference("team/image:1");
    push_foreign_artifact(&registry, "team/image", "1");
    let t = oci_plan(&foreign);
    assert_refused(
        &run(&t, &["run", "tests/plan.yaml"], None, &[]),
        &t,
        "hello",
        "not a Wasm component artifact",
    );

    // A registry whose stored layer no longer has its digest.
    let reference = registry.reference("team/hello:1");
    assert_eq!(push(&t, &component("hello_steps"), &reference).code(), 0);
    let blob = registry.blob_path(&format!("sha256:{pin}"));
    let mut corrupt = hello.clone();
    corrupt[64] ^= 0xff;
    std::fs::write(&blob, corrupt).expect("corrupt the registry's blob");
    let t = oci_plan(&reference);
    let out = run(&t, &["run", "tests/plan.yaml"], None, &[]);
    assert_refused(&out, &t, "hello", "digest");
}

/// Pushes a one-layer artifact with OCI image media types (not a Wasm artifact) through
/// the distribution API, with curl.
fn push_foreign_artifact(registry: &Registry, repo: &str, tag: &str) {
    let config = br#"{"architecture":"amd64","os":"linux"}"#.to_vec();
    let layer = b"not wasm".to_vec();
    let base = format!("http://{}/v2/{repo}", registry.host);
    for blob in [&config, &layer] {
        // Distribution 2.8 has no one-request upload: open a session, then PUT the bytes.
        let headers = curl(
            &["-X", "POST", "-D", "-", &format!("{base}/blobs/uploads/")],
            b"",
        );
        let location = headers
            .lines()
            .find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.eq_ignore_ascii_case("location")
                    .then(|| value.trim().to_string())
            })
            .expect("the registry opened an upload session");
        let location = if location.starts_with('/') {
            format!("http://{}{location}", registry.host)
        } else {
            location
        };
        let separator = if location.contains('?') { '&' } else { '?' };
        let url = format!("{location}{separator}digest=sha256:{}", sha256(blob));
        curl(
            &[
                "-X",
                "PUT",
                "-H",
                "Content-Type: application/octet-stream",
                "--data-binary",
                "@-",
                &url,
            ],
            blob,
        );
    }
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:{}","size":{}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:{}","size":{}}}]}}"#,
        sha256(&config),
        config.len(),
        sha256(&layer),
        layer.len()
    );
    curl(
        &[
            "-X",
            "PUT",
            "-H",
            "Content-Type: application/vnd.oci.image.manifest.v1+json",
            "--data-binary",
            "@-",
            &format!("{base}/manifests/{tag}"),
        ],
        manifest.as_bytes(),
    );
}

/// Runs curl with `body` on stdin; returns what it printed (headers, with `-D -`).
fn curl(args: &[&str], body: &[u8]) -> String {
    let mut child = std::process::Command::new("curl")
        .args(["-sSf", "-o", "/dev/null"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("curl");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(body)
        .expect("write");
    let out = child.wait_with_output().expect("curl");
    assert!(out.status.success(), "curl {args:?} failed");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn push_warns_when_a_version_tag_is_not_the_packages_version() {
    let registry = Registry::start();
    let t = plan("", false);
    let v1 = stamped(&t, &component("hello_steps"), "hello-steps", "1.0.0");
    let out = push(&t, &v1, &registry.reference("team/hello:2.0.0"));
    assert_eq!(out.code(), 0, "{out}");
    assert!(
        out.stderr
            .contains("the tag `2.0.0` is not the package's version (1.0.0)"),
        "{out}"
    );
    let out = push(&t, &v1, &registry.reference("team/hello:v1.0.0"));
    assert_eq!(out.code(), 0, "{out}");
    assert!(
        !out.stderr.contains("warning"),
        "a matching version tag: {out}"
    );
    let out = push(&t, &v1, &registry.reference("team/hello:stable"));
    assert!(!out.stderr.contains("warning"), "not a version tag: {out}");
}
