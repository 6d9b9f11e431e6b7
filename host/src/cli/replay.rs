//! `prometheus-wasm replay RECORDING`: re-runs one recorded step without workers, a
//! database or a network, every host call answered from the recording
//! (`plugin::record`). A call that differs from the recording stops the step and is shown
//! beside the recorded one.

use std::borrow::Cow;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::anyhow;
use clap::{ArgAction, Args};
use sha2::{Digest, Sha256};

use crate::bounded_read;
use crate::cli::args::BudgetArgs;
use crate::cli::stopped;
use crate::cli::{EXIT_FAILED, EXIT_PASSED, UserError};
use crate::config::LimitsConfig;
use crate::fetch::{MAX_PACKAGE_BYTES, PackageStore, sha256_hex};
use crate::plugin::record::{Player, StepRecording, pick_step};
use crate::plugin::{
    CodeCache, HostCall, LogLevel, Package, RecordCtx, RecordMode, RunCtx, StepEngine, StepInfo,
    StepLog, StepOutcome, Steps,
};
use crate::report::sanitize::{sanitize_line, sanitize_text};
use crate::session::signals::install_signals;
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

/// Bytes of a step or worker name as printed.
const NAME_MAX_BYTES: usize = 256;

/// Faults of a recorded step listed by `replay`; a hostile recording may hold thousands.
const FAULTS_SHOWN_MAX: usize = 20;

/// Bytes of the recorded outcome's line as printed.
const OUTCOME_MAX_BYTES: usize = 4096;

/// Bytes of any other message printed from the recording or the replayed step (a
/// failure, a divergence with its diff, an error about the recording).
const MESSAGE_MAX_BYTES: usize = 16 * 1024;

/// `.wasm` files beside the recording that are hashed to find the recorded package.
const BESIDE_MAX_FILES: usize = 64;

/// Replays one step; exit 0 when it passes (or gets past the end of the recording with
/// every call matching), 1 when it fails or diverges.
pub async fn replay(args: ReplayArgs) -> Result<u8, UserError> {
    let mut signals = install_signals()?;
    // Everything about the recording is checked before any guest code runs. Only the
    // chosen step is held: the file is streamed.
    let picked = pick_step(&args.recording, args.step.as_deref(), args.round).map_err(|e| {
        UserError::usage(
            anyhow!(bounded_line(&e.to_string(), MESSAGE_MAX_BYTES)),
            None,
        )
    })?;
    let mut recorded = picked.step;

    let budgets = args.budgets.budgets(&LimitsConfig::default());
    let engine = Arc::new(
        StepEngine::for_budgets(&budgets).map_err(|e| UserError::usage(anyhow!(e), None))?,
    );
    let cache = CodeCache::default_dir().map(CodeCache::new);
    // The recording names a package; its bytes are found here and loaded like `run` loads
    // a package file. Compiled code is never chosen by the recording.
    let found = find_package(
        &picked.path,
        &recorded,
        args.package.as_deref(),
        cache.as_ref(),
        engine.engine(),
    )?;
    let load = async {
        match found {
            Found::File { path, pin } => {
                Package::load_pinned(engine, &path, cache.as_ref(), pin.as_deref(), &budgets)
                    .await
                    .map(|p| (p, path.display().to_string()))
            }
            Found::Bytes { bytes, named } => {
                let sha256 = sha256_hex(&bytes);
                Package::from_bytes(
                    engine,
                    Path::new(&named),
                    bytes.into(),
                    sha256,
                    cache.as_ref(),
                    &budgets,
                    Instant::now(),
                )
                .await
                .map(|p| (p, named))
            }
        }
    };
    let (package, package_path) = match signals.until(load).await {
        Ok(loaded) => loaded.map_err(UserError::from)?,
        Err(stop) => return Ok(stopped(stop)),
    };
    let Some(step) = package
        .manifest()
        .iter()
        .find(|s| s.name == recorded.step)
        .cloned()
    else {
        return Err(UserError::usage(
            anyhow!(
                "package {} has no step `{}` (the recorded step)",
                bounded_line(&package_path, MESSAGE_MAX_BYTES),
                bounded_line(&recorded.step, NAME_MAX_BYTES)
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

    // The calls move into the player: one copy of the step is held.
    let calls = std::mem::take(&mut recorded.calls);
    let player = Arc::new(Player::from_parts(
        calls,
        recorded.clock.clone(),
        recorded.truncated,
    ));
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
        bounded_line(&recorded.step, NAME_MAX_BYTES),
        recorded.round,
        bounded_line(&recorded.worker, NAME_MAX_BYTES),
        bounded_line(&args.recording.display().to_string(), MESSAGE_MAX_BYTES),
        player.len(),
        bounded_line(&package_path, MESSAGE_MAX_BYTES),
    );
    println!("  recorded outcome: {}", first_line(&recorded.outcome));
    // The recorded answers already carry these faults' effect: nothing is applied again.
    if !recorded.faults.is_empty() || recorded.fault_seed.is_some() {
        let seed = recorded
            .fault_seed
            .map_or(String::new(), |s| format!(" (network seed {s})"));
        println!("  recorded under the test's faults{seed}:");
        for fault in recorded.faults.iter().take(FAULTS_SHOWN_MAX) {
            println!("    {}", bounded_line(fault, MESSAGE_MAX_BYTES));
        }
        if recorded.faults.len() > FAULTS_SHOWN_MAX {
            println!("    … {} more", recorded.faults.len() - FAULTS_SHOWN_MAX);
        }
    }

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

/// `text` as one printable line: cut to `max` bytes (at a character boundary, the number
/// of bytes left out said), then every control, bidi or invisible character escaped.
fn bounded_line(text: &str, max: usize) -> String {
    sanitize_line(&cut(text, max)).into_owned()
}

/// Like [`bounded_line`], keeping newlines (a diff, a multi-line failure).
fn bounded_text(text: &str, max: usize) -> String {
    sanitize_text(&cut(text, max)).into_owned()
}

/// `text` cut to `max` bytes at a character boundary, with the number of bytes left out.
fn cut(text: &str, max: usize) -> Cow<'_, str> {
    let kept = prefix(text, max);
    if kept.len() == text.len() {
        return Cow::Borrowed(text);
    }
    Cow::Owned(format!("{kept}… ({} more bytes)", text.len() - kept.len()))
}

/// The longest prefix of `text` of at most `max` bytes that ends at a character boundary.
fn prefix(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
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
    let name = bounded_line(&recorded.step, NAME_MAX_BYTES);
    if let Some(divergence) = player.divergence() {
        if divergence.past_the_end() {
            println!(
                "✓ {name}: passed up to the end of the recording ({matched}); then it made a call the recorded run did not: {}",
                bounded_line(&divergence.headline(recorded.truncated), MESSAGE_MAX_BYTES)
            );
            return EXIT_PASSED;
        }
        println!(
            "✗ {name}: {}",
            bounded_line(&divergence.headline(false), MESSAGE_MAX_BYTES)
        );
        let mut shown = bounded_text(&divergence.to_string(), MESSAGE_MAX_BYTES);
        if !shown.ends_with('\n') {
            shown.push('\n');
        }
        print!("{shown}");
        return EXIT_FAILED;
    }
    match result {
        Ok(outcome) => {
            let what = match outcome {
                StepOutcome::Done(_) => "passed".to_string(),
                StepOutcome::Skipped(reason) => {
                    format!("skipped: {}", bounded_line(&reason, MESSAGE_MAX_BYTES))
                }
            };
            let was = if recorded.failed {
                format!(
                    " (the recorded run failed: {})",
                    first_line(&recorded.outcome)
                )
            } else {
                String::new()
            };
            println!("✓ {name}: {what} ({matched}){was}");
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
                "✗ {name} failed ({matched}; {same}): {}",
                bounded_text(&text, MESSAGE_MAX_BYTES)
            );
            EXIT_FAILED
        }
    }
}

/// The first line of a recorded outcome, bounded; when it is cut, the bytes left out
/// count the other lines too.
fn first_line(text: &str) -> String {
    let line = text.lines().next().unwrap_or_default();
    let kept = prefix(line, OUTCOME_MAX_BYTES);
    if kept.len() == line.len() {
        return sanitize_line(line).into_owned();
    }
    format!(
        "{}… ({} more bytes)",
        sanitize_line(kept),
        text.len() - kept.len()
    )
}

/// Where the package's bytes are.
enum Found {
    /// A file: `--package` (no pin) or one whose sha256 is the recorded one (pinned, so
    /// the bytes loaded are checked again, not the ones hashed while searching).
    File {
        /// The file.
        path: PathBuf,
        /// The recorded sha256 the bytes must have.
        pin: Option<String>,
    },
    /// Bytes kept by this program (the code cache's copy of what it compiled, or the
    /// package store), already checked against the recorded sha256.
    Bytes {
        /// The package bytes.
        bytes: Vec<u8>,
        /// How it is named in messages.
        named: String,
    },
}

/// The package to replay: `--package`, else the bytes with the recorded sha256 (already
/// checked to be 64 lowercase hex digits) at the recorded path, beside the recording, in
/// the code cache's copy of what it compiled, or in the package store. Every path here is
/// only read (regular files only, bounded, a FIFO or a device refused without waiting),
/// never written or deleted.
fn find_package(
    recording: &Path,
    step: &StepRecording,
    explicit: Option<&Path>,
    cache: Option<&CodeCache>,
    engine: &wasmtime::Engine,
) -> Result<Found, UserError> {
    if let Some(path) = explicit {
        return Ok(Found::File {
            path: path.to_path_buf(),
            pin: None,
        });
    }
    let wanted = &step.package.sha256;
    let recorded_path = PathBuf::from(&step.package.path);
    let mut candidates = vec![recorded_path.clone()];
    let beside = recording.parent().unwrap_or(Path::new("."));
    if let Ok(entries) = std::fs::read_dir(beside) {
        let mut wasm: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "wasm"))
            .collect();
        wasm.sort();
        wasm.truncate(BESIDE_MAX_FILES);
        candidates.extend(wasm);
    }
    for candidate in &candidates {
        if sha256_of(candidate).as_deref() == Some(wanted.as_str()) {
            return Ok(Found::File {
                path: candidate.clone(),
                pin: Some(wanted.clone()),
            });
        }
    }
    if let Some(cache) = cache {
        if let Some(bytes) = cache.source(engine, wanted) {
            return Ok(Found::Bytes {
                bytes,
                named: format!("sha256 {wanted} from the code cache"),
            });
        }
        let stored = PackageStore::in_cache(cache.dir()).entry(wanted);
        if let Ok(Some(bytes)) =
            bounded_read::read_bytes_if_exists(&stored, MAX_PACKAGE_BYTES, "step package")
            && sha256_hex(&bytes) == *wanted
        {
            return Ok(Found::Bytes {
                bytes,
                named: format!("sha256 {wanted} from the package store"),
            });
        }
    }
    let shown_path = bounded_line(&recorded_path.display().to_string(), NAME_MAX_BYTES);
    let now = match sha256_of(&recorded_path) {
        Some(sha) => format!("{shown_path} now has sha256 {sha}"),
        None => format!("{shown_path} is not there (or not a regular file)"),
    };
    Err(UserError::usage(
        anyhow!(
            "recording {} was made with package sha256 {wanted} ({shown_path}); {now}, and no .wasm file beside the recording has that sha256",
            bounded_line(&recording.display().to_string(), MESSAGE_MAX_BYTES),
        ),
        Some("pass --package FILE to replay another build of the package (e.g. a fix)".into()),
    ))
}

/// The sha256 of the regular file at `path`, streamed (never held whole); `None` when it
/// is missing, not a regular file, or larger than any package may be.
fn sha256_of(path: &Path) -> Option<String> {
    let file = bounded_read::open_regular(path).ok()?;
    let mut hasher = Sha256::new();
    let copied = std::io::copy(&mut file.take(MAX_PACKAGE_BYTES + 1), &mut hasher).ok()?;
    if copied > MAX_PACKAGE_BYTES {
        return None;
    }
    Some(
        hasher
            .finalize()
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
