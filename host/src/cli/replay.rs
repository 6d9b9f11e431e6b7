//! `prometheus-wasm replay RECORDING`: re-runs one recorded step without workers, a
//! database or a network, every host call answered from the recording
//! (`plugin::record`). A call that differs from the recording stops the step and is shown
//! beside the recorded one.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::anyhow;
use clap::{ArgAction, Args};
use sha2::{Digest, Sha256};

use crate::cli::args::BudgetArgs;
use crate::cli::signals::{install_signals, stopped};
use crate::cli::{EXIT_FAILED, EXIT_PASSED, UserError};
use crate::config::LimitsConfig;
use crate::plugin::record::{Player, Recording, StepRecording, read_recording};
use crate::plugin::{
    CodeCache, HostCall, LogLevel, Package, RecordCtx, RecordMode, RunCtx, StepEngine, StepInfo,
    StepLog, StepOutcome, Steps,
};
use crate::report::sanitize::{sanitize_line, sanitize_text};
use crate::store::RunState;

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

    /// Replay this build of the package (a fix) instead of the recorded one, which is
    /// otherwise found by its sha256: at its recorded path, beside the recording, or in
    /// the code cache.
    #[arg(long, value_name = "FILE")]
    pub package: Option<PathBuf>,

    /// -v: the step's debug lines too; -vv: every host call as well.
    #[arg(short, long, action = ArgAction::Count)]
    pub verbose: u8,

    /// The budgets the step runs under (config.yaml is not read).
    #[command(flatten)]
    pub budgets: BudgetArgs,
}

/// Replays one step; exit 0 when it passes (or gets past the end of the recording with
/// every call matching), 1 when it fails or diverges.
pub async fn replay(args: ReplayArgs) -> Result<u8, UserError> {
    let mut signals = install_signals()?;
    // Everything about the recording is checked before any guest code runs.
    let recording = read_recording(&args.recording).map_err(|e| UserError::usage(e, None))?;
    let recorded = recording
        .pick(args.step.as_deref(), args.round)
        .map_err(|e| UserError::usage(e, None))?
        .clone();
    let found = find_package(&recording, &recorded, args.package.as_deref());
    let pin = args
        .package
        .is_none()
        .then_some(recorded.package.sha256.as_str());

    let budgets = args.budgets.budgets(&LimitsConfig::default());
    let engine = Arc::new(
        StepEngine::for_budgets(&budgets).map_err(|e| UserError::usage(anyhow!(e), None))?,
    );
    let cache = CodeCache::default_dir().map(CodeCache::new);
    // The package and how it is named: its file, else its compiled code from the cache
    // (the file was rebuilt since the recording).
    let load = async {
        match &found {
            Ok(path) => Package::load_pinned(engine, path, cache.as_ref(), pin, &budgets)
                .await
                .map(|p| Some((p, path.display().to_string()))),
            Err(_) => match &cache {
                Some(cache) => {
                    let sha = &recorded.package.sha256;
                    let path = Path::new(&recorded.package.path);
                    let named = format!("sha256 {sha} from the code cache");
                    Package::from_cache(engine, cache, sha, path, &budgets)
                        .await
                        .map(|p| p.map(|p| (p, named)))
                }
                None => Ok(None),
            },
        }
    };
    let loaded = match signals.until(load).await {
        Ok(loaded) => loaded.map_err(UserError::usage_from)?,
        Err(stop) => return Ok(stopped(stop)),
    };
    let (package, package_path) = match (loaded, found) {
        (Some(loaded), _) => loaded,
        (None, Err(not_found)) => return Err(not_found),
        (None, Ok(path)) => {
            return Err(UserError::usage(
                anyhow!("package {} did not load", path.display()),
                None,
            ));
        }
    };
    let Some(step) = package
        .manifest()
        .iter()
        .find(|s| s.name == recorded.step)
        .cloned()
    else {
        return Err(UserError::usage(
            anyhow!(
                "package {package_path} has no step `{}` (the recorded step)",
                recorded.step
            ),
            Some("replay a build of the package that still has the step".into()),
        ));
    };
    // The recorded parameters, not the new manifest's: the recording's calls follow them.
    let step = StepInfo {
        params: recorded.params.clone(),
        worker: recorded.worker.clone(),
        ..step
    };

    let player = Arc::new(Player::new(&recorded));
    // No grant at all: no worker, no database, an HTTP policy that refuses everything.
    // The player answers every call; nothing live is ever polled.
    let run = RunCtx {
        budgets,
        record: RecordCtx {
            mode: RecordMode::Off,
            player: Some(player.clone()),
            ..RecordCtx::default()
        },
        ..RunCtx::empty()
    };
    let package = package.with_run(run);
    println!(
        "replaying {} (round {}, worker {}) from {}: {} recorded call(s), package {}",
        sanitize_line(&recorded.step),
        recorded.round,
        sanitize_line(&recorded.worker),
        args.recording.display(),
        player.len(),
        package_path,
    );
    println!("  recorded outcome: {}", first_line(&recorded.outcome));

    let mut state = RunState {
        current_round: recorded.round,
        ..RunState::default()
    };
    let log = Arc::new(ReplayLog {
        verbose: args.verbose,
    });
    let result = match signals
        .until(package.run_step(&step, &mut state, log))
        .await
    {
        Ok(result) => result,
        Err(stop) => return Ok(stopped(stop)),
    };
    Ok(verdict(&recorded, &player, result))
}

/// Prints how the replay ended and returns the exit code.
fn verdict(
    recorded: &StepRecording,
    player: &Player,
    result: Result<StepOutcome, crate::plugin::StepFailure>,
) -> u8 {
    let matched = format!(
        "{} of {} recorded call(s) matched",
        player.answered(),
        player.len()
    );
    if let Some(divergence) = player.divergence() {
        if divergence.past_the_end() {
            println!(
                "✓ {}: passed up to the end of the recording ({matched}); then it made a call the recorded run did not: {}",
                recorded.step,
                divergence.headline(recorded.truncated)
            );
            return EXIT_PASSED;
        }
        println!("✗ {}: {}", recorded.step, divergence.headline(false));
        print!("{}", sanitize_text(&divergence.to_string()));
        return EXIT_FAILED;
    }
    match result {
        Ok(outcome) => {
            let what = match outcome {
                StepOutcome::Done(_) => "passed".to_string(),
                StepOutcome::Skipped(reason) => format!("skipped: {reason}"),
            };
            let was = if recorded.failed {
                format!(
                    " (the recorded run failed: {})",
                    first_line(&recorded.outcome)
                )
            } else {
                String::new()
            };
            println!("✓ {}: {what} ({matched}){was}", recorded.step);
            EXIT_PASSED
        }
        Err(failure) => {
            let text = failure.to_string();
            let same = if text == recorded.outcome {
                "the same failure as recorded"
            } else {
                "recorded run ended otherwise"
            };
            println!(
                "✗ {} failed ({matched}; {same}): {}",
                recorded.step,
                sanitize_text(&text)
            );
            EXIT_FAILED
        }
    }
}

fn first_line(text: &str) -> String {
    sanitize_line(text.lines().next().unwrap_or_default()).into_owned()
}

/// The package to replay: `--package`, else the file with the recorded sha256 at its
/// recorded path or beside the recording.
fn find_package(
    recording: &Recording,
    step: &StepRecording,
    explicit: Option<&Path>,
) -> Result<PathBuf, UserError> {
    if let Some(path) = explicit {
        return Ok(path.to_path_buf());
    }
    let wanted = &step.package.sha256;
    let recorded_path = PathBuf::from(&step.package.path);
    let mut candidates = vec![recorded_path.clone()];
    let beside = recording.path.parent().unwrap_or(Path::new("."));
    if let Ok(entries) = std::fs::read_dir(beside) {
        let mut wasm: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "wasm"))
            .collect();
        wasm.sort();
        candidates.extend(wasm);
    }
    for candidate in &candidates {
        if sha256_of(candidate).as_deref() == Some(wanted.as_str()) {
            return Ok(candidate.clone());
        }
    }
    let now = match sha256_of(&recorded_path) {
        Some(sha) => format!("{} now has sha256 {sha}", recorded_path.display()),
        None => format!("{} is not there", recorded_path.display()),
    };
    Err(UserError::usage(
        anyhow!(
            "recording {} was made with package sha256 {wanted} ({}); {now}, and no .wasm file beside the recording has that sha256",
            recording.path.display(),
            recorded_path.display()
        ),
        Some("pass --package FILE to replay another build of the package (e.g. a fix)".into()),
    ))
}

fn sha256_of(path: &Path) -> Option<String> {
    let bytes = std::fs::read(path).ok()?;
    Some(
        Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect(),
    )
}

/// Prints the replayed step's lines (debug with -v) and host calls (-vv).
struct ReplayLog {
    verbose: u8,
}

impl StepLog for ReplayLog {
    fn line(&self, level: LogLevel, message: &str) {
        if level >= LogLevel::Info || self.verbose >= 1 {
            for line in message.lines() {
                println!("    {}", sanitize_line(line));
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
            sanitize_line(&call.summary)
        );
        for text in [&call.request, &call.response] {
            for line in text.lines() {
                println!("        {}", sanitize_line(line));
            }
        }
    }
}
