//! Support for the system tests: locate the binaries and components that
//! `scripts/test.sh` builds, copy an example's test folder into a temporary directory
//! with free ports, run the runner with a time limit, read its state file.
//!
//! Every test runs the real `prometheus-wasm` binary against real worker processes on
//! 127.0.0.1 and components compiled from source in this repository.

use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

/// The runner's exit codes, from the library itself: tests compare with these names, so a
/// code cannot drift between what the binary returns and what the tests expect.
pub use prometheus_wasm::exit;

pub mod external;
pub mod http_server;
pub mod procs;
pub mod registry;
pub mod secantus;

/// How long one run may take before the test kills it and fails: generous, because a
/// hung runner must fail the test rather than hang CI.
pub const RUN_LIMIT: Duration = Duration::from_secs(120);

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// The workspace's target directory (`CARGO_TARGET_DIR` honoured).
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|p| {
            if p.is_absolute() {
                p
            } else {
                repo_root().join(p)
            }
        })
        .unwrap_or_else(|| repo_root().join("target"))
}

fn built(path: PathBuf) -> PathBuf {
    assert!(
        path.exists(),
        "{} is missing: run scripts/test.sh, which builds the binaries and components first",
        path.display()
    );
    path
}

/// The `prometheus-wasm` binary (debug build).
pub fn runner_bin() -> PathBuf {
    built(target_dir().join("debug/prometheus-wasm"))
}

/// The `hello-worker` binary (debug build).
pub fn hello_worker_bin() -> PathBuf {
    built(target_dir().join("debug/hello-worker"))
}

/// A component built by `scripts/build-components.sh`, by crate name (`hello_steps`).
pub fn component(name: &str) -> PathBuf {
    built(target_dir().join(format!("wasm32-wasip2/guest/{name}.wasm")))
}

/// A Python or JavaScript step package built by `scripts/build-polyglot.sh`
/// (`hello_python`, `hello_js`).
pub fn polyglot_component(name: &str) -> PathBuf {
    built(target_dir().join(format!("polyglot/{name}.wasm")))
}

/// A compiled-code cache directory under the target directory, emptied the first time a
/// test process asks for it: tests of one binary share it, so a large component is
/// compiled once per test binary rather than once per test.
pub fn fresh_shared_cache(name: &str) -> PathBuf {
    static CLEARED: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let dir = target_dir().join("test-cache").join(name);
    let mut cleared = CLEARED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if !cleared.iter().any(|n| n == name) {
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the shared cache dir");
        cleared.push(name.to_owned());
    }
    dir
}

/// First port [`free_ports`] hands out.
const FREE_PORTS_START: u32 = 20_000;
/// Ports [`free_ports`] hands out from: 20000–31999, below Linux's ephemeral range
/// (32768–60999 by default), where outgoing connections and port-0 listeners (the fault
/// proxies, the tests' own servers) get their ports. A worker port handed out there could
/// be taken by another test's connection between the check and the worker's bind, and
/// readiness would then see the other test's listener.
const FREE_PORTS_WINDOW: u32 = 12_000;

/// `n` consecutive free ports on 127.0.0.1. Parallel tests take different ranges (a
/// per-process counter), and each candidate is checked by binding it.
pub fn free_ports(n: u16) -> u16 {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let spread = (std::process::id() % 120) * 100;
    loop {
        let offset = u32::from(NEXT.fetch_add(n + 1, Ordering::SeqCst));
        let span = FREE_PORTS_WINDOW - u32::from(n);
        let base = u16::try_from(FREE_PORTS_START + (spread + offset) % span).expect("below 32000");
        if (0..n).all(|i| TcpListener::bind(("127.0.0.1", base + i)).is_ok()) {
            return base;
        }
    }
}

/// The result of one run of the runner.
#[derive(Debug)]
pub struct RunOutput {
    /// Exit status.
    pub status: ExitStatus,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl RunOutput {
    /// The exit code (panics if killed by a signal); compare it with [`exit`]'s constants.
    pub fn code(&self) -> u8 {
        let code = self
            .status
            .code()
            .unwrap_or_else(|| panic!("runner killed by a signal:\n{self}"));
        u8::try_from(code).expect("an exit code is 0 to 255")
    }

    /// Stdout and stderr together, for `contains` checks.
    pub fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }

    /// Names of the steps that started, in order (from the `▶ [i/n] name` banners).
    pub fn started_steps(&self) -> Vec<String> {
        self.stdout
            .lines()
            .filter_map(|l| l.strip_prefix("▶ ["))
            .filter_map(|l| l.split_once("] "))
            .filter_map(|(_, rest)| rest.split_whitespace().next())
            .map(str::to_string)
            .collect()
    }

    /// PIDs the hello workers printed (`listening on ... (pid N, ...)`), each once (a
    /// failed step repeats its worker's last lines).
    pub fn worker_pids(&self) -> Vec<i32> {
        let mut pids: Vec<i32> = Vec::new();
        let printed = self
            .stdout
            .lines()
            .filter_map(|l| l.split_once("(pid ").map(|(_, rest)| rest))
            .filter_map(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
            .filter_map(|n| n.parse().ok());
        for pid in printed {
            if !pids.contains(&pid) {
                pids.push(pid);
            }
        }
        pids
    }
}

impl std::fmt::Display for RunOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "status: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.status, self.stdout, self.stderr
        )
    }
}

/// Waits for `child` up to [`RUN_LIMIT`], killing it past that.
pub fn wait_output(mut child: Child) -> RunOutput {
    let mut stdout = child.stdout.take().expect("stdout piped");
    let mut stderr = child.stderr.take().expect("stderr piped");
    let out_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait on the runner") {
            break status;
        }
        if started.elapsed() > RUN_LIMIT {
            let _ = child.kill();
            let status = child.wait().expect("wait on the killed runner");
            let out = RunOutput {
                status,
                stdout: out_reader.join().unwrap_or_default(),
                stderr: err_reader.join().unwrap_or_default(),
            };
            panic!("the runner did not finish within {RUN_LIMIT:?}:\n{out}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    RunOutput {
        status,
        stdout: out_reader.join().unwrap_or_default(),
        stderr: err_reader.join().unwrap_or_default(),
    }
}

/// Copies the folder `from` into `to` (created), files and subfolders alike: fixtures are
/// copied into a temp folder before a test changes them.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// Waits for `child` (spawned with stdout and stderr piped), reading its output as it
/// comes, and returns the output with the child's peak RSS in KiB — its own `wait4` usage,
/// so that tests running in parallel do not mix their figures. Kills it and panics past
/// `limit`: a bound that proves "did not hang", not a timing goal.
pub fn wait_measured(mut child: Child, limit: Duration) -> (RunOutput, u64) {
    let pid = i32::try_from(child.id()).expect("pid fits");
    let read = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            String::from_utf8_lossy(&bytes).into_owned()
        })
    };
    let out = read(Box::new(child.stdout.take().expect("stdout piped")));
    let err = read(Box::new(child.stderr.take().expect("stderr piped")));
    let started = Instant::now();
    let (status, rusage) = loop {
        let mut status = 0;
        // SAFETY: an all-zero `rusage` is a valid value for wait4 to fill.
        let mut rusage: nix::libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: `pid` is our child, not yet reaped; both pointers are to live locals.
        let reaped = unsafe { nix::libc::wait4(pid, &mut status, nix::libc::WNOHANG, &mut rusage) };
        if reaped == pid {
            break (
                std::os::unix::process::ExitStatusExt::from_raw(status),
                rusage,
            );
        }
        assert_eq!(reaped, 0, "wait4: {}", std::io::Error::last_os_error());
        if started.elapsed() > limit {
            let _ = child.kill();
            panic!("the runner did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    drop(child);
    let output = RunOutput {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    };
    (output, u64::try_from(rusage.ru_maxrss).unwrap_or(u64::MAX))
}

/// Runs `prometheus-wasm <args>` in `dir` to completion, with a compiled-code cache
/// private to `dir` and no colors — for tests that lay out their own folder instead of
/// copying an example ([`TestDir`]).
pub fn run_in(dir: &Path, args: &[&str]) -> RunOutput {
    wait_output(spawn_in(dir, args))
}

/// The runner started with `args` in `dir` as [`run_in`] starts it (a compiled-code cache
/// private to `dir`, no colors, output piped), for tests that wait for it their own way
/// ([`wait_measured`]).
pub fn spawn_in(dir: &Path, args: &[&str]) -> Child {
    Command::new(runner_bin())
        .args(args)
        .current_dir(dir)
        .env("PROMETHEUS_WASM_CACHE_DIR", dir.join("cache"))
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the runner")
}

/// Whether a process with this PID exists (zombies count as gone).
pub fn is_alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

/// Copies the `.json` files of an example's `data/` folder (MongoDB seed files such as
/// `todos.json`), if it has one; run leftovers (`test_state.json`, worker databases, the
/// embedded store) are not copied.
fn copy_seed_files(from: &Path, to: &Path) {
    let Ok(entries) = std::fs::read_dir(from) else {
        return;
    };
    for entry in entries {
        let path = entry.expect("read the example's data dir").path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if path.is_file() && name.ends_with(".json") && name != "test_state.json" {
            std::fs::create_dir_all(to).expect("create data dir");
            std::fs::copy(&path, to.join(name)).expect("copy seed file");
        }
    }
}

/// A copy of an example's test folder in a temporary directory, with free ports.
pub struct TestDir {
    root: tempfile::TempDir,
    steps: PathBuf,
    cache: Option<PathBuf>,
}

impl TestDir {
    /// The hello example (`examples/hello/tests`) with the hello step package.
    pub fn hello() -> Self {
        Self::example("hello", &component("hello_steps"))
    }

    /// `examples/<name>/tests` with `steps` copied in as `tests/steps.wasm`.
    pub fn example(name: &str, steps: &Path) -> Self {
        let root = tempfile::tempdir().expect("temp dir");
        let tests = root.path().join("tests");
        std::fs::create_dir_all(&tests).expect("create tests dir");
        let source = repo_root().join("examples").join(name).join("tests");
        for file in ["config.yaml", "workers.json"] {
            std::fs::copy(source.join(file), tests.join(file)).expect("copy example file");
        }
        copy_seed_files(&source.join("data"), &tests.join("data"));
        let dir = Self {
            steps: tests.join("steps.wasm"),
            root,
            cache: None,
        };
        std::fs::copy(steps, &dir.steps).expect("copy component");
        let workers = dir.workers_json().as_object().map_or(1, |o| o.len()) as u16;
        dir.set_config("base_port", free_ports(workers).into());
        dir
    }

    /// Uses `dir` as the compiled-code cache instead of a private one in the temp root.
    pub fn with_cache_dir(mut self, dir: PathBuf) -> Self {
        self.cache = Some(dir);
        self
    }

    /// The compiled-code cache directory the runs use.
    pub fn cache_dir(&self) -> PathBuf {
        self.cache
            .clone()
            .unwrap_or_else(|| self.root.path().join("cache"))
    }

    /// The tests folder (config.yaml, workers.json, steps.wasm, data/).
    pub fn tests(&self) -> PathBuf {
        self.root.path().join("tests")
    }

    /// The step package.
    pub fn steps(&self) -> &Path {
        &self.steps
    }

    /// Replaces the step package with another component (or any file).
    pub fn use_steps(&self, file: &Path) {
        std::fs::copy(file, &self.steps).expect("copy steps");
    }

    /// Sets a top-level key of config.yaml.
    pub fn set_config(&self, key: &str, value: serde_yaml::Value) {
        let path = self.tests().join("config.yaml");
        let text = std::fs::read_to_string(&path).expect("read config.yaml");
        let mut doc: serde_yaml::Mapping =
            serde_yaml::from_str(&text).expect("config.yaml is a mapping");
        doc.insert(key.into(), value);
        std::fs::write(&path, serde_yaml::to_string(&doc).expect("yaml"))
            .expect("write config.yaml");
    }

    /// Removes a top-level key of config.yaml.
    pub fn remove_config(&self, key: &str) {
        let path = self.tests().join("config.yaml");
        let text = std::fs::read_to_string(&path).expect("read config.yaml");
        let mut doc: serde_yaml::Mapping =
            serde_yaml::from_str(&text).expect("config.yaml is a mapping");
        doc.remove(key);
        std::fs::write(&path, serde_yaml::to_string(&doc).expect("yaml"))
            .expect("write config.yaml");
    }

    /// The base port the test uses.
    pub fn base_port(&self) -> u16 {
        let text =
            std::fs::read_to_string(self.tests().join("config.yaml")).expect("read config.yaml");
        let doc: serde_yaml::Value = serde_yaml::from_str(&text).expect("yaml");
        doc["base_port"].as_u64().expect("base_port set") as u16
    }

    /// workers.json as JSON.
    pub fn workers_json(&self) -> serde_json::Value {
        let text =
            std::fs::read_to_string(self.tests().join("workers.json")).expect("read workers.json");
        serde_json::from_str(&text).expect("workers.json is JSON")
    }

    /// Writes workers.json.
    pub fn write_workers_json(&self, value: &serde_json::Value) {
        std::fs::write(
            self.tests().join("workers.json"),
            serde_json::to_string_pretty(value).expect("json"),
        )
        .expect("write workers.json");
    }

    /// Writes a file in the tests folder.
    pub fn write(&self, relative: &str, contents: &str) {
        let path = self.tests().join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create parent");
        }
        std::fs::write(path, contents).expect("write file");
    }

    /// `data/test_state.json`, parsed.
    pub fn state(&self) -> serde_json::Value {
        let path = self.tests().join("data/test_state.json");
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        serde_json::from_str(&text).expect("state file is JSON")
    }

    /// A command running the runner with `args`, in the temp root, with the hello worker
    /// binary made known to workers.json and the compiled-code cache of [`Self::cache_dir`].
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(runner_bin());
        cmd.args(args)
            .current_dir(self.root.path())
            .env("HELLO_WORKER", hello_worker_bin())
            .env("PROMETHEUS_WASM_CACHE_DIR", self.cache_dir())
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    /// Runs `prometheus-wasm <args>` to completion.
    pub fn run(&self, args: &[&str]) -> RunOutput {
        wait_output(self.command(args).spawn().expect("spawn the runner"))
    }

    /// Runs `prometheus-wasm run tests/steps.wasm <extra>`.
    pub fn run_steps(&self, extra: &[&str]) -> RunOutput {
        let mut args = vec!["run", "tests/steps.wasm"];
        args.extend_from_slice(extra);
        self.run(&args)
    }
}
