//! The command line: clap definitions, wiring of the modules, exit codes. The only module
//! that uses anyhow, prints outside `report/` or decides the process exit code.

mod args;
mod check;
mod fetch_args;
mod inspect;
mod keygen;
mod list;
mod lock;
mod metadata;
mod migrate;
mod new;
mod pull;
mod push;
mod replay;
mod run;
mod run_flags;
mod sign;
mod update_pins;

pub use args::{Cli, Command};

use std::process::ExitCode;

use crate::report::sanitize::bounded_text;

// The exit codes live in the library (`prometheus_wasm::exit`), where embedders and the
// system tests read them; these names are what the commands use.
pub use crate::exit::{
    FAILED as EXIT_FAILED, INTERRUPTED as EXIT_INTERRUPTED, OK as EXIT_PASSED,
    TERMINATED as EXIT_TERMINATED, USAGE as EXIT_USAGE,
};

/// How long the exit waits for work still running on blocking threads.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(1);

pub use crate::error::UserError;

/// The exit code of a command (other than `run`) stopped by `stop`, after saying so.
pub(crate) fn stopped(stop: crate::session::signals::Stop) -> u8 {
    eprintln!("{} received: stopped", stop.name());
    stop.exit_code()
}

/// Runs the parsed command line and returns the process exit code.
pub fn main_with(cli: Cli) -> ExitCode {
    if matches!(cli.command, Command::Watchdog) {
        // No runtime, no threads: it only reads its stdin and signals process groups.
        return ExitCode::from(crate::workers::serve_watchdog(std::io::stdin().lock()));
    }
    if !matches!(cli.command, Command::Run(_)) {
        // Commands that only print behave like other Unix tools under `| head`: a closed
        // pipe ends them quietly instead of panicking in println!. `run` keeps the Rust
        // default (EPIPE as an error, which its report ignores) so that a closed stdout
        // never stops it before the workers are stopped.
        // SAFETY: called once at start-up, before any other thread exists.
        let _ = unsafe {
            nix::sys::signal::signal(
                nix::sys::signal::Signal::SIGPIPE,
                nix::sys::signal::SigHandler::SigDfl,
            )
        };
    }
    // Warnings of the layers below the report (code cache, package store, supervisor)
    // reach the user as `warning:` lines, through the report while `run` has one.
    crate::report::warnings::install();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Run(args) => run::run(*args).await,
            Command::List(args) => list::list(args).await,
            Command::Inspect(args) => inspect::inspect(args).await,
            Command::Lock(args) => lock::lock(args).await,
            Command::Metadata(args) => metadata::metadata(args).await,
            Command::Push(args) => push::push(args).await,
            Command::Pull(args) => pull::pull(args).await,
            Command::New(args) => new::new(args),
            Command::Check(args) => check::check(*args).await,
            Command::Sign(args) => sign::sign(args),
            Command::Verify(args) => sign::verify(args),
            Command::Keygen(args) => keygen::keygen(args),
            Command::Migrate(args) => migrate::migrate(args),
            Command::Replay(args) => replay::replay(args).await,
            // Handled above, before the runtime; kept total rather than panicking.
            Command::Watchdog => Ok(crate::workers::serve_watchdog(std::io::stdin().lock())),
        }
    });
    // Work left on blocking threads (an embedded-store call of a step a signal stopped)
    // notices its cancellation within a document; do not let it hold up the exit.
    runtime.shutdown_timeout(SHUTDOWN_GRACE);
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            // Errors quote guest and worker text (a step's message, a worker's last
            // lines) and names from files (plans, manifests, locks, journals): rendered
            // through the report's sanitizer and cut like any message, here, the one place
            // every command's errors are printed. `run` and `check` redacted them already.
            eprintln!("error: {}", bounded_text(&e.message()));
            if let Some(hint) = e.hint {
                eprintln!("  hint: {}", bounded_text(&hint));
            }
            ExitCode::from(e.code)
        }
    }
}
