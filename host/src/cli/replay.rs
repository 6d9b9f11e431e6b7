//! `prometheus-wasm replay RECORDING`: the library's [`Replay`] of one recorded step,
//! printed — what is replayed, the recorded outcome and faults, the step's lines (`-v`
//! debug, `-vv` host calls), the verdict and a divergence's diff.

use std::path::PathBuf;
use std::sync::Arc;

use clap::{ArgAction, Args};

use crate::cli::args::BudgetArgs;
use crate::cli::stopped;
use crate::cli::{EXIT_FAILED, EXIT_PASSED, UserError};
use crate::config::LimitsConfig;
use crate::plugin::{HostCall, LogLevel, StepLog};
use crate::replay::text::{MESSAGE_MAX_BYTES, bounded_line};
use crate::replay::{Replay, Verdict};
use crate::session::signals::install_signals;

/// Options of `replay`.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// The recording (`recording.jsonl` of the run's data_dir, or a CI artifact).
    pub recording: PathBuf,

    /// The step to replay [default: the recording's failed step, else its last].
    #[arg(long, value_name = "NAME")]
    pub step: Option<String>,

    /// The round of that step [default: the last recorded].
    #[arg(long, value_name = "N")]
    pub round: Option<u32>,

    /// Replay this build of the package (a fix) instead of the recorded one, whose bytes
    /// are otherwise found by their sha256: at its recorded path, beside the recording, or
    /// in the code cache's copy of what it compiled (or the package store).
    #[arg(long, value_name = "FILE")]
    pub package: Option<PathBuf>,

    /// -v: the step's debug lines too; -vv: every host call as well.
    #[arg(short, long, action = ArgAction::Count)]
    pub verbose: u8,

    /// The budgets the step runs under (config.yaml is not read).
    #[command(flatten)]
    pub budgets: BudgetArgs,
}

/// Faults of a recorded step listed by `replay`; a hostile recording may hold thousands.
const FAULTS_SHOWN_MAX: usize = 20;

/// Replays one step; exit 0 when it passes (or gets past the end of the recording with
/// every call matching), 1 when it fails or diverges.
pub async fn replay(args: ReplayArgs) -> Result<u8, UserError> {
    let mut signals = install_signals()?;
    let mut request = Replay::request(&args.recording);
    request.step = args.step;
    request.round = args.round;
    request.package = args.package;
    request.budgets = args.budgets.budgets(&LimitsConfig::default());
    // Loading compiles the package and runs its manifest: a signal stops it.
    let replay = match signals.until(Replay::open(request)).await {
        Ok(opened) => opened?,
        Err(stop) => return Ok(stopped(stop)),
    };
    println!("{}", replay.describe());
    println!("  recorded outcome: {}", replay.recorded_outcome());
    let (faults, seed) = replay.recorded_faults();
    // The recorded answers already carry these faults' effect: nothing is applied again.
    if !faults.is_empty() || seed.is_some() {
        let seed = seed.map_or(String::new(), |s| format!(" (network seed {s})"));
        println!("  recorded under the test's faults{seed}:");
        for fault in faults.iter().take(FAULTS_SHOWN_MAX) {
            println!("    {}", bounded_line(fault, MESSAGE_MAX_BYTES));
        }
        if faults.len() > FAULTS_SHOWN_MAX {
            println!("    … {} more", faults.len() - FAULTS_SHOWN_MAX);
        }
    }
    let log = Arc::new(ReplayLog {
        verbose: args.verbose,
    });
    let verdict = match signals.until(replay.run(log)).await {
        Ok(verdict) => verdict,
        Err(stop) => return Ok(stopped(stop)),
    };
    println!("{}", verdict.headline());
    if let Verdict::Diverged { diff, .. } = &verdict {
        print!("{diff}");
    }
    Ok(if verdict.passed() {
        EXIT_PASSED
    } else {
        EXIT_FAILED
    })
}

/// Prints the replayed step's lines (debug with -v) and host calls (-vv).
struct ReplayLog {
    verbose: u8,
}

impl StepLog for ReplayLog {
    fn line(&self, level: LogLevel, message: &str) {
        if level >= LogLevel::Info || self.verbose >= 1 {
            for line in message.lines() {
                println!("    {}", bounded_line(line, MESSAGE_MAX_BYTES));
            }
        }
    }

    fn call(&self, call: &HostCall) {
        if self.verbose < 2 {
            return;
        }
        let mark = if call.failed { "✗" } else { "→" };
        println!(
            "    {mark} {} {}",
            call.kind.as_str(),
            bounded_line(&call.summary, MESSAGE_MAX_BYTES)
        );
        for text in [&call.request, &call.response] {
            for line in text.lines() {
                println!("        {}", bounded_line(line, MESSAGE_MAX_BYTES));
            }
        }
    }
}
