//! One worker process: spawned in its own process group, tied to the runner's life, its
//! exit published on a watch channel, its output forwarded.
//!
//! # Why the spawning thread matters
//! Each worker asks the kernel for SIGKILL when its parent dies (`PR_SET_PDEATHSIG`), so
//! it does not outlive a runner that is itself SIGKILLed (by a CI timeout, the OOM killer).
//! The kernel sends that signal when the *thread* that forked the worker exits, not the
//! process. So [`spawn`] must run on a thread that lives as long as the run: a tokio
//! runtime worker thread or the thread that runs `block_on` (the main thread). Never call
//! it from `spawn_blocking` or `block_in_place`: tokio retires those threads after a few
//! idle seconds, and every worker they forked would be killed with them.
//!
//! The death signal reaches the group leader only; the rest of the group is cleaned up by
//! [`signal_group`] from `stop`, `kill_now` or `Drop`, and, when the runner dies without
//! running any of them, by the watchdog the child registers with before `exec`
//! (`watchdog.rs`).

use std::io;
use std::os::fd::RawFd;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use nix::errno::Errno;
use nix::sys::prctl;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::{Pid, getppid};
use tokio::process::Command;
use tokio::sync::watch;

use super::error::{WorkerError, WorkerErrorKind};
use super::output::{self, OutputDrain, OutputSink, OutputTail};
use super::spec::LaunchSpec;
use super::watchdog::register_in_child;

/// A spawned worker, as seen by the supervisor. Cheap to clone: every part is shared.
#[derive(Debug, Clone)]
pub(super) struct WorkerProcess {
    /// The worker's name, for sink calls and errors.
    pub name: Arc<str>,
    /// The port it should listen on.
    pub port: u16,
    /// Its pid, which is also its process group id (`process_group(0)`).
    pub pid: u32,
    /// `None` while it runs; then how it exited (`exit status: 3`), once reaped.
    pub exit: watch::Receiver<Option<String>>,
    /// Its last output lines.
    pub tail: Arc<OutputTail>,
    /// Tells when its pipes are closed.
    pub drain: OutputDrain,
    /// Raised before the run kills, stops or signals this process on purpose (a fault the
    /// test asked for): its exit is then expected, not a death that fails the run.
    pub on_purpose: Arc<AtomicBool>,
    /// Its `/proc/<pid>/stat`, opened before it can have been reaped: the death watch
    /// re-reads it after every step, and it names this process even if the pid is reused.
    /// `None` if it could not be opened (the watch then reads it by path).
    pub stat: Option<Arc<std::fs::File>>,
}

impl WorkerProcess {
    /// Waits until the process has exited and been reaped; returns its exit status, or
    /// `None` if the reaper task is gone (the runtime is shutting down).
    pub async fn exited(&self) -> Option<String> {
        let mut exit = self.exit.clone();
        exit.wait_for(Option::is_some).await.ok()?.clone()
    }
}

/// Spawns `spec` in its own process group with exactly `spec.env`, forwards its output to
/// `sink`, and starts the task that reaps it. When `watchdog` is the write end of a
/// watchdog's pipe, the child registers its group there before it executes the program.
/// Must be called from a long-lived thread (see the module docs) inside a tokio runtime.
pub(super) fn spawn(
    spec: &LaunchSpec,
    sink: &Arc<dyn OutputSink>,
    watchdog: Option<RawFd>,
) -> Result<WorkerProcess, WorkerError> {
    let mut command = Command::new(&spec.program);
    command
        .args(&spec.args)
        .current_dir(&spec.cwd)
        .env_clear()
        .envs(&spec.env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own group, so one killpg reaches the worker and everything it started.
        .process_group(0)
        // Backstop if the reaper task is dropped with a live child (runtime shutdown).
        .kill_on_drop(true);
    let parent = std::process::id();
    // SAFETY: the closure runs in the forked child before exec (after setpgid); it only
    // makes system calls (prctl, getppid, getpid, write) and builds an io::Error from an
    // errno, which does not allocate.
    unsafe {
        command.pre_exec(move || {
            die_with_parent(parent)?;
            match watchdog {
                Some(fd) => register_in_child(fd),
                None => Ok(()),
            }
        });
    }
    let mut child = command.spawn().map_err(|source| {
        WorkerError::new(
            &spec.name,
            WorkerErrorKind::Spawn {
                program: spec.program.clone(),
                cwd: spec.cwd.clone(),
                source,
            },
        )
    })?;
    let pid = child
        .id()
        .expect("a child that was not yet awaited has a pid");
    tracing::debug!(worker = %spec.name, pid, port = spec.port, "worker spawned");

    let name: Arc<str> = Arc::from(spec.name.as_str());
    let tail = Arc::new(OutputTail::default());
    let drain = output::forward(
        Arc::clone(&name),
        child.stdout.take().expect("stdout is piped"),
        child.stderr.take().expect("stderr is piped"),
        Arc::clone(sink),
        Arc::clone(&tail),
    );

    // Before the reaper exists, the process cannot have been reaped: this is its file.
    let stat = std::fs::File::open(format!("/proc/{pid}/stat"))
        .ok()
        .map(Arc::new);
    let (exit_tx, exit_rx) = watch::channel(None);
    let reaper_name = Arc::clone(&name);
    tokio::spawn(async move {
        let status = match child.wait().await {
            Ok(status) => status.to_string(),
            Err(error) => format!("unknown exit status ({error})"),
        };
        tracing::debug!(worker = &*reaper_name, pid, %status, "worker exited");
        // send_replace stores the status even when nobody is listening yet.
        exit_tx.send_replace(Some(status));
    });

    Ok(WorkerProcess {
        name,
        port: spec.port,
        pid,
        exit: exit_rx,
        tail,
        drain,
        on_purpose: Arc::new(AtomicBool::new(false)),
        stat,
    })
}

/// Runs in the forked child: asks for SIGKILL when the forking thread dies, then makes
/// sure the parent did not die before the request took effect (the child would then have
/// been re-parented already and never get the signal).
fn die_with_parent(parent: u32) -> io::Result<()> {
    prctl::set_pdeathsig(Signal::SIGKILL)?;
    if u32::try_from(getppid().as_raw()) != Ok(parent) {
        return Err(io::Error::from(Errno::ESRCH));
    }
    Ok(())
}

/// Sends `signal` to the process group `pgid`. A group that no longer exists is fine (it
/// is what we want); other failures are logged, as there is nothing better to do.
pub(super) fn signal_group(name: &str, pgid: u32, signal: Signal) {
    // killpg(0) and killpg(1) would signal the runner's own group or init's: never a
    // worker's. Child pids are always above 1 and fit in pid_t, so this only guards.
    let Ok(raw @ 2..) = i32::try_from(pgid) else {
        return;
    };
    match killpg(Pid::from_raw(raw), signal) {
        Ok(()) | Err(Errno::ESRCH) => {}
        Err(error) => tracing::warn!(worker = name, pgid, %signal, %error, "cannot signal worker"),
    }
}
