//! The run's environment, built purely from the process environment and two `.env` files:
//! the project's `<tests>/../.env` fills only unset variables, then `<tests>/.env` overrides
//! (the reference's order). Also `${VAR}` / `${VAR:-default}` expansion for `command`.
//!
//! Never reads or changes the real process environment except through dotenvy's own
//! `${VAR}` substitution inside `.env` values. Start from [`layer_env`].

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::error::{ConfigError, ConfigErrorKind, ConfigFile};
use super::location::Location;
use crate::bounded_read::{self, DOTENV_FILE_MAX, human};

/// Longest value a `.env` line or a `${VAR}` expansion may produce: far above any real
/// setting, and it stops `B=${A}${A}`, `C=${B}${B}`… from doubling into gigabytes.
pub(crate) const EXPANDED_VALUE_MAX: usize = 64 * 1024;

/// Most bytes the values of one `.env` file may hold together, after substitution.
pub(crate) const DOTENV_TOTAL_MAX: usize = 1 << 20;

/// Most bytes dotenvy could build for one line before we see it: each `$` of the file
/// substitutes at most one value, so `$` count x longest value is checked against this
/// before dotenvy runs.
pub(crate) const DOTENV_SUBSTITUTION_MAX: usize = 64 << 20;

/// The layered environment and which of its names took their value from a `.env` file.
#[derive(Debug, Clone, Default)]
pub(crate) struct LayeredEnv {
    pub vars: BTreeMap<String, String>,
    pub from_files: BTreeSet<String>,
}

/// Layers `process_env`, `<tests_dir>/../.env` (fills unset) and `<tests_dir>/.env`
/// (overrides). `display_dir` is how `tests_dir` is shown in errors.
pub(crate) fn layer_env(
    process_env: &BTreeMap<String, String>,
    tests_dir: &Path,
    display_dir: &Path,
) -> Result<LayeredEnv, ConfigError> {
    let mut layered = LayeredEnv {
        vars: process_env.clone(),
        from_files: BTreeSet::new(),
    };
    if let Some(project_dir) = tests_dir.parent() {
        let display = display_dir.join("..").join(".env");
        for (name, value) in read_dotenv(&project_dir.join(".env"), &display)? {
            if !layered.vars.contains_key(&name) {
                layered.from_files.insert(name.clone());
                layered.vars.insert(name, value);
            }
        }
    }
    let display = display_dir.join(".env");
    for (name, value) in read_dotenv(&tests_dir.join(".env"), &display)? {
        layered.from_files.insert(name.clone());
        layered.vars.insert(name, value);
    }
    Ok(layered)
}

/// The variables of a `.env` file, the last of repeated names winning (as python-dotenv
/// does); an absent file has none.
pub(crate) fn read_dotenv(
    path: &Path,
    display: &Path,
) -> Result<BTreeMap<String, String>, ConfigError> {
    let error = |kind| ConfigError::new(ConfigFile::DotEnv, display, kind);
    let text = match bounded_read::read_text_if_exists(path, DOTENV_FILE_MAX, ".env file") {
        Ok(Some(text)) => text,
        Ok(None) => return Ok(BTreeMap::new()),
        Err(e) => return Err(error(ConfigErrorKind::from_read(e))),
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    check_substitutions(text)
        .map_err(|message| error(ConfigErrorKind::InvalidDocument { message }))?;
    let too_long = |name: &str, message: String| {
        error(ConfigErrorKind::InvalidValue {
            key: name.to_string(),
            message,
        })
        .at(locate_name(text, name))
    };
    let mut vars = BTreeMap::new();
    let mut total = 0usize;
    for item in dotenvy::from_read_iter(text.as_bytes()) {
        match item {
            Ok((name, value)) => {
                if value.len() > EXPANDED_VALUE_MAX {
                    return Err(too_long(
                        &name,
                        format!(
                            "the value is {} bytes after `$` substitution, more than the most, {}; \
                             shorten it or its `${{...}}` references",
                            value.len(),
                            human(EXPANDED_VALUE_MAX as u64)
                        ),
                    ));
                }
                total += value.len();
                if total > DOTENV_TOTAL_MAX {
                    return Err(too_long(
                        &name,
                        format!(
                            "the values up to this one hold more than {} together after `$` \
                             substitution; shorten them",
                            human(DOTENV_TOTAL_MAX as u64)
                        ),
                    ));
                }
                vars.insert(name, value);
            }
            Err(dotenvy::Error::LineParse(line, index)) => {
                let location = locate_line(text, &line, index);
                let shown = line.lines().next().unwrap_or_default();
                return Err(error(ConfigErrorKind::Syntax {
                    message: format!("cannot parse line `{shown}`"),
                })
                .at(location));
            }
            Err(dotenvy::Error::Io(e)) => return Err(error(ConfigErrorKind::Io(e))),
            Err(other) => {
                return Err(error(ConfigErrorKind::Syntax {
                    message: other.to_string(),
                }));
            }
        }
    }
    Ok(vars)
}

/// Refuses a file whose `$` substitutions could build more than
/// [`DOTENV_SUBSTITUTION_MAX`] bytes for one line before dotenvy hands the line back: dotenvy
/// substitutes `$NAME` and `${NAME}` from earlier lines and from the real process
/// environment, so each `$` adds at most the longest of those values.
fn check_substitutions(text: &str) -> Result<(), String> {
    let dollars = text.bytes().filter(|b| *b == b'$').count();
    let longest_env = std::env::vars_os()
        .map(|(_, value)| value.len())
        .max()
        .unwrap_or(0);
    let longest = longest_env.max(EXPANDED_VALUE_MAX);
    if dollars.saturating_mul(longest) > DOTENV_SUBSTITUTION_MAX {
        return Err(format!(
            "has {dollars} `$` substitutions; at most {} are read, since each may insert a \
             value of up to {}; escape literal dollars as \\$ in double quotes or put the \
             value in single quotes",
            DOTENV_SUBSTITUTION_MAX / longest,
            human(longest as u64)
        ));
    }
    Ok(())
}

/// The line of the first `NAME=` (or `export NAME=`) in a `.env` text, for errors about
/// a variable's value.
fn locate_name(text: &str, name: &str) -> Option<Location> {
    text.lines().enumerate().find_map(|(index, line)| {
        let body = line.trim_start();
        let body = body.strip_prefix("export ").unwrap_or(body).trim_start();
        let rest = body.strip_prefix(name)?;
        rest.trim_start()
            .starts_with('=')
            .then(|| Location::new(index + 1, 1))
    })
}

/// The line:column of dotenvy's failing `line` (byte `index` into it) within `text`.
fn locate_line(text: &str, line: &str, index: usize) -> Option<Location> {
    let start = text.find(line)?;
    let line_number = text[..start].matches('\n').count() + 1;
    let before = line.get(..index).unwrap_or(line);
    let lines_in = before.matches('\n').count();
    let column = before.rsplit('\n').next().unwrap_or(before).chars().count() + 1;
    Some(Location::new(line_number + lines_in, column))
}

/// Why `${...}` expansion failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ExpandError {
    /// `${NAME}` with `NAME` unset and no default.
    Unset(String),
    /// `${` without `}` or with a name that is not `[A-Za-z0-9_]+`.
    Malformed(String),
    /// The result would be longer than [`EXPANDED_VALUE_MAX`] bytes.
    TooLong,
}

impl ExpandError {
    /// The message for [`ExpandError::TooLong`], for callers that word the others.
    pub(crate) fn too_long_message() -> String {
        format!(
            "is longer than {} after `${{...}}` expansion; shorten it or the variables it uses",
            human(EXPANDED_VALUE_MAX as u64)
        )
    }
}

/// Replaces `${NAME}` with the variable's value and `${NAME:-default}` with the value, or the
/// default when unset or empty (as the shell does). A `$` not followed by `{` stays as is.
/// The result is at most [`EXPANDED_VALUE_MAX`] bytes, checked before each piece is added.
pub(crate) fn expand(
    text: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<String, ExpandError> {
    let mut out = String::with_capacity(text.len().min(EXPANDED_VALUE_MAX));
    let mut rest = text;
    let push = |out: &mut String, piece: &str| {
        if out.len() + piece.len() > EXPANDED_VALUE_MAX {
            return Err(ExpandError::TooLong);
        }
        out.push_str(piece);
        Ok(())
    };
    while let Some(start) = rest.find("${") {
        push(&mut out, &rest[..start])?;
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| ExpandError::Malformed(rest[start..].to_string()))?;
        let inner = &after[..end];
        let (name, default) = match inner.split_once(":-") {
            Some((name, default)) => (name, Some(default)),
            None => (inner, None),
        };
        let valid = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(ExpandError::Malformed(format!("${{{inner}}}")));
        }
        match (lookup(name), default) {
            (Some(value), Some(default)) if value.is_empty() => push(&mut out, default)?,
            (Some(value), _) => push(&mut out, &value)?,
            (None, Some(default)) => push(&mut out, default)?,
            (None, None) => return Err(ExpandError::Unset(name.to_string())),
        }
        rest = &after[end + 1..];
    }
    push(&mut out, rest)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::UserFacing;
    use std::fs;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn process_wins_over_project_env_and_tests_env_wins_over_all() {
        let root = tempfile::tempdir().expect("tempdir");
        let tests = root.path().join("tests");
        fs::create_dir(&tests).expect("mkdir");
        fs::write(
            root.path().join(".env"),
            "A=project\nB=project\nC=project\n",
        )
        .expect("write");
        fs::write(tests.join(".env"), "C=tests\nD=tests\nD=tests-last\n").expect("write");
        let process = env(&[("A", "process"), ("C", "process")]);
        let layered = layer_env(&process, &tests, Path::new("tests")).expect("layered");
        assert_eq!(
            layered.vars["A"], "process",
            "project .env only fills unset"
        );
        assert_eq!(layered.vars["B"], "project");
        assert_eq!(layered.vars["C"], "tests", "tests/.env overrides");
        assert_eq!(layered.vars["D"], "tests-last", "last repeated name wins");
        let from_files: Vec<&str> = layered.from_files.iter().map(String::as_str).collect();
        assert_eq!(from_files, ["B", "C", "D"]);
    }

    #[test]
    fn no_env_files_means_the_process_env() {
        let root = tempfile::tempdir().expect("tempdir");
        let process = env(&[("X", "1")]);
        let layered = layer_env(&process, root.path(), Path::new("t")).expect("layered");
        assert_eq!(layered.vars, process);
        assert!(layered.from_files.is_empty());
    }

    #[test]
    fn malformed_env_file_names_file_and_line() {
        let root = tempfile::tempdir().expect("tempdir");
        fs::write(root.path().join(".env"), "# ok\nGOOD=1\nBAD LINE\n").expect("write");
        let error =
            layer_env(&BTreeMap::new(), root.path(), Path::new("tests")).expect_err("malformed");
        let text = error.to_string();
        assert!(text.starts_with("tests/.env:3:"), "{text}");
        assert!(text.contains("BAD LINE"), "{text}");
        assert!(error.hint().is_some());
    }

    #[test]
    fn a_doubling_chain_is_refused_at_the_first_value_past_the_cap() {
        let root = tempfile::tempdir().expect("tempdir");
        let mut text = String::from("A0=xxxxxxxxxxxxxxxx\n");
        for i in 1..=40 {
            text.push_str(&format!("A{i}=${{A{}}}${{A{}}}\n", i - 1, i - 1));
        }
        fs::write(root.path().join(".env"), text).expect("write");
        let started = std::time::Instant::now();
        let error = layer_env(&BTreeMap::new(), root.path(), Path::new("tests")).unwrap_err();
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "did not hang"
        );
        let text = error.to_string();
        assert!(text.starts_with("tests/.env:14:1: invalid `A13`"), "{text}");
        assert!(text.contains("64 KiB"), "{text}");
    }

    #[test]
    fn the_values_of_a_file_are_capped_together() {
        let root = tempfile::tempdir().expect("tempdir");
        // One value of 60 KiB copied by reference: each under the per-value cap, the
        // file small, together over 1 MiB at the 17th copy (line 18).
        let mut text = format!("A={}\n", "v".repeat(60 * 1024));
        for i in 0..20 {
            text.push_str(&format!("K{i}=${{A}}\n"));
        }
        fs::write(root.path().join(".env"), text).expect("write");
        let error = layer_env(&BTreeMap::new(), root.path(), Path::new("t")).unwrap_err();
        let text = error.to_string();
        assert!(text.starts_with("t/.env:18:1: invalid `K16`"), "{text}");
        assert!(text.contains("1 MiB together"), "{text}");
    }

    #[test]
    fn too_many_dollars_are_refused_before_dotenv_substitutes() {
        let root = tempfile::tempdir().expect("tempdir");
        fs::write(
            root.path().join(".env"),
            format!("A=x\nB={}\n", "$A".repeat(100_000)),
        )
        .expect("write");
        let error = layer_env(&BTreeMap::new(), root.path(), Path::new("t")).unwrap_err();
        let text = error.to_string();
        assert!(
            text.starts_with("t/.env: has 100000 `$` substitutions"),
            "{text}"
        );
    }

    #[test]
    fn a_fifo_env_file_is_refused_without_waiting() {
        let root = tempfile::tempdir().expect("tempdir");
        nix::unistd::mkfifo(
            &root.path().join(".env"),
            nix::sys::stat::Mode::from_bits_truncate(0o600),
        )
        .expect("mkfifo");
        let error = layer_env(&BTreeMap::new(), root.path(), Path::new("t")).unwrap_err();
        assert_eq!(error.to_string(), "t/.env: is a FIFO, not a regular file");
        assert_eq!(error.hint().as_deref(), Some("name a regular file"));
    }

    #[test]
    fn expansion_stops_at_the_cap() {
        let big = "b".repeat(40 * 1024);
        let lookup = |_: &str| Some(big.clone());
        assert_eq!(expand("${A}", lookup).map(|s| s.len()), Ok(40 * 1024));
        assert_eq!(expand("${A}${A}", lookup), Err(ExpandError::TooLong));
        let many = "${A}".repeat(1_000_000);
        assert_eq!(expand(&many, lookup), Err(ExpandError::TooLong));
    }

    #[test]
    fn expands_variables_and_defaults() {
        let vars = env(&[("HOST", "h"), ("EMPTY", "")]);
        let lookup = |name: &str| vars.get(name).cloned();
        assert_eq!(expand("a-${HOST}-b", lookup).as_deref(), Ok("a-h-b"));
        assert_eq!(
            expand("${NOPE:-d}/${HOST:-x}", lookup).as_deref(),
            Ok("d/h")
        );
        assert_eq!(
            expand("${EMPTY:-fallback}", lookup).as_deref(),
            Ok("fallback")
        );
        assert_eq!(expand("${EMPTY}", lookup).as_deref(), Ok(""));
        assert_eq!(expand("$HOST $ {x}", lookup).as_deref(), Ok("$HOST $ {x}"));
        assert_eq!(
            expand("${NOPE}", lookup),
            Err(ExpandError::Unset("NOPE".into()))
        );
        assert!(matches!(
            expand("${HOST", lookup),
            Err(ExpandError::Malformed(_))
        ));
        assert!(matches!(
            expand("${A B}", lookup),
            Err(ExpandError::Malformed(_))
        ));
    }
}
