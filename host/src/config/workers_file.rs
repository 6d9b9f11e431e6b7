//! Parses the text of `workers.json`: an object of worker name -> entry, in file order. Each
//! entry's known keys are type-checked here; ports, paths and environments are resolved by
//! [`super::worker_spec`].
//!
//! Imports only sibling config modules. Start from [`parse_workers`].

use std::collections::BTreeMap;
use std::path::Path;

use indexmap::IndexMap;
use serde_json::{Map, Value};

use super::error::{ConfigError, ConfigErrorKind, ConfigFile};
use super::json_locate::find_json_key;
use super::location::{Location, strip_location_suffix};
use super::worker_probe::{ReadyEntry, ResetHook, parse_ready, parse_reset};

/// Keys of an entry that are not copied into [`super::WorkerSpec::data`] (as the reference).
pub(crate) const PRIVATE_KEYS: &[&str] = &["env_vars", "keypairs"];

/// Most workers one workers file may list: each local worker holds its own copy of the
/// layered environment (up to the `.env` caps) and a port, so the count bounds memory.
pub(crate) const MAX_WORKERS: usize = 64;

/// Keys whose errors carry a line:column (those of external workers and probes; older keys
/// keep their established messages).
const LOCATED_KEYS: &[&str] = &["external", "url", "ready", "reset"];

/// One workers-file entry, type-checked but not resolved.
#[derive(Debug, Clone, Default)]
pub(crate) struct WorkerEntry {
    pub name: String,
    pub port: Option<u16>,
    pub env: BTreeMap<String, String>,
    /// Server variable -> environment variable, in file order (for the error message).
    pub env_vars: IndexMap<String, String>,
    pub keypairs: BTreeMap<String, String>,
    pub server_entrypoint: Option<String>,
    pub database_path: Option<String>,
    pub command: Option<Vec<String>>,
    /// `external`: the runner does not start this worker, it reaches it at `url`.
    pub external: bool,
    /// `url`, as written (meaningful for external workers).
    pub url: Option<String>,
    /// `ready`, when given.
    pub ready: Option<ReadyEntry>,
    /// `reset`, when given.
    pub reset: Option<ResetHook>,
    /// Every key of the entry except [`PRIVATE_KEYS`], as written.
    pub data: Map<String, Value>,
}

/// Parses the workers file `text`, naming `path` in errors.
pub(crate) fn parse_workers(text: &str, path: &Path) -> Result<Vec<WorkerEntry>, ConfigError> {
    let error = |kind| ConfigError::new(ConfigFile::Workers, path, kind);
    let document: Value = serde_json::from_str(text).map_err(|e| {
        let message = strip_location_suffix(&e.to_string(), e.line(), e.column());
        error(ConfigErrorKind::Syntax { message }).at(Some(Location::new(e.line(), e.column())))
    })?;
    let Value::Object(workers) = document else {
        return Err(error(ConfigErrorKind::InvalidDocument {
            message: format!(
                "the top level must be an object of worker name -> settings, found {}",
                json_kind(&document)
            ),
        }));
    };
    if workers.len() > MAX_WORKERS {
        return Err(error(ConfigErrorKind::InvalidDocument {
            message: format!(
                "lists {} workers; at most {MAX_WORKERS} are run (each gets its own copy of \
                 the environment and a port); split the test",
                workers.len()
            ),
        }));
    }
    workers
        .into_iter()
        .map(|(name, entry)| {
            parse_entry(name.clone(), entry).map_err(|kind| {
                let at = match &kind {
                    ConfigErrorKind::InvalidValue { key, .. } => locate(text, &name, key),
                    _ => None,
                };
                error(kind).for_worker(&name).at(at)
            })
        })
        .collect()
}

/// Where the value of the dotted `key` of worker `name` is, for the keys of
/// [`LOCATED_KEYS`]; the nearest enclosing key found when the exact one is not.
pub(crate) fn locate(text: &str, name: &str, key: &str) -> Option<Location> {
    let mut path: Vec<&str> = std::iter::once(name).chain(key.split('.')).collect();
    if !LOCATED_KEYS.contains(path.get(1)?) {
        return None;
    }
    while path.len() > 1 {
        if let Some(location) = find_json_key(text, &path) {
            return Some(location);
        }
        path.pop();
    }
    None
}

fn parse_entry(name: String, entry: Value) -> Result<WorkerEntry, ConfigErrorKind> {
    let Value::Object(entry) = entry else {
        return Err(ConfigErrorKind::InvalidDocument {
            message: format!(
                "the entry must be an object of settings, found {}",
                json_kind(&entry)
            ),
        });
    };
    let mut parsed = WorkerEntry {
        name,
        ..WorkerEntry::default()
    };
    for (key, value) in &entry {
        match key.as_str() {
            "port" => parsed.port = Some(port(value)?),
            "env" => parsed.env = env_literals(value)?,
            "env_vars" => parsed.env_vars = string_map(key, value)?.into_iter().collect(),
            "keypairs" => parsed.keypairs = string_map(key, value)?.into_iter().collect(),
            "server_entrypoint" => parsed.server_entrypoint = Some(string(key, value)?),
            "database_path" => parsed.database_path = Some(string(key, value)?),
            "command" => parsed.command = Some(command(value)?),
            "external" => {
                parsed.external = value.as_bool().ok_or_else(|| {
                    invalid(
                        "external",
                        format!("expected true or false, found {}", json_kind(value)),
                    )
                })?;
            }
            "url" => parsed.url = Some(string(key, value)?),
            "ready" => parsed.ready = Some(parse_ready(value)?),
            "reset" => parsed.reset = Some(parse_reset(value)?),
            _ => {}
        }
        if !PRIVATE_KEYS.contains(&key.as_str()) {
            parsed.data.insert(key.clone(), value.clone());
        }
    }
    Ok(parsed)
}

fn invalid(key: &str, message: String) -> ConfigErrorKind {
    ConfigErrorKind::InvalidValue {
        key: key.to_string(),
        message,
    }
}

fn port(value: &Value) -> Result<u16, ConfigErrorKind> {
    value
        .as_u64()
        .and_then(|n| u16::try_from(n).ok())
        .filter(|n| *n != 0)
        .ok_or_else(|| {
            invalid(
                "port",
                format!("{value} is not a port number from 1 to 65535"),
            )
        })
}

fn string(key: &str, value: &Value) -> Result<String, ConfigErrorKind> {
    value.as_str().map(str::to_string).ok_or_else(|| {
        invalid(
            key,
            format!("expected a string, found {}", json_kind(value)),
        )
    })
}

/// `{NAME: "string"}`; anything else in a value is an error.
fn string_map(key: &str, value: &Value) -> Result<Vec<(String, String)>, ConfigErrorKind> {
    let Value::Object(map) = value else {
        return Err(invalid(
            key,
            format!("expected an object, found {}", json_kind(value)),
        ));
    };
    map.iter()
        .map(|(name, v)| Ok((name.clone(), string(&format!("{key}.{name}"), v)?)))
        .collect()
}

/// `env`: literal values; numbers and booleans become their JSON text (`5`, `true`).
fn env_literals(value: &Value) -> Result<BTreeMap<String, String>, ConfigErrorKind> {
    let Value::Object(map) = value else {
        return Err(invalid(
            "env",
            format!("expected an object, found {}", json_kind(value)),
        ));
    };
    map.iter()
        .map(|(name, v)| match v {
            Value::String(s) => Ok((name.clone(), s.clone())),
            Value::Number(_) | Value::Bool(_) => Ok((name.clone(), v.to_string())),
            other => Err(invalid(
                &format!("env.{name}"),
                format!(
                    "expected a string, number or boolean, found {}",
                    json_kind(other)
                ),
            )),
        })
        .collect()
}

fn command(value: &Value) -> Result<Vec<String>, ConfigErrorKind> {
    let expected = || {
        invalid(
            "command",
            format!("expected a non-empty list of strings, found {value}"),
        )
    };
    let Value::Array(items) = value else {
        return Err(expected());
    };
    let argv: Vec<String> = items
        .iter()
        .map(|item| item.as_str().map(str::to_string))
        .collect::<Option<_>>()
        .ok_or_else(expected)?;
    if argv.first().is_none_or(|program| program.is_empty()) {
        return Err(expected());
    }
    Ok(argv)
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Vec<WorkerEntry>, ConfigError> {
        parse_workers(text, Path::new("tests/workers.json"))
    }

    #[test]
    fn more_than_64_workers_or_deep_nesting_are_refused_naming_the_file() {
        let at_cap: Vec<String> = (0..MAX_WORKERS)
            .map(|i| format!("\"w{i}\": {{}}"))
            .collect();
        assert_eq!(
            parse(&format!("{{{}}}", at_cap.join(","))).unwrap().len(),
            MAX_WORKERS
        );
        let over: Vec<String> = (0..=MAX_WORKERS)
            .map(|i| format!("\"w{i}\": {{}}"))
            .collect();
        let err = parse(&format!("{{{}}}", over.join(",")))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("tests/workers.json: lists 65 workers; at most 64"),
            "{err}"
        );
        let n = 100_000;
        let deep = format!("{{\"w\": {{\"x\": {}{}}}}}", "[".repeat(n), "]".repeat(n));
        let started = std::time::Instant::now();
        let err = parse(&deep).unwrap_err().to_string();
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "did not hang"
        );
        assert!(err.starts_with("tests/workers.json:1:"), "{err}");
        assert!(err.contains("recursion limit exceeded"), "{err}");
    }

    #[test]
    fn keeps_file_order_and_types_known_keys() {
        let workers = parse(
            r#"{"zeta": {"port": 6000, "env": {"A": "x", "N": 5, "B": true}, "role": "leader"},
                "alpha": {"env_vars": {"T": "TOKEN"}, "keypairs": {"staking": "K"},
                          "command": ["./srv", "--x"]}}"#,
        )
        .expect("parses");
        let names: Vec<&str> = workers.iter().map(|w| w.name.as_str()).collect();
        assert_eq!(names, ["zeta", "alpha"]);
        assert_eq!(workers[0].port, Some(6000));
        assert_eq!(workers[0].env["N"], "5");
        assert_eq!(workers[0].env["B"], "true");
        assert_eq!(workers[0].data["role"], "leader");
        assert_eq!(workers[1].env_vars["T"], "TOKEN");
        assert_eq!(workers[1].keypairs["staking"], "K");
        assert_eq!(
            workers[1].command.as_deref(),
            Some(&["./srv".to_string(), "--x".into()][..])
        );
        assert!(!workers[1].data.contains_key("env_vars"));
        assert!(!workers[1].data.contains_key("keypairs"));
        assert!(workers[1].data.contains_key("command"));
    }

    #[test]
    fn malformed_json_names_file_line_and_column() {
        let error = parse("{\n  \"w\": {\"port\": 5000,}\n}").expect_err("malformed");
        let text = error.to_string();
        assert!(text.starts_with("tests/workers.json:2:"), "{text}");
        assert!(text.contains("syntax error"), "{text}");
        assert!(!text.contains(" at line "), "{text}");
    }

    #[test]
    fn bad_entries_name_file_and_worker() {
        let cases = [
            (r#"{"w1": 3}"#, "entry must be an object"),
            (r#"{"w1": {"port": 70000}}"#, "invalid `port`"),
            (r#"{"w1": {"port": "5000"}}"#, "invalid `port`"),
            (r#"{"w1": {"command": []}}"#, "invalid `command`"),
            (r#"{"w1": {"command": ["a", 1]}}"#, "invalid `command`"),
            (r#"{"w1": {"command": "srv"}}"#, "invalid `command`"),
            (r#"{"w1": {"env": {"A": [1]}}}"#, "invalid `env.A`"),
            (r#"{"w1": {"env_vars": {"A": 1}}}"#, "invalid `env_vars.A`"),
        ];
        for (text, expected) in cases {
            let message = parse(text).expect_err(text).to_string();
            assert!(
                message.starts_with("tests/workers.json: worker `w1`: "),
                "{message}"
            );
            assert!(message.contains(expected), "{message}");
        }
        let top = parse("[1]").expect_err("list").to_string();
        assert!(top.contains("top level must be an object"), "{top}");
    }
}
