//! The command lines the docs show agree with the binary: every `prometheus-wasm CMD …`
//! in README.md, docs/writing-steps.md and docs/sharing-steps.md names a command the
//! binary has, and every flag it shows is in that command's `--help`.

use std::collections::BTreeMap;

use system_tests::{repo_root, runner_bin};

/// The documents whose command lines are checked.
const DOCS: [&str; 3] = [
    "README.md",
    "docs/writing-steps.md",
    "docs/sharing-steps.md",
];

/// One documented command line: where it is, the command, the flags it shows.
#[derive(Debug)]
struct Synopsis {
    at: String,
    command: String,
    flags: Vec<String>,
}

/// The `--long` and `-s` flags in `text` (a `#` comment ends the command line).
fn flags(text: &str) -> Vec<String> {
    let text = text.split(" #").next().unwrap_or_default();
    text.split(|c: char| c.is_whitespace() || "[]|()`,.=".contains(c))
        .filter(|word| {
            word.starts_with('-')
                && word.len() > 1
                && word[1..]
                    .trim_start_matches('-')
                    .starts_with(|c: char| c.is_ascii_alphabetic())
        })
        .map(str::to_string)
        .collect()
}

/// The command of a line that runs `prometheus-wasm CMD` (after an optional `$ ` prompt),
/// with the rest of the line; `None` for other lines (prose naming the binary, flags of
/// the binary itself such as `--version`).
fn command_at(line: &str) -> Option<(String, &str)> {
    let line = line.trim_start();
    let line = line.strip_prefix("$ ").unwrap_or(line);
    let rest = line.strip_prefix("prometheus-wasm ")?;
    let word: String = rest
        .chars()
        .take_while(|c| c.is_ascii_lowercase() || *c == '-')
        .collect();
    word.starts_with(|c: char| c.is_ascii_lowercase())
        .then(|| (word.clone(), &rest[word.len()..]))
}

/// Every command line of `doc`: in fenced blocks a line naming `prometheus-wasm CMD` and
/// the indented lines that continue it; in prose, inline code spans `prometheus-wasm CMD …`.
fn synopses(doc: &str) -> Vec<Synopsis> {
    let text = std::fs::read_to_string(repo_root().join(doc)).expect("read the doc");
    let mut found = Vec::new();
    let mut fenced = false;
    let mut current: Option<Synopsis> = None;
    for (index, line) in text.lines().enumerate() {
        let at = format!("{doc}:{}", index + 1);
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            found.extend(current.take());
            continue;
        }
        if fenced {
            if let Some((command, rest)) = command_at(line) {
                found.extend(current.take());
                current = Some(Synopsis {
                    at,
                    command,
                    flags: flags(rest),
                });
            } else if line.starts_with(' ') && !line.trim().is_empty() {
                if let Some(synopsis) = &mut current {
                    synopsis.flags.extend(flags(line));
                }
            } else {
                found.extend(current.take());
            }
            continue;
        }
        for span in line.split('`').skip(1).step_by(2) {
            if let Some((command, rest)) = command_at(span) {
                found.push(Synopsis {
                    at: at.clone(),
                    command,
                    flags: flags(rest),
                });
            }
        }
    }
    found.extend(current);
    found
}

/// `prometheus-wasm [CMD] --help`.
fn help(command: Option<&str>) -> String {
    let mut cmd = std::process::Command::new(runner_bin());
    cmd.args(command).arg("--help");
    let out = cmd.output().expect("run --help");
    assert!(out.status.success(), "{command:?} --help failed");
    String::from_utf8(out.stdout).expect("utf-8 help")
}

#[test]
fn every_documented_command_line_matches_the_binarys_help() {
    let top = help(None);
    let mut helps: BTreeMap<String, String> = BTreeMap::new();
    let mut problems = Vec::new();
    let mut checked = 0;
    for doc in DOCS {
        for synopsis in synopses(doc) {
            // `--help` and `--version` are clap's on every command.
            let known = top.lines().any(|l| {
                l.trim_start()
                    .starts_with(&format!("{} ", synopsis.command))
            });
            if !known {
                problems.push(format!(
                    "{}: `prometheus-wasm {}` is not a command",
                    synopsis.at, synopsis.command
                ));
                continue;
            }
            let help = helps
                .entry(synopsis.command.clone())
                .or_insert_with(|| help(Some(&synopsis.command)));
            for flag in &synopsis.flags {
                checked += 1;
                if flag == "--help" || flag == "-h" {
                    continue;
                }
                // `-vv` is `-v` twice.
                let shown = if flag == "-vv" { "-v" } else { flag.as_str() };
                // Only the option lines' own names count, not a flag named in the
                // description of another.
                let listed = help.lines().any(|l| {
                    let l = l.trim_start();
                    l.starts_with('-')
                        && l.split("  ")
                            .next()
                            .unwrap_or_default()
                            .split([',', ' ', '=', '<'])
                            .any(|word| word == shown)
                });
                if !listed {
                    problems.push(format!(
                        "{}: `prometheus-wasm {}` has no {flag}",
                        synopsis.at, synopsis.command
                    ));
                }
            }
        }
    }
    assert!(checked > 40, "the docs' command lines were not found");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_flag_parser_reads_synopses() {
    assert_eq!(
        flags(" <x> [--reset] [--set KEY=VALUE]... [-q | -vv] # not --this"),
        ["--reset", "--set", "-q", "-vv"]
    );
    assert_eq!(
        command_at("$ prometheus-wasm run tests --locked"),
        Some(("run".to_string(), " tests --locked"))
    );
}
