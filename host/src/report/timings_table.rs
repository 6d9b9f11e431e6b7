//! The `run --timings` table (pure): the run's phases, and the steps' parts in total and
//! per step, from a [`TimingsSnapshot`]. The only text from elsewhere in it is none: phase
//! and part names are ours, times are numbers.

use std::time::Duration;

use crate::timings::{RunPhase, TimingsSnapshot};

use super::style::Style;

/// A time with the precision its size needs: `840 µs`, `12.4 ms`, `1.23 s`.
pub(crate) fn fmt_precise(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us < 1000.0 {
        format!("{us:.0} µs")
    } else if us < 1e6 {
        format!("{:.1} ms", us / 1000.0)
    } else {
        format!("{:.2} s", us / 1e6)
    }
}

/// The phase's name as the table shows it.
fn label(phase: RunPhase) -> &'static str {
    match phase {
        RunPhase::Load => "load",
        RunPhase::Preflight => "preflight",
        RunPhase::Seeding => "seeding",
        RunPhase::WorkersReady => "workers ready",
        RunPhase::PostLoad => "post-load",
        RunPhase::Steps => "steps",
        RunPhase::Stop => "stop",
        RunPhase::Reports => "reports",
    }
}

/// The table, one line per phase; under `steps`, one line per part with its total and its
/// mean per step.
pub(crate) fn render_timings(t: &TimingsSnapshot, style: Style) -> String {
    let count = t.steps.len();
    let per_step = |d: Duration| {
        if count == 0 {
            String::new()
        } else {
            // `count` is at most the run's steps; u32 holds any run that fits in memory.
            let n = u32::try_from(count).unwrap_or(u32::MAX);
            format!("{:>10} per step", fmt_precise(d / n))
        }
    };
    let row = |indent: &str, name: &str, d: Duration, extra: String| {
        let width = 18 - indent.len();
        format!("{indent}{name:<width$}{:>10}  {extra}", fmt_precise(d))
            .trim_end()
            .to_owned()
    };
    let mut lines = vec![style.bold(&format!("timings (wall {})", fmt_precise(t.wall)))];
    for &(phase, took) in &t.phases {
        let extra = if phase == RunPhase::Steps && count > 0 {
            format!("{count} step(s)")
        } else {
            String::new()
        };
        lines.push(row("  ", label(phase), took, extra));
        if phase != RunPhase::Steps || count == 0 {
            continue;
        }
        let parts = t.step_totals.named();
        let accounted: Duration = parts.iter().map(|(_, d)| *d).sum();
        for (name, d) in parts {
            lines.push(row("    ", &name.replace('_', " "), d, per_step(d)));
        }
        // What the host does per step besides the parts: the store, JSON, the recording.
        let other = t.steps_total.saturating_sub(accounted);
        lines.push(row("    ", "other", other, per_step(other)));
        lines.push(row("    ", "round ends", t.round_ends, String::new()));
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timings::{StepParts, StepTiming};

    fn us(n: u64) -> Duration {
        Duration::from_micros(n)
    }

    #[test]
    fn precision_follows_size() {
        assert_eq!(fmt_precise(us(840)), "840 µs");
        assert_eq!(fmt_precise(us(12_440)), "12.4 ms");
        assert_eq!(fmt_precise(us(1_234_000)), "1.23 s");
    }

    #[test]
    fn steps_show_each_part_in_total_and_per_step() {
        let parts = StepParts {
            instantiate: us(100),
            prepare: us(200),
            execute: us(300),
            host_calls: us(400),
            checkpoint: us(500),
        };
        let step = |name: &str| StepTiming {
            round: 1,
            step: name.into(),
            duration: us(2000),
            parts,
        };
        let snapshot = TimingsSnapshot {
            wall: us(10_000),
            phases: vec![(RunPhase::Load, us(1000)), (RunPhase::Steps, us(4500))],
            steps: vec![step("a"), step("b")],
            step_totals: StepParts {
                instantiate: us(200),
                prepare: us(400),
                execute: us(600),
                host_calls: us(800),
                checkpoint: us(1000),
            },
            steps_total: us(4000),
            round_ends: us(300),
        };
        let text = render_timings(&snapshot, Style { color: false });
        assert_eq!(
            text,
            "timings (wall 10.0 ms)\n\
             \x20 load                1.0 ms\n\
             \x20 steps               4.5 ms  2 step(s)\n\
             \x20   instantiate       200 µs      100 µs per step\n\
             \x20   prepare           400 µs      200 µs per step\n\
             \x20   execute           600 µs      300 µs per step\n\
             \x20   host calls        800 µs      400 µs per step\n\
             \x20   checkpoint        1.0 ms      500 µs per step\n\
             \x20   other             1.0 ms      500 µs per step\n\
             \x20   round ends        300 µs"
        );
    }
}
