//! The watchdog: a small process per run that SIGKILLs every worker's process group when
//! the runner dies, however it dies (`kill -9` and the OOM killer included).
//!
//! # Why a separate process
//! The parent-death signal (`PR_SET_PDEATHSIG`, `process.rs`) reaches only the runner's
//! direct child. A worker run through `sh -c`, a script that starts the real server as
//! its child, an `npm start` that forks, or a server with a master and worker processes
//! leaves those grandchildren running when the runner is SIGKILLed: they keep the port and
//! the next run is refused. Nothing inside a SIGKILLed process can react, so the process
//! groups must be owned by someone who survives the runner.
//!
//! # Design
//! - [`Fleet::start`](super::Fleet::start) spawns the watchdog once per run: the runner's
//!   own binary re-executed with a hidden subcommand (see [`WatchdogCommand`]), whose stdin
//!   is the read end of a pipe only the runner holds the write end of (close-on-exec, so no
//!   worker inherits it).
//! - Each worker registers its own process group before it executes its program: the
//!   forked child writes `+PGID\n` to the pipe in `pre_exec`, after `setpgid`, so there is
//!   no moment at which a worker runs unregistered (a write below `PIPE_BUF` is atomic).
//! - After the runner has SIGKILLed a group itself (`stop`, `kill_now`), it writes
//!   `-PGID\n`: the group is gone and its id may be reused, so the watchdog forgets it.
//! - When the runner exits, normally or not, the kernel closes the write end; the
//!   watchdog reads EOF, SIGKILLs every group still registered ([`serve`]), and exits.
//! - The watchdog lives in its own process group and ignores SIGINT, SIGTERM, SIGHUP and
//!   SIGQUIT, so neither a Ctrl-C at the terminal nor a CI job killing the runner's group
//!   stops it before it has done its work. Only a SIGKILL aimed at it defeats it; the
//!   direct children still have their parent-death signal then.
//!
//! A process that leaves its group (`setsid`, `setpgid`: a daemon that detaches on
//! purpose) is out of reach of every group-based supervisor, this one included.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::io::{self, BufRead, Write};
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::{SigHandler, Signal, killpg, signal};
use nix::unistd::{Pid, getpid};

/// The hidden subcommand that runs [`serve`] (`prometheus-wasm __watchdog`).
pub const WATCHDOG_SUBCOMMAND: &str = "__watchdog";

/// How many times the watchdog repeats SIGKILL to a group until the group is gone. One
/// signal reaches every member; repeating covers a member that was forking at that instant
/// and zombies still waiting for their new parent to reap them.
const KILL_ROUNDS: u32 = 50;

/// Pause between two SIGKILL rounds: the whole loop is bounded by half a second per group.
const KILL_ROUND_PAUSE: Duration = Duration::from_millis(10);

/// How to start the watchdog process: normally the runner's own binary with
/// [`WATCHDOG_SUBCOMMAND`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchdogCommand {
    /// The program (the runner's own executable).
    pub program: PathBuf,
    /// Its arguments (the hidden subcommand).
    pub args: Vec<OsString>,
}

impl WatchdogCommand {
    /// The currently running executable with [`WATCHDOG_SUBCOMMAND`].
    ///
    /// # Errors
    /// When the path of the running executable cannot be read.
    pub fn current_exe() -> io::Result<Self> {
        Ok(Self {
            program: std::env::current_exe()?,
            args: vec![WATCHDOG_SUBCOMMAND.into()],
        })
    }

    /// The same watchdog as a POSIX `sh` script, for a program that links the library but
    /// has no [`WATCHDOG_SUBCOMMAND`] (a `cargo test` binary running a
    /// [`Session`](crate::session::Session)). It speaks the same pipe protocol and ignores
    /// the same signals; it repeats SIGKILL a few times instead of until each group is
    /// gone.
    pub fn shell() -> Self {
        Self {
            program: PathBuf::from("/bin/sh"),
            args: vec!["-c".into(), SHELL_WATCHDOG.into()],
        }
    }
}

/// [`WatchdogCommand::shell`]'s script: `+PGID`/`-PGID` lines until EOF (numbers of 2 and
/// more only, as [`watch`] reads them), then SIGKILL to every group still registered.
const SHELL_WATCHDOG: &str = r#"trap '' INT TERM HUP QUIT
groups=' '
while IFS= read -r line; do
  pgid=${line#?}
  case $pgid in ''|*[!0-9]*) continue ;; esac
  [ "${#pgid}" -le 9 ] && [ "$pgid" -ge 2 ] || continue
  case $line in
    +*) groups="$groups$pgid " ;;
    -*) kept=' '
        for g in $groups; do [ "$g" = "$pgid" ] || kept="$kept$g "; done
        groups=$kept ;;
  esac
done
for round in 1 2 3 4 5; do
  for g in $groups; do kill -s KILL -- "-$g" 2>/dev/null; done
done
"#;

/// The runner's end of a running watchdog. Dropping it closes the pipe: the watchdog then
/// kills what is still registered and exits (tokio reaps it).
#[derive(Debug)]
pub(super) struct Watchdog {
    pipe: Mutex<io::PipeWriter>,
    /// Kept so that the process is reaped by tokio once it exits, not left a zombie.
    _process: tokio::process::Child,
}

impl Watchdog {
    /// Starts the watchdog process. Must be called inside a tokio runtime.
    pub(super) fn spawn(command: &WatchdogCommand) -> io::Result<Self> {
        let (reader, writer) = io::pipe()?;
        let process = tokio::process::Command::new(&command.program)
            .args(&command.args)
            .stdin(Stdio::from(reader))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            // Its own group: a signal to the runner's group (Ctrl-C, a CI job's kill) does
            // not reach it.
            .process_group(0)
            .spawn()?;
        Ok(Self {
            pipe: Mutex::new(writer),
            _process: process,
        })
    }

    /// The pipe's file descriptor, for [`register_in_child`] in a worker's `pre_exec`.
    pub(super) fn fd(&self) -> RawFd {
        self.pipe
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_raw_fd()
    }

    /// Tells the watchdog that the group `pgid` was killed by the runner and must be
    /// forgotten (its id may be reused by an unrelated process from now on).
    pub(super) fn release(&self, pgid: u32) {
        let mut pipe = self.pipe.lock().unwrap_or_else(PoisonError::into_inner);
        if let Err(error) = writeln!(pipe, "-{pgid}") {
            tracing::warn!(pgid, %error, "cannot reach the worker watchdog");
        }
    }
}

/// Runs in a forked worker before `exec`: registers the child's process group (its own pid,
/// as it leads its group) with the watchdog behind `fd`.
///
/// Only async-signal-safe calls (`getpid`, `write`) and no allocation: this runs between
/// `fork` and `exec` in a multi-threaded program. A watchdog that is gone already is not
/// an error: the worker still has its parent-death signal.
pub(super) fn register_in_child(fd: RawFd) -> io::Result<()> {
    let mut line = [0u8; 24];
    let len = format_registration(getpid().as_raw(), &mut line);
    // SAFETY: `fd` is the watchdog pipe's write end, owned by the `Watchdog` that outlives
    // the spawn call, and inherited by this child until it executes its program.
    let fd = unsafe { BorrowedFd::borrow_raw(fd) };
    match nix::unistd::write(fd, &line[..len]) {
        Ok(_) | Err(Errno::EPIPE) => Ok(()),
        Err(errno) => Err(io::Error::from(errno)),
    }
}

/// Writes `+PID\n` into `out` without allocating; returns its length.
fn format_registration(pid: i32, out: &mut [u8; 24]) -> usize {
    let mut digits = [0u8; 20];
    let mut n = pid.unsigned_abs();
    let mut count = 0;
    loop {
        digits[count] = b'0' + (n % 10) as u8;
        count += 1;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out[0] = b'+';
    for i in 0..count {
        out[1 + i] = digits[count - 1 - i];
    }
    out[1 + count] = b'\n';
    count + 2
}

/// The watchdog process's main function: ignores the signals that stop a process group,
/// then `watch`es `input` (its stdin). Returns the process exit code (0).
pub fn serve(input: impl BufRead) -> u8 {
    for stop in [
        Signal::SIGINT,
        Signal::SIGTERM,
        Signal::SIGHUP,
        Signal::SIGQUIT,
    ] {
        // SAFETY: installing SIG_IGN runs no handler code. Failure leaves the default,
        // which only makes the watchdog easier to stop: nothing to do about it.
        let _ = unsafe { signal(stop, SigHandler::SigIgn) };
    }
    watch(input);
    0
}

/// Reads `+PGID` / `-PGID` lines until EOF, then SIGKILLs every group still registered.
fn watch(input: impl BufRead) {
    let mut groups = BTreeSet::new();
    // A read error is treated like EOF: either way the runner can no longer talk to us.
    for line in input.lines().map_while(Result::ok) {
        let (sign, number) = line.split_at(line.len().min(1));
        let Ok(pgid) = number.trim().parse::<i32>() else {
            continue;
        };
        // Never 0 or 1: killpg would hit our own group or init's.
        if pgid < 2 {
            continue;
        }
        match sign {
            "+" => {
                groups.insert(pgid);
            }
            "-" => {
                groups.remove(&pgid);
            }
            _ => {}
        }
    }
    for pgid in groups {
        kill_group(pgid);
    }
}

/// SIGKILLs the group until it is gone, within [`KILL_ROUNDS`].
fn kill_group(pgid: i32) {
    for _ in 0..KILL_ROUNDS {
        match killpg(Pid::from_raw(pgid), Signal::SIGKILL) {
            Err(Errno::ESRCH) => return,
            Ok(()) => std::thread::sleep(KILL_ROUND_PAUSE),
            Err(_) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registration_lines_are_formatted_without_allocation() {
        let mut out = [0u8; 24];
        let len = format_registration(4_194_304, &mut out);
        assert_eq!(&out[..len], b"+4194304\n");
        let len = format_registration(7, &mut out);
        assert_eq!(&out[..len], b"+7\n");
    }

    /// Two sleeping process groups, one of them released by `input`'s lines; `watch` runs
    /// on `input` and must kill only the other.
    fn kills_only_the_registered(watch: impl FnOnce(&str)) {
        use std::os::unix::process::CommandExt;
        let mut kept = std::process::Command::new("sleep")
            .arg("60")
            .process_group(0)
            .spawn()
            .expect("spawn sleep");
        let mut released = std::process::Command::new("sleep")
            .arg("60")
            .process_group(0)
            .spawn()
            .expect("spawn sleep");
        let input = format!(
            "+{kept}\n+{released}\n-{released}\nnonsense\n+1\n",
            kept = kept.id(),
            released = released.id()
        );
        watch(&input);
        let status = kept.wait().expect("wait");
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&status),
            Some(9)
        );
        assert!(
            released.try_wait().expect("try_wait").is_none(),
            "a released group is left alone"
        );
        let _ = released.kill();
        let _ = released.wait();
    }

    #[test]
    fn watch_kills_the_groups_still_registered_at_eof() {
        kills_only_the_registered(|input| watch(input.as_bytes()));
    }

    #[test]
    fn the_shell_watchdog_kills_the_groups_still_registered_at_eof() {
        kills_only_the_registered(|input| {
            let command = WatchdogCommand::shell();
            let mut shell = std::process::Command::new(&command.program)
                .args(&command.args)
                .stdin(Stdio::piped())
                .spawn()
                .expect("spawn sh");
            let mut stdin = shell.stdin.take().expect("stdin");
            // Also what the shell must skip: a number too large for `[`, a negative one.
            write!(stdin, "+99999999999999999999\n+-5\n{input}").expect("write");
            drop(stdin);
            assert!(shell.wait().expect("wait").success());
        });
    }
}
