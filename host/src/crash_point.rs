//! Crash points: a test hook that aborts the process at a named point of the code that
//! writes the run's durable files (the checkpoint's state file and journal, the results
//! journal), so that a test can prove, point by point, what a crash there leaves behind
//! instead of hoping a random `kill -9` lands in the right place.
//!
//! Set `PROMETHEUS_WASM_CRASH_AT=<point>[:<nth>]` in the runner's environment: the `nth`
//! time (default 1) the code reaches `<point>`, the runner says so on stderr and aborts
//! (`SIGABRT`: no destructor, no flush, no clean-up — like `kill -9`, but at a known
//! instant). The variable is read once; when it is unset, [`crash_point`] is one load of
//! an initialised `OnceLock` and a branch. [`POINTS`] lists every point, so that a test
//! can iterate over all of them; a name not in the list is a bug (checked in debug builds).
//!
//! This is a test hook, not a feature: whoever can set the runner's environment can kill
//! it anyway, so it grants nothing.
//!
//! A leaf module: it imports nothing of the crate, and every layer may call it.

use std::io::Write as _;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// The environment variable that arms a crash point.
pub const CRASH_AT_ENV: &str = "PROMETHEUS_WASM_CRASH_AT";

/// Every crash point, in the order a run reaches them the first time. Each write of a
/// durable file has one before and after each write, sync and rename; `*.torn-write`
/// points write half of the record, then abort (a write cut short by a crash).
pub const POINTS: &[&str] = &[
    // `StateFile::write_state`: the whole state file, replaced atomically.
    "state.before-write",
    "state.after-write",
    "state.after-sync",
    "state.after-rename",
    "state.after-dir-sync",
    // `StateFile::save`: the journal is removed once the file holds everything.
    "state.after-journal-remove",
    // `JournalCheckpoint::compact`: state file, then a new journal naming it.
    "compact.before",
    "compact.after-state",
    "compact.after-journal",
    // `JournalWriter::create`: a new checkpoint journal, replaced atomically.
    "journal.create.after-write",
    "journal.create.after-sync",
    "journal.create.after-rename",
    "journal.create.after-dir-sync",
    // `JournalWriter::append`: one completed step.
    "journal.append.before-write",
    "journal.append.torn-write",
    "journal.append.after-write",
    "journal.append.after-sync",
    // `ResultsWriter` (report/history.rs): the results journal.
    "results.create.after-write",
    "results.create.after-rename",
    "results.append.before-write",
    "results.append.torn-write",
    "results.append.after-write",
];

/// The armed point and which of its hits aborts, read once from [`CRASH_AT_ENV`].
struct Armed {
    point: String,
    nth: u64,
    hits: AtomicU64,
}

fn armed() -> Option<&'static Armed> {
    static ARMED: OnceLock<Option<Armed>> = OnceLock::new();
    ARMED
        .get_or_init(|| {
            let value = std::env::var(CRASH_AT_ENV).ok()?;
            let (point, nth) = match value.rsplit_once(':') {
                Some((point, nth)) => (point, nth.parse().unwrap_or(1)),
                None => (value.as_str(), 1),
            };
            Some(Armed {
                point: point.to_owned(),
                nth: nth.max(1),
                hits: AtomicU64::new(0),
            })
        })
        .as_ref()
}

/// Whether this hit of `point` is the armed one: counts the hit. The caller then does
/// what the point simulates and calls [`abort_at`]. Use [`crash_point`] for a plain point.
pub fn reached(point: &'static str) -> bool {
    debug_assert!(POINTS.contains(&point), "unlisted crash point {point}");
    let Some(armed) = armed() else {
        return false;
    };
    armed.point == point && armed.hits.fetch_add(1, Ordering::Relaxed) + 1 == armed.nth
}

/// Aborts the process at `point`, after saying so on stderr (so that a test can tell
/// the crash it asked for from any other).
pub fn abort_at(point: &'static str) -> ! {
    let _ = writeln!(std::io::stderr(), "crash point {point} reached: aborting");
    std::process::abort()
}

/// A crash point: aborts here when [`CRASH_AT_ENV`] names `point` and this is its `nth`
/// hit; otherwise does nothing.
pub fn crash_point(point: &'static str) {
    if reached(point) {
        abort_at(point);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn point_names_are_unique_and_unarmed_points_do_nothing() {
        let mut names = POINTS.to_vec();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), POINTS.len(), "duplicate crash point names");
        // The unit tests never set the variable: every point passes.
        if std::env::var_os(CRASH_AT_ENV).is_none() {
            for point in POINTS {
                assert!(!reached(point));
            }
        }
    }
}
