//! `run`'s worker helpers: what the supervisor starts and the watchdog. (How a worker
//! error becomes an exit code is [`WorkerError`](crate::workers::WorkerError)'s
//! [`UserFacing`](crate::error::UserFacing) impl.)

use crate::config::TestConfig;
use crate::report::TerminalReport;
use crate::workers::{LaunchSpec, WatchdogCommand};

/// What the supervisor starts: one spec per local worker of workers.json (external
/// workers run elsewhere).
pub(crate) fn launch_specs(config: &TestConfig) -> Vec<LaunchSpec> {
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
pub(crate) fn watchdog(report: &TerminalReport) -> Option<WatchdogCommand> {
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
