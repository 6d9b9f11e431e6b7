//! The run's worker helpers: what the supervisor starts and the watchdog. (How a worker
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

/// The workers' watchdog (`workers/watchdog.rs`): the runner's own binary when it has the
/// watchdog subcommand (`own_binary`: the CLI), else — or when the running binary's path
/// cannot be read — the POSIX `sh` one, so that a program linking the library (a `cargo
/// test` binary) guards its workers too.
pub(crate) fn watchdog(own_binary: bool, report: &TerminalReport) -> WatchdogCommand {
    if !own_binary {
        return WatchdogCommand::shell();
    }
    WatchdogCommand::current_exe().unwrap_or_else(|e| {
        report.warning(&format!(
            "cannot locate the runner's executable ({e}); the workers' watchdog runs in sh"
        ));
        WatchdogCommand::shell()
    })
}
