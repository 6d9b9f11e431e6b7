//! The run's environment, built purely from the process environment and two `.env` files:
//! the project's `<tests>/../.env` fills only unset variables, then `<tests>/.env` overrides
//! (the reference's order). Also `${VAR}` / `${VAR:-default}` expansion for `command`.
//!
//! Never reads or changes the real process environment except through dotenvy's own
//! `${VAR}` substitution inside `.env` values. Start from [`layer_env`].

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::Path;

use super::error::{ConfigError, ConfigErrorKind, ConfigFile};
use super::location::Location;

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
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(e) => return Err(error(ConfigErrorKind::Io(e))),
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let mut vars = BTreeMap::new();
    for item in dotenvy::from_read_iter(text.as_bytes()) {
        match item {
            Ok((name, value)) => {
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
}

/// Replaces `${NAME}` with the variable's value and `${NAME:-default}` with the value, or the
/// default when unset or empty (as the shell does). A `$` not followed by `{` stays as is.
pub(crate) fn expand(
    text: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<String, ExpandError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
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
            (Some(value), Some(default)) if value.is_empty() => out.push_str(default),
            (Some(value), _) => out.push_str(&value),
            (None, Some(default)) => out.push_str(default),
            (None, None) => return Err(ExpandError::Unset(name.to_string())),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
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
