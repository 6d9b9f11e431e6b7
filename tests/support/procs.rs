//! Finding what a run's workers left behind: every process that carries a test's tag in
//! its environment (a worker's children and grandchildren inherit it, whatever wraps
//! them), and whether a port is free again.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use crate::is_alive;

/// The environment variable the supervisor tests put in every worker's `env`.
pub const TAG_VARIABLE: &str = "PROMETHEUS_WASM_SYSTEM_TEST_TAG";

/// A tag unique to this test process and call.
pub fn new_tag() -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    )
}

/// Live (non-zombie) processes whose environment holds `TAG_VARIABLE=tag`.
pub fn tagged_processes(tag: &str) -> Vec<i32> {
    let marker = format!("{TAG_VARIABLE}={tag}");
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| {
            let environ = std::fs::read(format!("/proc/{pid}/environ"));
            environ.is_ok_and(|env| env.split(|&b| b == 0).any(|var| var == marker.as_bytes()))
                && is_alive(pid)
        })
        .collect()
}

/// True if nothing listens on the loopback port (binding it succeeds).
pub fn port_is_free(port: u16) -> bool {
    TcpListener::bind(("127.0.0.1", port)).is_ok()
}

/// Polls `check` every 20 ms until it holds; panics with `what` after `patience`.
pub fn wait_until(patience: Duration, what: &str, mut check: impl FnMut() -> bool) {
    let started = Instant::now();
    while !check() {
        assert!(started.elapsed() < patience, "timed out waiting: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}
