//! `prometheus-wasm run`: the flags made into [`Settings`], the run itself done by the
//! library's [`Session`] (the one embedders call), its outcome made into the exit code.

use std::time::Duration;

use crate::cli::UserError;
use crate::cli::args::RunArgs;
use crate::config::LimitsConfig;
use crate::report::Verbosity;
use crate::session::{CacheSettings, LockPolicy, Output, Session, Settings, Sink};

use super::run_flags::{ColorChoice, rerun_command};

/// Runs a test; returns the exit code.
pub async fn run(args: RunArgs) -> Result<u8, UserError> {
    let outcome = Session::with_settings(settings(args)?).run_async().await?;
    Ok(outcome.code())
}

/// What `run`'s flags ask of the session: the terminal report on stdout, signals handled,
/// the command line as the way to rerun a failed step.
fn settings(args: RunArgs) -> Result<Settings, UserError> {
    let registry = args.fetch.registry.options()?;
    let verbosity = match (args.output.quiet, args.output.verbose) {
        (true, _) => Verbosity::Quiet,
        (false, 0) => Verbosity::Normal,
        (false, 1) => Verbosity::Verbose,
        (false, _) => Verbosity::VeryVerbose,
    };
    let color = match args.output.color {
        ColorChoice::Auto => None,
        ColorChoice::Always => Some(true),
        ColorChoice::Never => Some(false),
    };
    Ok(Settings {
        steps: args.steps,
        config: args.config,
        sets: args.sets,
        secrets: args.secrets,
        mongo_uri: args.mongo_uri,
        reset: args.reset,
        isolated: args.isolated,
        select: args.select.spec(),
        seed: args.seed,
        startup_timeout: args.startup_timeout.map(Duration::from_secs_f64),
        limits: LimitsConfig {
            state_max_mb: args.state_max_mb,
            store_max_mb: args.store_max_mb,
            recording_max_mb: args.recording_max_mb,
            ..args.budgets.limits()
        },
        record: args.record,
        cache: CacheSettings {
            dir: args.cache_dir,
            disabled: args.no_cache,
            max_mib: args.cache_max_mib,
        },
        offline: args.fetch.offline,
        registry,
        lock: Some(LockPolicy::from_flags(args.update_lock, args.locked)),
        junit: args.junit,
        json: args.json,
        html: args.html,
        timings: args.timings,
        output: Output {
            sink: Sink::Stdout,
            verbosity,
            color,
        },
        signals: true,
        own_watchdog: true,
        rerun: Some(rerun_command(
            std::env::args_os()
                .skip(1)
                .map(|a| a.to_string_lossy().into_owned()),
        )),
    })
}
