//! Registries nobody here controls: a hostile OCI registry written in this file (std
//! `TcpListener` on 127.0.0.1, one thread per connection, every request recorded) that
//! redirects blobs to plain HTTP elsewhere, names token realms and upload locations on other
//! hosts, echoes passwords in error bodies, sends 10 MiB errors, lies about sizes, streams
//! forever or one byte a second, and serves packages whose names carry terminal controls.
//! Every address other than 127.0.0.1 is under `.invalid`, which never resolves, so a
//! refusal is the only way a test can pass: nothing here can reach another machine.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use system_tests::{RunOutput, TestDir, component, wait_output};

const PASSWORD: &str = "s3cret-Pw-42";

fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// One request as the registry saw it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What the registry answers.
enum Reply {
    /// A status, headers and a whole body (Content-Length set to its length).
    Full(u16, Vec<(String, String)>, Vec<u8>),
    /// 200 with this Content-Length (or none), then zeros until the client goes away.
    Endless(Option<u64>),
    /// 200 with this Content-Length, then one byte a second.
    Trickle(u64),
    /// 200 with this Content-Length and only these bytes, then the connection closes.
    Short(u64, Vec<u8>),
}

fn ok(body: Vec<u8>) -> Reply {
    Reply::Full(200, Vec::new(), body)
}

type Route = dyn Fn(&Seen) -> Reply + Send + Sync;

/// A running hostile registry; it stops with the test process.
struct Hostile {
    host: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Hostile {
    fn start(route: impl Fn(&Seen) -> Reply + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let host = listener.local_addr().expect("addr").to_string();
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let route: Arc<Route> = Arc::new(route);
        let log = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (route, log) = (route.clone(), log.clone());
                std::thread::spawn(move || serve(stream, &*route, &log));
            }
        });
        Self { host, seen }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("log").clone()
    }

    fn reference(&self, repo: &str) -> String {
        format!("{}/{repo}", self.host)
    }
}

fn serve(stream: TcpStream, route: &Route, log: &Mutex<Vec<Seen>>) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let path = parts.next().unwrap_or_default().to_string();
    let mut headers = Vec::new();
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).map_or(true, |n| n <= 2) {
            break;
        }
        if let Some((k, v)) = header.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    let seen = Seen {
        method,
        path,
        headers,
    };
    if let Some(len) = seen
        .header("content-length")
        .and_then(|l| l.parse::<u64>().ok())
    {
        let _ = std::io::copy(&mut reader.by_ref().take(len), &mut std::io::sink());
    }
    log.lock().expect("log").push(seen.clone());
    let reply = route(&seen);
    let mut stream = stream;
    let _ = match reply {
        Reply::Full(status, headers, body) => {
            let mut head = format!(
                "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n",
                body.len()
            );
            for (k, v) in headers {
                head.push_str(&format!("{k}: {v}\r\n"));
            }
            head.push_str("\r\n");
            stream.write_all(head.as_bytes()).and_then(|_| {
                if seen.method == "HEAD" {
                    Ok(())
                } else {
                    stream.write_all(&body)
                }
            })
        }
        Reply::Endless(length) => {
            let length = length
                .map(|l| format!("Content-Length: {l}\r\n"))
                .unwrap_or_default();
            let head = format!("HTTP/1.1 200 OK\r\n{length}Connection: close\r\n\r\n");
            let chunk = vec![0u8; 64 << 10];
            stream.write_all(head.as_bytes()).and_then(|_| {
                loop {
                    stream.write_all(&chunk)?;
                }
            })
        }
        Reply::Trickle(length) => {
            let head =
                format!("HTTP/1.1 200 OK\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n");
            stream.write_all(head.as_bytes()).and_then(|_| {
                loop {
                    stream.write_all(b"{")?;
                    std::thread::sleep(Duration::from_secs(1));
                }
            })
        }
        Reply::Short(length, body) => {
            let head =
                format!("HTTP/1.1 200 OK\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n");
            stream
                .write_all(head.as_bytes())
                .and_then(|_| stream.write_all(&body))
        }
    };
}

/// A Wasm OCI manifest for one layer of `layer` bytes, optionally with foreign `urls`.
fn manifest(layer: &[u8], urls: &[&str]) -> Vec<u8> {
    let config = br#"{"architecture":"wasm","os":"wasip2","layerDigests":[]}"#;
    let urls = if urls.is_empty() {
        String::new()
    } else {
        format!(
            r#","urls":[{}]"#,
            urls.iter()
                .map(|u| format!("\"{u}\""))
                .collect::<Vec<_>>()
                .join(",")
        )
    };
    format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.wasm.config.v0+json","digest":"sha256:{}","size":{}}},"layers":[{{"mediaType":"application/wasm","digest":"sha256:{}","size":{}{urls}}}]}}"#,
        sha256(config),
        config.len(),
        sha256(layer),
        layer.len()
    )
    .into_bytes()
}

fn hello() -> Vec<u8> {
    std::fs::read(component("hello_steps")).expect("read hello_steps")
}

/// Serves `layer` under a good manifest, with `blob` answering the layer's blob request.
fn registry_with(layer: Vec<u8>, blob: impl Fn(&Seen) -> Reply + Send + Sync + 'static) -> Hostile {
    let manifest = manifest(&layer, &[]);
    Hostile::start(move |seen| {
        if seen.path.contains("/manifests/") {
            Reply::Full(
                200,
                vec![(
                    "Content-Type".into(),
                    "application/vnd.oci.image.manifest.v1+json".into(),
                )],
                manifest.clone(),
            )
        } else if seen.path.contains("/blobs/") {
            blob(seen)
        } else {
            Reply::Full(404, Vec::new(), Vec::new())
        }
    })
}

/// The binary in `t`'s root with no ambient credentials but `env`.
fn command(t: &TestDir, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = t.command(args);
    cmd.env("DOCKER_CONFIG", t.tests().join("docker-config"))
        .env_remove("PROMETHEUS_WASM_REGISTRY")
        .env_remove("PROMETHEUS_WASM_REGISTRY_USERNAME")
        .env_remove("PROMETHEUS_WASM_REGISTRY_PASSWORD");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

fn run(t: &TestDir, args: &[&str], env: &[(&str, &str)]) -> RunOutput {
    let started = Instant::now();
    let out = wait_output(command(t, args, env).spawn().expect("spawn the runner"));
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "did not finish within 60 s: {args:?}\n{out}"
    );
    out
}

fn env_for(registry: &str) -> Vec<(&str, &str)> {
    vec![
        ("PROMETHEUS_WASM_REGISTRY", registry),
        ("PROMETHEUS_WASM_REGISTRY_USERNAME", "alice"),
        ("PROMETHEUS_WASM_REGISTRY_PASSWORD", PASSWORD),
    ]
}

fn store_is_empty(t: &TestDir) -> bool {
    std::fs::read_dir(t.cache_dir().join("packages")).map_or(true, |mut d| d.next().is_none())
}

/// A refused pull: exit 2, `what` said, nothing stored, no password, no raw control byte.
fn assert_refused(out: &RunOutput, t: &TestDir, what: &str) {
    assert_eq!(out.code(), 2, "{out}");
    assert!(out.stderr.contains(what), "says `{what}`:\n{out}");
    assert!(store_is_empty(t), "nothing stored:\n{out}");
    assert!(
        !out.all().contains(PASSWORD),
        "the password is shown:\n{out}"
    );
    assert!(
        !out.all().contains('\u{1b}'),
        "a raw ESC reached the terminal:\n{out}"
    );
}

fn empty_dir() -> TestDir {
    TestDir::example("shared-steps", &component("hello_steps"))
}

#[test]
fn blob_redirects_and_foreign_layers_on_plain_http_elsewhere_are_refused_before_any_connection() {
    let t = empty_dir();
    let registry = registry_with(hello(), |_| {
        Reply::Full(
            307,
            vec![("Location".into(), "http://registry.invalid/blob".into())],
            Vec::new(),
        )
    });
    let out = run(&t, &["pull", &registry.reference("team/hello:1")], &[]);
    assert_refused(
        &out,
        &t,
        "refusing a redirect to plain HTTP (http://registry.invalid/blob)",
    );
    assert!(out.stderr.contains("--insecure"), "says how:\n{out}");

    // A layer the registry does not hold, listed at a plain-HTTP URL elsewhere.
    let layer = hello();
    let manifest = manifest(&layer, &["http://layers.invalid/hello.wasm"]);
    let registry = Hostile::start(move |seen| {
        if seen.path.contains("/manifests/") {
            ok(manifest.clone())
        } else {
            Reply::Full(404, Vec::new(), Vec::new())
        }
    });
    let out = run(&t, &["pull", &registry.reference("team/hello:1")], &[]);
    assert_refused(
        &out,
        &t,
        "refusing plain HTTP to the layer URL http://layers.invalid/hello.wasm",
    );
}

#[test]
fn a_token_realm_on_another_host_over_plain_http_never_gets_the_credentials() {
    let t = empty_dir();
    let registry = Hostile::start(|_| {
        Reply::Full(
            401,
            vec![(
                "WWW-Authenticate".into(),
                r#"Bearer realm="http://other.invalid/token",service="r""#.into(),
            )],
            Vec::new(),
        )
    });
    let reference = registry.reference("team/hello:1");
    let env = env_for(&registry.host);
    let out = run(&t, &["pull", &reference], &env);
    assert_refused(
        &out,
        &t,
        "refusing plain HTTP to the token service http://other.invalid/token",
    );
    // --insecure lets anonymous traffic use plain HTTP, never a password.
    let out = run(&t, &["pull", &reference, "--insecure"], &env);
    assert_refused(&out, &t, "never travel over plain HTTP to another machine");
    for seen in registry.seen() {
        assert_eq!(seen.header("authorization"), None, "{seen:?}");
    }
}

#[test]
fn environment_credentials_for_one_registry_never_reach_another() {
    let basic = || {
        Hostile::start(|seen| {
            if seen.header("authorization").is_some() {
                Reply::Full(404, Vec::new(), Vec::new())
            } else {
                Reply::Full(
                    401,
                    vec![("WWW-Authenticate".into(), r#"Basic realm="r""#.into())],
                    Vec::new(),
                )
            }
        })
    };
    let (a, b) = (basic(), basic());
    let t = empty_dir();
    let env = env_for(&a.host);

    // pull and push name registry B while the credentials are for A.
    let out = run(&t, &["pull", &b.reference("team/hello:1")], &env);
    assert_refused(&out, &t, "not authorized");
    let file = component("hello_steps").display().to_string();
    let out = run(&t, &["push", &file, &b.reference("team/hello:1")], &env);
    assert_eq!(out.code(), 2, "{out}");
    assert!(out.stderr.contains("not authorized"), "{out}");

    // A plan naming B, with the credentials for A, and with credentials for no registry.
    let pin = sha256(&hello());
    let reference = b.reference("team/hello:1");
    t.write(
        "plan.yaml",
        &format!(
            "packages:\n  hello:\n    oci: {reference}\n    sha256: {pin}\nsteps:\n  - use: hello/check-health\n"
        ),
    );
    for env in [env.clone(), env.into_iter().skip(1).collect::<Vec<_>>()] {
        let out = run(&t, &["run", "tests/plan.yaml"], &env);
        assert_refused(&out, &t, "package `hello`");
        assert!(
            out.stderr.contains("PROMETHEUS_WASM_REGISTRY"),
            "says how to scope:\n{out}"
        );
    }
    let seen = b.seen();
    assert!(seen.len() >= 4, "B was asked: {seen:?}");
    for seen in seen {
        assert_eq!(
            seen.header("authorization"),
            None,
            "B got credentials: {seen:?}"
        );
    }

    // The control: registry A gets them (so the assertion above can fail).
    let out = run(
        &t,
        &["pull", &a.reference("team/hello:1")],
        &env_for(&a.host),
    );
    assert_refused(&out, &t, "not found");
    assert!(
        a.seen().iter().any(|s| s
            .header("authorization")
            .is_some_and(|h| h.starts_with("Basic "))),
        "A never got its credentials: {:?}",
        a.seen()
    );

    // --username on run without a registry named is refused before any request.
    let mut child = command(
        &t,
        &[
            "run",
            "tests/plan.yaml",
            "--username",
            "alice",
            "--password-stdin",
        ],
        &[],
    )
    .stdin(Stdio::piped())
    .spawn()
    .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"pw\n")
        .expect("write");
    let out = wait_output(child);
    assert_eq!(out.code(), 2, "{out}");
    assert!(
        out.stderr.contains("--username applies to one registry"),
        "{out}"
    );
}

#[test]
fn registry_error_bodies_are_capped_redacted_and_escaped() {
    // 401 echoing the password (and basic auth in base64) with terminal controls.
    let registry = Hostile::start(|seen| {
        match seen.header("authorization") {
        None => Reply::Full(
            401,
            vec![("WWW-Authenticate".into(), r#"Basic realm="r""#.into())],
            Vec::new(),
        ),
        Some(auth) => Reply::Full(
            401,
            Vec::new(),
            format!(
                "{{\"errors\":[{{\"code\":\"UNAUTHORIZED\",\"message\":\"bad password {PASSWORD} ({auth}) \u{1b}]52;c;SGk=\u{7}\u{1b}[2J\"}}]}}"
            )
            .into_bytes(),
        ),
    }
    });
    let t = empty_dir();
    let out = run(
        &t,
        &["pull", &registry.reference("team/hello:1")],
        &env_for(&registry.host),
    );
    assert_refused(&out, &t, "bad password ***");
    assert!(
        !out.stderr.contains("YWxpY2U6"),
        "base64 credentials shown:\n{out}"
    );
    assert!(
        out.stderr.contains("\\u{1b}]52"),
        "escaped, visible:\n{out}"
    );

    // A 10 MiB error body: 4 KiB of it is read, and the message stays short.
    let registry = Hostile::start(|_| {
        let mut body = format!("{PASSWORD} \u{1b}[2J ").into_bytes();
        body.resize(10 << 20, b'x');
        Reply::Full(500, Vec::new(), body)
    });
    let out = run(
        &t,
        &["pull", &registry.reference("team/hello:1")],
        &env_for(&registry.host),
    );
    assert_refused(&out, &t, "HTTP 500");
    assert!(
        out.stderr.len() < 16 << 10,
        "{} bytes of error",
        out.stderr.len()
    );
}

/// Runs the binary and returns its output and peak RSS in KiB (wait4 on its pid).
fn run_measured(t: &TestDir, args: &[&str]) -> (RunOutput, i64) {
    let started = Instant::now();
    let mut child = command(t, args, &[])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let out_thread = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err_thread = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let pid = child.id() as i32;
    let mut status = 0;
    // SAFETY: rusage is plain data, zeroed is a valid value; pid is our own child, not
    // waited for elsewhere.
    let mut usage: nix::libc::rusage = unsafe { std::mem::zeroed() };
    let waited = unsafe { nix::libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(waited, pid, "wait4");
    eprintln!("{args:?}: peak RSS {} KiB", usage.ru_maxrss);
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "did not finish within 60 s: {args:?}"
    );
    use std::os::unix::process::ExitStatusExt;
    let out = RunOutput {
        status: std::process::ExitStatus::from_raw(status),
        stdout: out_thread.join().expect("stdout"),
        stderr: err_thread.join().expect("stderr"),
    };
    std::mem::forget(child);
    (out, usage.ru_maxrss)
}

/// The most a refused pull may hold, in KiB: the binary's own (about 45 MiB in a debug
/// build) plus the caps; an uncapped endless body passes it within a second.
const RSS_BOUND_KIB: i64 = 128 << 10;

#[test]
fn endless_and_lying_bodies_are_cut_at_their_caps_with_bounded_memory() {
    let t = empty_dir();
    // A manifest that never ends, without a length.
    let registry = Hostile::start(|_| Reply::Endless(None));
    let (out, rss) = run_measured(&t, &["pull", &registry.reference("team/hello:1")]);
    assert_refused(
        &out,
        &t,
        "the manifest from the registry is larger than 4194304 bytes",
    );
    assert!(rss < RSS_BOUND_KIB, "peak RSS {rss} KiB:\n{out}");

    // A blob whose Content-Length matches the manifest, and that never ends.
    let layer = hello();
    let size = layer.len() as u64;
    let registry = registry_with(layer.clone(), move |_| Reply::Endless(Some(size)));
    let (out, rss) = run_measured(&t, &["pull", &registry.reference("team/hello:1")]);
    assert_eq!(out.code(), 2, "{out}");
    assert!(store_is_empty(&t), "{out}");
    assert!(rss < RSS_BOUND_KIB, "peak RSS {rss} KiB:\n{out}");

    // A blob with no length that sends more than its manifest announced.
    let registry = registry_with(layer.clone(), |_| Reply::Endless(None));
    let (out, rss) = run_measured(&t, &["pull", &registry.reference("team/hello:1")]);
    assert_refused(
        &out,
        &t,
        &format!("sent more than the {size} bytes its manifest announces"),
    );
    assert!(rss < RSS_BOUND_KIB, "peak RSS {rss} KiB:\n{out}");

    // A manifest announcing a layer over the limit: refused before the blob is asked for.
    let registry = registry_with(vec![0; (2 << 20) + 1], |_| Reply::Endless(None));
    let out = run(
        &t,
        &[
            "pull",
            &registry.reference("team/hello:1"),
            "--max-package-mib",
            "2",
        ],
        &[],
    );
    assert_refused(&out, &t, "larger than the 2 MiB limit");
    assert!(
        !registry.seen().iter().any(|s| s.path.contains("/blobs/")),
        "{out}"
    );

    // A Content-Length that promises more than is sent.
    let half = layer[..layer.len() / 2].to_vec();
    let registry = registry_with(layer.clone(), move |_| Reply::Short(size, half.clone()));
    let out = run(&t, &["pull", &registry.reference("team/hello:1")], &[]);
    assert_refused(&out, &t, "interrupted");

    // A Content-Length that says less than the manifest: the body ends there, the digest
    // tells.
    let short = size - 10;
    let registry = registry_with(layer.clone(), move |_| {
        Reply::Short(short, layer[..short as usize].to_vec())
    });
    let out = run(&t, &["pull", &registry.reference("team/hello:1")], &[]);
    assert_refused(&out, &t, "digest mismatch");
}

#[test]
fn a_registry_answering_one_byte_a_second_hits_the_deadline() {
    let t = empty_dir();
    let registry = Hostile::start(|_| Reply::Trickle(100_000));
    let started = Instant::now();
    let out = run(
        &t,
        &[
            "pull",
            &registry.reference("team/hello:1"),
            "--fetch-deadline",
            "3",
        ],
        &[],
    );
    assert_refused(&out, &t, "longer than 3 s");
    assert!(
        out.stderr.contains("--fetch-deadline"),
        "names the option:\n{out}"
    );
    assert!(!registry.seen().is_empty(), "the registry was asked");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn a_push_upload_location_on_another_host_over_plain_http_is_refused() {
    let registry = Hostile::start(|seen| match seen.method.as_str() {
        "POST" => Reply::Full(
            202,
            vec![("Location".into(), "http://uploads.invalid/upload/1".into())],
            Vec::new(),
        ),
        _ => Reply::Full(404, Vec::new(), Vec::new()),
    });
    let t = empty_dir();
    let file = component("hello_steps").display().to_string();
    let out = run(
        &t,
        &["push", &file, &registry.reference("team/hello:1")],
        &[],
    );
    assert_eq!(out.code(), 2, "{out}");
    assert!(
        out.stderr
            .contains("refusing plain HTTP to the upload location http://uploads.invalid/upload/1"),
        "{out}"
    );
    assert!(
        !registry.seen().iter().any(|s| s.method == "PUT"),
        "nothing uploaded"
    );
}

#[test]
fn names_from_the_registry_are_printed_escaped() {
    let t = empty_dir();
    let evil = t.tests().join("evil.wasm");
    let name = "evil\u{1b}]52;c;SGk=\u{7}\u{202e}-x";
    let out = run(
        &t,
        &[
            "metadata",
            &component("hello_steps").display().to_string(),
            "--name",
            name,
            "--set-version",
            "1.0.0",
            "-o",
            &evil.display().to_string(),
        ],
        &[],
    );
    assert_eq!(out.code(), 0, "{out}");
    let bytes = std::fs::read(&evil).expect("read");
    let registry = registry_with(bytes.clone(), move |_| ok(bytes.clone()));
    let out = run(&t, &["pull", &registry.reference("team/evil:1")], &[]);
    assert_eq!(out.code(), 0, "{out}");
    assert!(
        out.stdout
            .contains("evil\\u{1b}]52;c;SGk=\\u{7}\\u{202e}-x@1.0.0"),
        "{out}"
    );
    assert!(
        !out.stdout.contains('\u{1b}') && !out.stdout.contains('\u{202e}'),
        "{out}"
    );

    // push prints the package's identity the same way; this registry takes anything.
    let registry = Hostile::start(|seen| match seen.method.as_str() {
        "HEAD" => Reply::Full(404, Vec::new(), Vec::new()),
        "POST" => Reply::Full(
            202,
            vec![("Location".into(), "/upload/1".into())],
            Vec::new(),
        ),
        _ => Reply::Full(201, Vec::new(), Vec::new()),
    });
    let out = run(
        &t,
        &[
            "push",
            &evil.display().to_string(),
            &registry.reference("team/evil:1"),
        ],
        &[],
    );
    assert_eq!(out.code(), 0, "{out}");
    assert!(out.stdout.contains("evil\\u{1b}]52"), "{out}");
    assert!(
        !out.stdout.contains('\u{1b}') && !out.stdout.contains('\u{202e}'),
        "{out}"
    );
    let put = registry
        .seen()
        .into_iter()
        .filter(|s| s.method == "PUT")
        .map(|s| s.path)
        .collect::<Vec<_>>();
    assert!(
        put.iter()
            .any(|p| p.starts_with("/upload/1?digest=sha256%3A")),
        "{put:?}"
    );
}

/// Base58 (Bitcoin alphabet), as Koii signatures and keys are written.
fn base58(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
    let mut digits: Vec<u8> = Vec::new();
    for &byte in bytes {
        let mut carry = u32::from(byte);
        for d in digits.iter_mut() {
            carry += u32::from(*d) << 8;
            *d = (carry % 58) as u8;
            carry /= 58;
        }
        while carry > 0 {
            digits.push((carry % 58) as u8);
            carry /= 58;
        }
    }
    let zeros = bytes.iter().take_while(|b| **b == 0).count();
    std::iter::repeat_n(b'1', zeros)
        .chain(digits.iter().rev().map(|d| ALPHABET[*d as usize]))
        .map(char::from)
        .collect()
}

#[test]
fn a_verified_payload_is_printed_escaped() {
    use ed25519_dalek::{Signer, SigningKey};
    // Anyone can sign any bytes: a payload with an OSC 52 clipboard write, a screen
    // clear and a bidi override, signed by a key of the test's own.
    let key = SigningKey::from_bytes(&[9; 32]);
    let payload = "{\"x\": \"\u{1b}]52;c;SGk=\u{7}\u{1b}[2J\u{202e}txt\"}";
    let mut combined = key.sign(payload.as_bytes()).to_bytes().to_vec();
    combined.extend_from_slice(payload.as_bytes());
    let t = empty_dir();
    let out = run(
        &t,
        &[
            "verify",
            &base58(&combined),
            &base58(key.verifying_key().as_bytes()),
        ],
        &[],
    );
    assert_eq!(out.code(), 0, "{out}");
    assert!(
        out.stdout
            .contains("\\u{1b}]52;c;SGk=\\u{7}\\u{1b}[2J\\u{202e}txt"),
        "{out}"
    );
    assert!(
        !out.stdout.contains('\u{1b}') && !out.stdout.contains('\u{202e}'),
        "{out}"
    );
}

#[test]
fn a_token_in_a_url_package_never_goes_over_plain_http_elsewhere() {
    let t = empty_dir();
    let pin = sha256(&hello());
    t.write(
        "plan.yaml",
        &format!(
            "packages:\n  hello:\n    url: http://ci:Url-T0ken-pw@pkgs.invalid/hello.wasm\n    sha256: {pin}\nsteps:\n  - use: hello/check-health\n"
        ),
    );
    // --insecure allows plain HTTP, not a token over it.
    let out = run(&t, &["run", "tests/plan.yaml", "--insecure"], &[]);
    assert_refused(&out, &t, "never travel over plain HTTP to another machine");
    assert!(out.stderr.contains("package `hello`"), "{out}");
    assert!(!out.all().contains("Url-T0ken-pw"), "{out}");
}

#[test]
fn a_bearer_token_from_a_realm_on_the_registry_works_and_is_never_shown() {
    const TOKEN: &str = "tok-Secret-77";
    let layer = hello();
    let manifest = manifest(&layer, &[]);
    let host: Arc<std::sync::OnceLock<String>> = Arc::default();
    let realm_host = host.clone();
    let registry = Hostile::start(move |seen| {
        let auth = seen.header("authorization").unwrap_or_default();
        if seen.path.starts_with("/token") {
            return if auth.starts_with("Basic ") {
                ok(format!("{{\"token\": \"{TOKEN}\"}}").into_bytes())
            } else {
                Reply::Full(401, Vec::new(), Vec::new())
            };
        }
        if auth != format!("Bearer {TOKEN}") {
            let realm = format!("http://{}/token", realm_host.get().expect("host"));
            return Reply::Full(
                401,
                vec![(
                    "WWW-Authenticate".into(),
                    format!(r#"Bearer realm="{realm}",service="hostile""#),
                )],
                Vec::new(),
            );
        }
        if seen.path.contains("/manifests/") {
            ok(manifest.clone())
        } else if seen.path.contains("/hello/blobs/") {
            ok(layer.clone())
        } else {
            // Another repository's blob: an error that echoes the token.
            Reply::Full(500, Vec::new(), format!("bad token {TOKEN}").into_bytes())
        }
    });
    host.set(registry.host.clone()).expect("set once");
    let t = empty_dir();
    let env = env_for(&registry.host);
    let out = run(&t, &["pull", &registry.reference("team/hello:1")], &env);
    assert_eq!(out.code(), 0, "{out}");
    let token_requests: Vec<Seen> = registry
        .seen()
        .into_iter()
        .filter(|s| s.path.starts_with("/token"))
        .collect();
    assert_eq!(token_requests.len(), 1, "{token_requests:?}");
    assert!(
        token_requests[0]
            .path
            .contains("scope=repository%3Ateam%2Fhello%3Apull"),
        "{token_requests:?}"
    );

    // The same token echoed back in an error is hidden like a password.
    let out = run(&t, &["pull", &registry.reference("team/other:1")], &env);
    assert_eq!(out.code(), 2, "{out}");
    assert!(out.stderr.contains("bad token ***"), "{out}");
    assert!(!out.all().contains(TOKEN), "{out}");
}

#[test]
fn an_endless_token_answer_is_cut_at_its_cap() {
    let host: Arc<std::sync::OnceLock<String>> = Arc::default();
    let realm_host = host.clone();
    let registry = Hostile::start(move |seen| {
        if seen.path.starts_with("/token") {
            return Reply::Endless(None);
        }
        let realm = format!("http://{}/token", realm_host.get().expect("host"));
        Reply::Full(
            401,
            vec![(
                "WWW-Authenticate".into(),
                format!(r#"Bearer realm="{realm}""#),
            )],
            Vec::new(),
        )
    });
    host.set(registry.host.clone()).expect("set once");
    let t = empty_dir();
    let (out, rss) = run_measured(&t, &["pull", &registry.reference("team/hello:1")]);
    assert_refused(
        &out,
        &t,
        "a token from the registry is larger than 65536 bytes",
    );
    assert!(rss < RSS_BOUND_KIB, "peak RSS {rss} KiB:\n{out}");
}
