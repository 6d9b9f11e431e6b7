//! `run`'s flags for what part of the test runs (`--step`, `--from`, `--to`, `--round`,
//! `--rounds`) and how much the terminal shows (`-q`, `-v`, `-vv`, `--color`).

use clap::Args;

/// `--step`, `--from`, `--to`, `--round`, `--rounds`: a selective run, which runs the
/// chosen steps on a working copy of the saved state and never moves the saved resume
/// point (docs/ci.md, "Selecting steps and rounds").
#[derive(Debug, Clone, Default, Args)]
pub struct SelectArgs {
    /// Run only the steps whose name matches this glob (`*`, `?`, `[..]`); repeatable.
    #[arg(long = "step", value_name = "PATTERN")]
    pub patterns: Vec<String>,

    /// Run from this step of each round (by name).
    #[arg(long, value_name = "STEP")]
    pub from: Option<String>,

    /// Run up to this step of each round, included (by name).
    #[arg(long, value_name = "STEP")]
    pub to: Option<String>,

    /// Run only round N.
    #[arg(long, value_name = "N", conflicts_with = "rounds", value_parser = clap::value_parser!(u32).range(1..))]
    pub round: Option<u32>,

    /// Run rounds A to B, both included (`2..3`).
    #[arg(long, value_name = "A..B", value_parser = round_range)]
    pub rounds: Option<std::ops::RangeInclusive<u32>>,
}

impl SelectArgs {
    /// The selection the flags ask for (empty: the whole test).
    pub fn spec(&self) -> crate::runner::SelectSpec {
        crate::runner::SelectSpec {
            patterns: self.patterns.clone(),
            from: self.from.clone(),
            to: self.to.clone(),
            rounds: self.round.map(|n| n..=n).or_else(|| self.rounds.clone()),
        }
    }
}

/// `A..B` (or `A..=B`), `1 <= A <= B`.
fn round_range(text: &str) -> Result<std::ops::RangeInclusive<u32>, String> {
    let (a, b) = text
        .split_once("..=")
        .or_else(|| text.split_once(".."))
        .ok_or_else(|| format!("`{text}` is not a range of rounds like 2..3"))?;
    let number = |n: &str| {
        n.trim()
            .parse::<u32>()
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| format!("`{n}` is not a round number (1 or more)"))
    };
    let (a, b) = (number(a)?, number(b)?);
    if a > b {
        return Err(format!(
            "{a}..{b} is empty: the first round comes after the last"
        ));
    }
    Ok(a..=b)
}

/// When the terminal report uses colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ColorChoice {
    /// When stdout is a terminal and `NO_COLOR` is not set.
    #[default]
    Auto,
    /// Always (also into a pipe or file).
    Always,
    /// Never.
    Never,
}

/// `-q`, `-v`, `-vv`, `--color`.
#[derive(Debug, Clone, Default, Args)]
pub struct OutputArgs {
    /// Show only failures (with their context) and the summary.
    #[arg(short, long, conflicts_with = "verbose")]
    pub quiet: bool,

    /// More detail: -v adds debug log lines and trap backtraces, -vv every host call of
    /// every step (request and response, cut and masked).
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Colour the terminal report [default: auto, which honours NO_COLOR].
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

/// The command that reruns a step of this run: `prometheus-wasm` and this invocation's
/// arguments (`run`, the package or folder, `--set`, `--config`…) shell-quoted, without
/// the flags that select steps or start afresh (`--step`, `--from`, `--to`, `--round`,
/// `--rounds`, `--reset`), to which a failure adds `--step S --round R`.
pub fn rerun_command(args: impl IntoIterator<Item = String>) -> String {
    const SELECTION: [&str; 5] = ["--step", "--from", "--to", "--round", "--rounds"];
    let mut words = vec!["prometheus-wasm".to_string()];
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        if SELECTION.contains(&arg.as_str()) {
            args.next(); // its value
            continue;
        }
        let with_value = arg.split_once('=').map(|(flag, _)| flag);
        if arg == "--reset" || with_value.is_some_and(|flag| SELECTION.contains(&flag)) {
            continue;
        }
        words.push(crate::runner::shell_word(&arg));
    }
    words.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rerun_command_keeps_the_run_and_drops_its_selection() {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            rerun_command(args(&[
                "run",
                "tests/plan.yaml",
                "--reset",
                "--step",
                "a*",
                "--round=2",
                "--set",
                "max_rounds=2",
                "-q",
            ])),
            "prometheus-wasm run tests/plan.yaml --set 'max_rounds=2' -q"
        );
        assert_eq!(
            rerun_command(args(&["run", "my tests/steps.wasm"])),
            "prometheus-wasm run 'my tests/steps.wasm'"
        );
    }

    #[test]
    fn round_ranges_parse_inclusively_and_refuse_empty_ones() {
        assert_eq!(round_range("2..3"), Ok(2..=3));
        assert_eq!(round_range("2..=2"), Ok(2..=2));
        assert!(round_range("3..2").unwrap_err().contains("is empty"));
        assert!(
            round_range("0..2")
                .unwrap_err()
                .contains("not a round number")
        );
        assert!(round_range("2").unwrap_err().contains("like 2..3"));
    }
}
