//! Parses the text of `config.yaml`: the known keys into typed values (type errors carry the
//! value's line:column), the whole document into JSON for [`super::TestConfig::raw`], and
//! warnings for unknown keys that look like typos. Paths are resolved later, by `load`.
//!
//! Imports only sibling config modules.

use std::path::Path;

use indexmap::IndexMap;
use serde::Deserialize;
use serde_json::Value as Json;
use serde_yaml::Value as Yaml;

use super::did_you_mean::closest;
use super::error::{ConfigError, ConfigErrorKind, ConfigFile};
use super::faults::{FaultKeys, FaultOrigin, FaultSpec, check_faults};
use super::limits::{LimitsConfig, LimitsKeys, check_limits};
use super::location::{Location, find_key, split_key_path, strip_location_suffix};
use super::yaml_guard::{check_yaml, nesting_error};

/// Top-level keys we read (the reference's fields plus `allowed_hosts`, `startup_timeout`).
pub(crate) const TOP_LEVEL_KEYS: &[&str] = &[
    "task_id",
    "base_port",
    "max_rounds",
    "rounds_collection",
    "data_dir",
    "workers_config",
    "server_entrypoint",
    "middle_server_url",
    "allowed_hosts",
    "startup_timeout",
    "mongodb",
    "limits",
    "faults",
    "faults_from_steps",
];
const MONGODB_KEYS: &[&str] = &["database", "uri", "collections"];
const COLLECTION_KEYS: &[&str] = &["data_file", "required_count"];

/// The known keys as written; `None` where absent or `null`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct KnownKeys {
    pub task_id: Option<String>,
    pub base_port: Option<u16>,
    pub max_rounds: Option<u32>,
    pub rounds_collection: Option<String>,
    pub data_dir: Option<String>,
    pub workers_config: Option<String>,
    pub server_entrypoint: Option<String>,
    pub middle_server_url: Option<String>,
    pub allowed_hosts: Option<Vec<String>>,
    pub startup_timeout: Option<f64>,
    pub mongodb: Option<MongoKeys>,
    pub limits: Option<LimitsKeys>,
    pub faults: Option<Vec<FaultKeys>>,
    /// Parsed so that a value that is not a boolean is an error; the run reads it from
    /// `raw` (`TestConfig::faults_from_steps`).
    pub faults_from_steps: Option<bool>,
}

/// The `mongodb:` block as written.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct MongoKeys {
    pub database: Option<String>,
    pub uri: Option<String>,
    pub collections: Option<IndexMap<String, Option<CollectionKeys>>>,
}

/// One entry of `mongodb.collections` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct CollectionKeys {
    pub data_file: Option<String>,
    pub required_count: Option<u64>,
}

/// `config.yaml` parsed but not yet resolved against the tests directory.
#[derive(Debug)]
pub(crate) struct ParsedConfig {
    pub known: KnownKeys,
    /// The `limits:` block, range-checked.
    pub limits: LimitsConfig,
    /// The `faults:` schedule, checked on its own (workers and steps are checked later).
    pub faults: Vec<FaultSpec>,
    pub raw: Json,
    pub warnings: Vec<String>,
}

/// Parses `text`, naming `path` in errors and warnings.
pub(crate) fn parse_config(text: &str, path: &Path) -> Result<ParsedConfig, ConfigError> {
    let error = |kind| ConfigError::new(ConfigFile::Config, path, kind);
    check_yaml(text).map_err(|e| match e.location {
        // Too deep at a bracket: "fix the YAML at that position" is the right hint.
        Some(_) => error(ConfigErrorKind::Syntax { message: e.message }).at(e.location),
        None => error(ConfigErrorKind::InvalidDocument { message: e.message }),
    })?;
    let mut document: Yaml = serde_yaml::from_str(text).map_err(|e| yaml_error(&e, path))?;
    if document.is_null() {
        return Ok(ParsedConfig {
            known: KnownKeys::default(),
            limits: LimitsConfig::default(),
            faults: Vec::new(),
            raw: Json::Object(serde_json::Map::new()),
            warnings: Vec::new(),
        });
    }
    if !document.is_mapping() {
        return Err(error(ConfigErrorKind::InvalidDocument {
            message: format!(
                "the top level must be a mapping of keys, found {}",
                yaml_kind(&document)
            ),
        }));
    }
    // `<<: *anchor` merge keys, as PyYAML's safe_load applies them.
    document.apply_merge().map_err(|e| yaml_error(&e, path))?;
    let mut known: KnownKeys = serde_yaml::from_str(text).map_err(|e| yaml_error(&e, path))?;
    check_ranges(&known, text, path)?;
    let limits = check_limits(&known.limits.unwrap_or_default(), text, path)?;
    let faults = check_faults(
        known.faults.take().unwrap_or_default(),
        text,
        path,
        &FaultOrigin::Config,
    )?;
    let warnings = typo_warnings(&document, text, path);
    Ok(ParsedConfig {
        known,
        limits,
        faults,
        raw: yaml_to_json(&document),
        warnings,
    })
}

/// A serde_yaml error as a [`ConfigError`] at its line:column, the key split out when the
/// message names one.
fn yaml_error(error: &serde_yaml::Error, path: &Path) -> ConfigError {
    let mut message = error.to_string();
    let location = error.location().map(|l| {
        message = strip_location_suffix(&message, l.line(), l.column());
        Location::new(l.line(), l.column())
    });
    if let Some(nesting) = nesting_error(&message) {
        message = nesting;
    }
    let kind = match split_key_path(&message) {
        (Some(key), message) => ConfigErrorKind::InvalidValue { key, message },
        (None, message) => ConfigErrorKind::Syntax { message },
    };
    ConfigError::new(ConfigFile::Config, path, kind).at(location)
}

/// Range checks serde's types do not express; the location comes from scanning the text.
fn check_ranges(known: &KnownKeys, text: &str, path: &Path) -> Result<(), ConfigError> {
    let invalid = |key: &str, message: String| {
        let location = find_key(text, &[key]).map(|span| span.value);
        ConfigError::new(
            ConfigFile::Config,
            path,
            ConfigErrorKind::InvalidValue {
                key: key.to_string(),
                message,
            },
        )
        .at(location)
    };
    if known.base_port == Some(0) {
        return Err(invalid(
            "base_port",
            "port 0 is not a usable port, expected 1 to 65535".into(),
        ));
    }
    if let Some(seconds) = known.startup_timeout
        && !(seconds > 0.0 && std::time::Duration::try_from_secs_f64(seconds).is_ok())
    {
        return Err(invalid(
            "startup_timeout",
            format!("{seconds} is not a positive number of seconds"),
        ));
    }
    Ok(())
}

/// Warnings for keys that are unknown yet one or two edits away from a known key, at the
/// top level, in `mongodb:` and in each collection.
pub(crate) fn typo_warnings(document: &Yaml, text: &str, path: &Path) -> Vec<String> {
    let mut warnings = Vec::new();
    // Each warning scans the text for its key's line, so a document of many near-miss
    // keys would cost keys x lines; past the cap they are counted, not located.
    let mut more = 0usize;
    let mut check = |keys: &[String], known: &[&str], parents: &[&str]| {
        for key in keys {
            if known.contains(&key.as_str()) {
                continue;
            }
            // Decided before locating: only a warning pays for the scan of the text, so
            // thousands of extra keys (legal, steps read them) cost one pass each.
            let base_dir = parents.is_empty() && key == "base_dir";
            let suggestion = if base_dir { None } else { closest(key, known) };
            if !base_dir && suggestion.is_none() {
                continue;
            }
            if warnings.len() >= MAX_TYPO_WARNINGS {
                more += 1;
                continue;
            }
            let mut full: Vec<&str> = parents.to_vec();
            full.push(key);
            let at = match find_key(text, &full) {
                Some(span) => format!("{}:{}", path.display(), span.key),
                None => path.display().to_string(),
            };
            match suggestion {
                None => warnings.push(format!(
                    "{at}: key `base_dir` is ignored; the tests directory is always the \
                     directory of config.yaml"
                )),
                Some(suggestion) => warnings.push(format!(
                    "{at}: unknown key `{}`; did you mean `{suggestion}`?",
                    full.join(".")
                )),
            }
        }
    };
    check(&string_keys(document), TOP_LEVEL_KEYS, &[]);
    if let Some(mongodb) = document.get("mongodb") {
        check(&string_keys(mongodb), MONGODB_KEYS, &["mongodb"]);
        if let Some(Yaml::Mapping(collections)) = mongodb.get("collections") {
            for (name, collection) in collections {
                if let Some(name) = name.as_str() {
                    let parents = ["mongodb", "collections", name];
                    check(&string_keys(collection), COLLECTION_KEYS, &parents);
                }
            }
        }
    }
    if more > 0 {
        warnings.push(format!(
            "{}: {more} more unknown keys look like typos of known ones; fix the ones above first",
            path.display()
        ));
    }
    warnings
}

/// Most "did you mean" warnings given for one document; the rest are counted in one line.
const MAX_TYPO_WARNINGS: usize = 20;

fn string_keys(value: &Yaml) -> Vec<String> {
    match value {
        Yaml::Mapping(map) => map
            .keys()
            .filter_map(|k| k.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

fn yaml_kind(value: &Yaml) -> &'static str {
    match value {
        Yaml::Null => "null",
        Yaml::Bool(_) => "a boolean",
        Yaml::Number(_) => "a number",
        Yaml::String(_) => "a string",
        Yaml::Sequence(_) => "a list",
        Yaml::Mapping(_) => "a mapping",
        Yaml::Tagged(_) => "a tagged value",
    }
}

/// YAML to JSON: mapping order kept, non-string keys stringified, tags dropped, non-finite
/// floats (`.inf`, `.nan`) become `null` since JSON cannot hold them.
pub(crate) fn yaml_to_json(value: &Yaml) -> Json {
    match value {
        Yaml::Null => Json::Null,
        Yaml::Bool(b) => Json::Bool(*b),
        Yaml::Number(n) => {
            if let Some(i) = n.as_i64() {
                Json::from(i)
            } else if let Some(u) = n.as_u64() {
                Json::from(u)
            } else {
                n.as_f64()
                    .and_then(serde_json::Number::from_f64)
                    .map_or(Json::Null, Json::Number)
            }
        }
        Yaml::String(s) => Json::String(s.clone()),
        Yaml::Sequence(items) => Json::Array(items.iter().map(yaml_to_json).collect()),
        Yaml::Mapping(map) => Json::Object(
            map.iter()
                .map(|(k, v)| (yaml_key(k), yaml_to_json(v)))
                .collect(),
        ),
        Yaml::Tagged(tagged) => yaml_to_json(&tagged.value),
    }
}

fn yaml_key(key: &Yaml) -> String {
    match key {
        Yaml::String(s) => s.clone(),
        Yaml::Null => "null".to_string(),
        Yaml::Bool(b) => b.to_string(),
        Yaml::Number(n) => n.to_string(),
        Yaml::Tagged(tagged) => yaml_key(&tagged.value),
        other => serde_yaml::to_string(other)
            .map(|s| s.trim_end().to_string())
            .unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::UserFacing;

    fn parse(text: &str) -> Result<ParsedConfig, ConfigError> {
        parse_config(text, Path::new("tests/config.yaml"))
    }

    fn error_text(text: &str) -> String {
        parse(text).expect_err(text).to_string()
    }

    #[test]
    fn empty_or_comment_only_file_is_all_defaults() {
        for text in ["", "# nothing\n", "null\n"] {
            let parsed = parse(text).expect("parses");
            assert!(parsed.known.base_port.is_none());
            assert_eq!(parsed.raw, serde_json::json!({}));
            assert!(parsed.warnings.is_empty());
        }
    }

    #[test]
    fn numeric_task_id_becomes_its_text() {
        let parsed = parse("task_id: 1111\n").expect("parses");
        assert_eq!(parsed.known.task_id.as_deref(), Some("1111"));
    }

    #[test]
    fn malformed_yaml_names_file_line_and_column() {
        let text = error_text("task_id: x\nmongodb: [1, 2\nbase_port: 1\n");
        assert!(text.starts_with("tests/config.yaml:3:"), "{text}");
        assert!(text.contains("syntax error"), "{text}");
        assert!(!text.contains(" at line 3 column"), "{text}");
    }

    #[test]
    fn type_errors_name_key_position_and_expectation() {
        let text = error_text("task_id: x\nbase_port: \"abc\"\n");
        assert_eq!(
            text,
            "tests/config.yaml:2:12: invalid `base_port`: invalid type: string \"abc\", expected u16"
        );
        let text = error_text("max_rounds: -1\n");
        assert!(
            text.starts_with("tests/config.yaml:1:13: invalid `max_rounds`:"),
            "{text}"
        );
        assert!(text.contains("expected u32"), "{text}");
        let nested = "mongodb:\n  collections:\n    todos:\n      required_count: lots\n";
        let error = parse(nested).expect_err("string count");
        assert!(
            error.to_string().starts_with(
                "tests/config.yaml:4:23: invalid `mongodb.collections.todos.required_count`"
            ),
            "{error}"
        );
        assert!(error.hint().expect("hint").contains("a whole number"));
    }

    #[test]
    fn range_errors_point_at_the_value() {
        let text = error_text("a: 1\nbase_port: 0\n");
        assert!(
            text.starts_with("tests/config.yaml:2:12: invalid `base_port`"),
            "{text}"
        );
        let text = error_text("startup_timeout: -5\n");
        assert!(
            text.starts_with("tests/config.yaml:1:18: invalid `startup_timeout`"),
            "{text}"
        );
    }

    #[test]
    fn top_level_must_be_a_mapping() {
        let text = error_text("- a\n- b\n");
        assert!(text.contains("top level must be a mapping"), "{text}");
    }

    #[test]
    fn duplicate_keys_are_an_error() {
        let text = error_text("max_rounds: 1\nmax_rounds: 2\n");
        assert!(text.contains("duplicate"), "{text}");
    }

    #[test]
    fn likely_typos_warn_with_position_but_extra_keys_do_not() {
        let text = "task_id: x\npost_urls: {a: 1}\nmax_round: 3\nmongodb:\n  databse: d\n  \
                    collections:\n    todos:\n      required_cout: 1\nbase_dir: /x\n";
        let parsed = parse(text).expect("warnings are not errors");
        assert_eq!(
            parsed.warnings,
            [
                "tests/config.yaml:3:1: unknown key `max_round`; did you mean `max_rounds`?",
                "tests/config.yaml:9:1: key `base_dir` is ignored; the tests directory is always \
                 the directory of config.yaml",
                "tests/config.yaml:5:3: unknown key `mongodb.databse`; did you mean `database`?",
                "tests/config.yaml:8:7: unknown key `mongodb.collections.todos.required_cout`; \
                 did you mean `required_count`?",
            ]
        );
        assert_eq!(parsed.raw["max_round"], 3);
    }

    #[test]
    fn typo_warnings_stop_at_their_cap_and_extra_keys_stay_cheap() {
        // 10 000 extra keys (legal) and 29 near-misses of `task_id` (`task_id` itself is
        // among the 30 keys added, and known).
        let mut text: String = (0..10_000).map(|i| format!("extra_{i}: {i}\n")).collect();
        for c in 'a'..='z' {
            text.push_str(&format!("task_i{c}: 1\n"));
        }
        for c in 'A'..='D' {
            text.push_str(&format!("task_i{c}: 1\n"));
        }
        let started = std::time::Instant::now();
        let parsed = parse(&text).expect("warnings are not errors");
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "did not hang"
        );
        assert_eq!(
            parsed.warnings.len(),
            MAX_TYPO_WARNINGS + 1,
            "{:?}",
            parsed.warnings
        );
        assert!(parsed.warnings[0].starts_with("tests/config.yaml:10001:1: unknown key `task_ia`"));
        assert_eq!(
            parsed.warnings[MAX_TYPO_WARNINGS],
            "tests/config.yaml: 9 more unknown keys look like typos of known ones; fix the ones above first"
        );
    }

    #[test]
    fn deep_nesting_and_alias_bombs_are_refused_naming_the_file() {
        let deep = format!("a: {}{}\n", "{b: ".repeat(200), "}".repeat(200));
        let text = error_text(&deep);
        assert!(
            text.starts_with("tests/config.yaml:1:") && text.contains("nested more than 128"),
            "{text}"
        );
        let block: String = (0..200)
            .map(|d| format!("{}k:\n", "  ".repeat(d)))
            .collect();
        let text = error_text(&block);
        assert!(text.contains("nested more than 128 levels"), "{text}");
        let bomb = format!(
            "a: &a [{}]\nb: [{}]\n",
            vec!["1"; 2000].join(","),
            vec!["*a"; 2000].join(",")
        );
        let error = parse(&bomb).unwrap_err();
        assert!(error.to_string().contains("aliases"), "{error}");
        assert_eq!(error.hint(), None);
    }

    #[test]
    fn raw_keeps_everything_in_order_as_json() {
        let text = "z: 1\na:\n  b: [1, 2.5, true, null]\n  3: three\nbase: &b {x: 1}\nderived:\n  <<: *b\n  y: 2\n";
        let parsed = parse(text).expect("parses");
        assert_eq!(
            serde_json::to_string(&parsed.raw).expect("json"),
            r#"{"z":1,"a":{"b":[1,2.5,true,null],"3":"three"},"base":{"x":1},"derived":{"y":2,"x":1}}"#
        );
    }
}
