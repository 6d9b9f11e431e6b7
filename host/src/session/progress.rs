//! The "compiling steps.wasm (first run; cached afterwards)…" notice on stderr, for a
//! package load that takes longer than a moment: a spinner (indicatif) when stderr is a
//! terminal, one plain line otherwise (CI logs). Quick loads — the cached case — show
//! nothing.

use std::future::Future;
use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How long a load runs before the notice appears: shorter loads (a cache hit) stay quiet.
const NOTICE_AFTER: Duration = Duration::from_millis(400);

/// Overrides [`NOTICE_AFTER`] in milliseconds; for tests, which cannot rely on a compile
/// being slow.
const NOTICE_AFTER_ENV: &str = "PROMETHEUS_WASM_NOTICE_AFTER_MS";

/// How often the spinner turns.
const SPINNER_TICK: Duration = Duration::from_millis(100);

fn notice_after() -> Duration {
    std::env::var(NOTICE_AFTER_ENV)
        .ok()
        .and_then(|ms| ms.parse().ok())
        .map_or(NOTICE_AFTER, Duration::from_millis)
}

/// The notice's text for the package `name` (its file name); `cached` says whether the
/// compiled code will be cached.
pub(crate) fn compile_notice(name: &str, cached: bool) -> String {
    if cached {
        format!("compiling {name} (first run; cached afterwards)…")
    } else {
        format!("compiling {name} (--no-cache: every run compiles)…")
    }
}

/// Awaits `work`, showing `text` on stderr once it has run for longer than a moment.
pub(crate) async fn with_notice<F: Future>(text: String, work: F) -> F::Output {
    let work = std::pin::pin!(work);
    let mut work = work;
    tokio::select! {
        out = &mut work => return out,
        () = tokio::time::sleep(notice_after()) => {}
    }
    let spinner = if std::io::stderr().is_terminal() {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg} {elapsed}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_message(text);
        bar.enable_steady_tick(SPINNER_TICK);
        Some(bar)
    } else {
        eprintln!("{text}");
        None
    };
    let out = work.await;
    if let Some(bar) = spinner {
        bar.finish_and_clear();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_notice_names_the_package_and_the_cache() {
        assert_eq!(
            compile_notice("steps.wasm", true),
            "compiling steps.wasm (first run; cached afterwards)…"
        );
        assert!(compile_notice("steps.wasm", false).contains("--no-cache"));
    }
}
