//! Test helpers: free ports, a recording sink, launch specs with a tag in their
//! environment, and liveness checks through /proc.

use std::collections::{BTreeMap, BTreeSet};
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::workers::{LaunchSpec, OutputSink, Stream, SupervisorOptions};

/// Upper bound of every wait for something that should happen soon; only a broken
/// supervisor (or a machine on fire) reaches it.
pub const PATIENCE: Duration = Duration::from_secs(15);

/// The environment variable that marks the processes of one test, to find survivors.
const TAG_VARIABLE: &str = "PROMETHEUS_WASM_TEST_TAG";

/// A port nothing listens on right now, never handed out before in this test binary (the
/// kernel may offer a just-released port again, and two tests starting servers on one
/// port at once would see each other's server).
pub fn free_port() -> u16 {
    static HANDED_OUT: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());
    loop {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
        let port = listener.local_addr().expect("a bound address").port();
        if HANDED_OUT.lock().expect("port registry lock").insert(port) {
            return port;
        }
    }
}

/// A tag unique in this test binary run.
pub fn new_tag() -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    )
}

/// A spec running `program args`, with PATH, unbuffered Python and the test's `tag`.
pub fn spec(tag: &str, name: &str, port: u16, program: &str, args: &[&str]) -> LaunchSpec {
    let mut env = BTreeMap::new();
    env.insert("PATH".to_owned(), std::env::var("PATH").unwrap_or_default());
    env.insert("PYTHONUNBUFFERED".to_owned(), "1".to_owned());
    env.insert(TAG_VARIABLE.to_owned(), tag.to_owned());
    LaunchSpec {
        name: name.to_owned(),
        program: program.to_owned(),
        args: args.iter().map(|arg| (*arg).to_owned()).collect(),
        cwd: std::env::temp_dir(),
        env,
        port,
        ready: Default::default(),
    }
}

/// A `sh -c script` spec.
pub fn sh(tag: &str, name: &str, port: u16, script: &str) -> LaunchSpec {
    spec(tag, name, port, "sh", &["-c", script])
}

/// A Python HTTP server on `port`, started through `sh` so that `prelude` runs first in
/// the same process (`exec` keeps the pid).
pub fn http_server(tag: &str, name: &str, port: u16, prelude: &str) -> LaunchSpec {
    sh(
        tag,
        name,
        port,
        &format!("{prelude} exec python3 -m http.server {port} --bind 127.0.0.1"),
    )
}

/// Options for tests: patient startup, short grace.
pub fn options() -> SupervisorOptions {
    SupervisorOptions {
        startup_timeout: PATIENCE,
        grace: Duration::from_millis(300),
        watchdog: None,
    }
}

/// Records everything the supervisor reports.
#[derive(Default)]
pub struct RecordingSink {
    pub lines: Mutex<Vec<(String, Stream, String)>>,
    pub exits: Mutex<Vec<(String, String)>>,
}

impl OutputSink for RecordingSink {
    fn line(&self, worker: &str, stream: Stream, line: &str) {
        let mut lines = self.lines.lock().expect("sink lock");
        lines.push((worker.to_owned(), stream, line.to_owned()));
    }

    fn exited(&self, worker: &str, status: &str) {
        let mut exits = self.exits.lock().expect("sink lock");
        exits.push((worker.to_owned(), status.to_owned()));
    }
}

impl RecordingSink {
    /// The first line of `worker` on `stream` containing `needle`, waiting for it.
    pub async fn line_containing(&self, worker: &str, stream: Stream, needle: &str) -> String {
        let found = eventually(|| {
            let lines = self.lines.lock().expect("sink lock");
            lines
                .iter()
                .find(|(w, s, l)| w == worker && *s == stream && l.contains(needle))
                .map(|(_, _, line)| line.clone())
        })
        .await;
        found.unwrap_or_else(|| panic!("no {stream} line of {worker} contains {needle:?}"))
    }

    /// The pid a worker printed as `<key>=<pid>`.
    pub async fn printed_pid(&self, worker: &str, key: &str) -> u32 {
        let line = self
            .line_containing(worker, Stream::Stdout, &format!("{key}="))
            .await;
        let value = line.rsplit('=').next().expect("a value after =");
        value.trim().parse().expect("a pid")
    }

    pub fn exits(&self) -> Vec<(String, String)> {
        self.exits.lock().expect("sink lock").clone()
    }
}

/// Polls `check` until it returns `Some`, at most [`PATIENCE`].
pub async fn eventually<T>(mut check: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        if let Some(value) = check() {
            return Some(value);
        }
        if tokio::time::Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// True if the process exists and is not a zombie (an orphaned zombie waits for init,
/// which we do not control; it runs no code and holds no port).
pub fn is_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the parenthesised command name, which may contain spaces.
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

/// Waits until none of `pids` is alive; panics naming the survivors.
pub async fn assert_all_gone(pids: &[u32]) {
    let gone = eventually(|| pids.iter().all(|&pid| !is_alive(pid)).then_some(())).await;
    let alive: Vec<_> = pids.iter().filter(|&&pid| is_alive(pid)).collect();
    assert!(gone.is_some(), "still alive: {alive:?}");
}

/// Live processes whose environment carries `tag`: whatever a test's workers left behind.
pub fn tagged_processes(tag: &str) -> Vec<u32> {
    let marker = format!("{TAG_VARIABLE}={tag}");
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| {
            let environ = std::fs::read(PathBuf::from(format!("/proc/{pid}/environ")));
            environ.is_ok_and(|env| env.split(|&b| b == 0).any(|var| var == marker.as_bytes()))
                && is_alive(pid)
        })
        .collect()
}

/// Waits until no process of the test is alive.
pub async fn assert_no_survivors(tag: &str) {
    let gone = eventually(|| tagged_processes(tag).is_empty().then_some(())).await;
    assert!(gone.is_some(), "survivors: {:?}", tagged_processes(tag));
}
