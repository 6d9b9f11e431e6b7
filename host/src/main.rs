//! The `prometheus-wasm` binary: parses the command line and hands over to [`cli`].

use std::process::ExitCode;

use clap::Parser;
use prometheus_wasm::cli::{self, Cli};

fn main() -> ExitCode {
    limit_malloc_arenas();
    cli::main_with(Cli::parse())
}

/// glibc gives threads that allocate at once arenas of their own (up to 8 per core) and
/// keeps what they free there: embedded-store work on tokio's blocking threads peaked at
/// 262 MiB where 143 MiB was ever in use at once (docs/security.md, "Host calls charge
/// before they allocate"). Two arenas keep the peak near what is used, at no cost a run
/// notices (its hot paths allocate on one thread at a time).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn limit_malloc_arenas() {
    // SAFETY: mallopt only sets an allocator parameter; called first in main, before any
    // other thread exists.
    unsafe {
        nix::libc::mallopt(nix::libc::M_ARENA_MAX, 2);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn limit_malloc_arenas() {}
