//! `run`'s worker helpers: what the supervisor starts, the watchdog, and how a worker
//! error becomes an exit code.

use anyhow::anyhow;

use crate::cli::UserError;
use crate::config::TestConfig;
use crate::report::TerminalReport;
use crate::workers::{LaunchSpec, WatchdogCommand};

/// A worker that could not be set up (port taken, program missing) is a usage error: nothing
/// was tested. A worker that started and died, or never answered, fails the test.
pub(super) fn worker_error(e: crate::workers::WorkerError) -> UserError {
    use crate::workers::WorkerErrorKind as K;
    let hint = e.hint();
    match e.kind() {
        K::ExitedAtStart { .. } | K::NotReady { .. } | K::ProbeFailed { .. } => {
            UserError::failed(anyhow!(e), hint)
        }
        _ => UserError::usage(anyhow!(e), hint),
    }
}

/// What the supervisor starts: one spec per local worker of workers.json (external
/// workers run elsewhere).
pub(super) fn launch_specs(config: &TestConfig) -> Vec<LaunchSpec> {
    config
        .workers
        .iter()
        .filter(|w| !w.is_external())
        .map(|w| LaunchSpec {
            name: w.name.clone(),
            program: w.program.clone(),
            args: w.args.clone(),
            cwd: w.cwd.clone(),
            env: w.env.clone(),
            port: w.port,
            ready: w.ready.clone(),
        })
        .collect()
}

/// The runner's own binary as the workers' watchdog (`workers/watchdog.rs`). Without it
/// (the path of the running binary cannot be read) a SIGKILLed runner may leave the
/// workers' children behind, so say so.
pub(super) fn watchdog(report: &TerminalReport) -> Option<WatchdogCommand> {
    match WatchdogCommand::current_exe() {
        Ok(command) => Some(command),
        Err(e) => {
            report.warning(&format!(
                "cannot locate the runner's executable ({e}): without the watchdog, \
                 processes the workers start may survive if the runner is killed"
            ));
            None
        }
    }
}
