//! `--set KEY=VALUE`: overrides of config.yaml for one run. [`Override::parse`] reads one
//! flag (dot keys into the document, the value read as YAML); [`apply`] puts them into the
//! parsed document, and [`override_warnings`] gives the same "did you mean" warnings as a
//! typo in config.yaml does.
//!
//! Imports only sibling config modules.

use std::path::Path;

use serde_yaml::{Mapping, Value as Yaml};

use super::config_file::{ParsedConfig, parse_config, typo_warnings};
use super::error::{ConfigError, ConfigErrorKind, ConfigFile};
use super::yaml_guard::{check_yaml, nesting_error};

/// Most dot-separated parts of a `--set` key: MongoDB's own document nesting limit, far
/// deeper than any config.yaml key (whose deepest is
/// `mongodb.collections.NAME.required_count`).
pub(crate) const MAX_KEY_PARTS: usize = 100;

/// One `--set KEY=VALUE`.
#[derive(Debug, Clone, PartialEq)]
pub struct Override {
    /// The key's path: `limits.fuel` is `["limits", "fuel"]`.
    pub key: Vec<String>,
    /// The value, read as YAML (`3` a number, `true` a boolean, `[a, b]` a list, `"3"` a
    /// string).
    pub value: Yaml,
    /// The flag's text, `KEY=VALUE`, for the run's header and messages.
    pub text: String,
}

impl Override {
    /// Reads `KEY=VALUE`; errors name the flag.
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        let shown = shorten(text);
        let error = |message: String| {
            ConfigError::new(
                ConfigFile::Config,
                Path::new(&format!("--set {shown}")),
                ConfigErrorKind::InvalidDocument { message },
            )
        };
        let (key, value) = text
            .split_once('=')
            .ok_or_else(|| error("expected KEY=VALUE, e.g. --set max_rounds=3".into()))?;
        // Capped before anything is built from it: each part is one level of mappings,
        // and thousands of them made memory grow with the square of the key's length.
        let parts = key.split('.').count();
        if parts > MAX_KEY_PARTS {
            return Err(error(format!(
                "the key has {parts} dot-separated parts; at most {MAX_KEY_PARTS} are allowed \
                 (config.yaml is never nested that deep)"
            )));
        }
        let key: Vec<String> = key.trim().split('.').map(str::to_owned).collect();
        if key.iter().any(String::is_empty) {
            return Err(error(format!(
                "`{}` is not a key: dot-separated names, e.g. limits.fuel",
                key.join(".")
            )));
        }
        check_yaml(value)
            .map_err(|e| error(format!("the value is not accepted: {}", e.message)))?;
        let value: Yaml = serde_yaml::from_str(value).map_err(|e| {
            let message = e.to_string();
            let message = nesting_error(&message).unwrap_or(message);
            error(format!("the value is not YAML: {message}"))
        })?;
        Ok(Override {
            key,
            value,
            text: text.to_owned(),
        })
    }
}

/// Longest flag text quoted in a message; a longer one is cut with `…`.
const SHOWN_FLAG_MAX: usize = 80;

/// `text` cut to [`SHOWN_FLAG_MAX`] characters, so a huge flag is named, not echoed.
fn shorten(text: &str) -> std::borrow::Cow<'_, str> {
    match text.char_indices().nth(SHOWN_FLAG_MAX) {
        Some((end, _)) => format!("{}…", &text[..end]).into(),
        None => text.into(),
    }
}

/// config.yaml's `text` parsed with `overrides` on top. config.yaml alone is parsed first,
/// so that its own errors and warnings keep their line:column; errors of the overridden
/// document name the file "with --set". The warnings are config.yaml's plus
/// [`override_warnings`].
pub(crate) fn parse_with(
    text: &str,
    path: &Path,
    overrides: &[Override],
) -> Result<ParsedConfig, ConfigError> {
    let parsed = parse_config(text, path)?;
    if overrides.is_empty() {
        return Ok(parsed);
    }
    let invalid = |message: String| {
        ConfigError::new(
            ConfigFile::Config,
            path,
            ConfigErrorKind::InvalidDocument { message },
        )
    };
    // Parsed once already: these cannot fail on a document parse_config accepted.
    let mut document: Yaml = serde_yaml::from_str(text).map_err(|e| invalid(e.to_string()))?;
    apply(&mut document, overrides)?;
    let merged = serde_yaml::to_string(&document).map_err(|e| invalid(e.to_string()))?;
    let label = format!("{} with --set", path.display());
    let mut merged = parse_config(&merged, Path::new(&label))?;
    merged.warnings = parsed.warnings;
    merged.warnings.extend(override_warnings(overrides));
    Ok(merged)
}

/// `document` (config.yaml, parsed) with every override set in order, creating the
/// mappings on the way; a key below a value that is not a mapping is refused.
pub(crate) fn apply(document: &mut Yaml, overrides: &[Override]) -> Result<(), ConfigError> {
    if document.is_null() {
        *document = Yaml::Mapping(Mapping::new());
    }
    for o in overrides {
        let mut node = &mut *document;
        for (depth, part) in o.key.iter().enumerate() {
            if node.is_null() {
                *node = Yaml::Mapping(Mapping::new());
            }
            let Yaml::Mapping(map) = node else {
                return Err(ConfigError::new(
                    ConfigFile::Config,
                    Path::new(&format!("--set {}", o.text)),
                    ConfigErrorKind::InvalidValue {
                        key: o.key[..depth].join("."),
                        message: "holds a value, not a mapping of keys, so it has no key `"
                            .to_owned()
                            + part
                            + "`",
                    },
                ));
            };
            let key = Yaml::String(part.clone());
            if depth + 1 == o.key.len() {
                map.insert(key, o.value.clone());
                break;
            }
            node = map.entry(key).or_insert(Yaml::Null);
        }
    }
    Ok(())
}

/// A "did you mean" warning for each override whose key is one or two edits away from a
/// known key, worded as config.yaml's own (`--set max_round=3: unknown key ...`).
pub(crate) fn override_warnings(overrides: &[Override]) -> Vec<String> {
    overrides
        .iter()
        .flat_map(|o| {
            let mut alone = Yaml::Null;
            apply(&mut alone, std::slice::from_ref(o)).ok();
            typo_warnings(&alone, "", Path::new(&format!("--set {}", o.text)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(texts: &[&str]) -> Vec<Override> {
        texts
            .iter()
            .map(|t| Override::parse(t).expect("parses"))
            .collect()
    }

    #[test]
    fn values_are_yaml_typed_and_keys_nest() {
        let mut doc: Yaml =
            serde_yaml::from_str("max_rounds: 2\nmongodb:\n  database: a\n").unwrap();
        apply(
            &mut doc,
            &set(&[
                "max_rounds=3",
                "mongodb.database=b",
                "limits.fuel=1000",
                "task_id='7'",
                "allowed_hosts=[a, b]",
            ]),
        )
        .unwrap();
        let expected: Yaml = serde_yaml::from_str(
            "max_rounds: 3\nmongodb:\n  database: b\nlimits:\n  fuel: 1000\ntask_id: '7'\nallowed_hosts: [a, b]\n",
        )
        .unwrap();
        assert_eq!(doc, expected);
    }

    #[test]
    fn bad_flags_and_keys_below_values_are_refused_naming_the_flag() {
        let e = Override::parse("max_rounds").unwrap_err().to_string();
        assert_eq!(
            e,
            "--set max_rounds: expected KEY=VALUE, e.g. --set max_rounds=3"
        );
        let e = Override::parse("limits..fuel=1").unwrap_err().to_string();
        assert!(e.contains("is not a key"), "{e}");
        let mut doc: Yaml = serde_yaml::from_str("max_rounds: 2\n").unwrap();
        let e = apply(&mut doc, &set(&["max_rounds.x=1"]))
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "--set max_rounds.x=1: invalid `max_rounds`: holds a value, not a mapping of keys, so it has no key `x`"
        );
    }

    #[test]
    fn keys_of_more_than_100_parts_are_refused_and_the_flag_is_shortened() {
        let at_cap = format!("{}=1", vec!["a"; MAX_KEY_PARTS].join("."));
        assert_eq!(Override::parse(&at_cap).unwrap().key.len(), MAX_KEY_PARTS);
        let over = format!("{}=1", vec!["a"; 65_000].join("."));
        let e = Override::parse(&over).unwrap_err().to_string();
        assert!(e.contains("65000 dot-separated parts; at most 100"), "{e}");
        assert!(e.len() < 400, "the flag is not echoed whole: {e}");
        assert!(e.starts_with(&format!("--set {}…", &over[..80])), "{e}");
    }

    #[test]
    fn a_value_that_is_an_alias_bomb_or_too_deep_is_refused() {
        let n = 3000;
        let bomb = format!(
            "x=[&a [{}], [{}]]",
            vec!["1"; n].join(","),
            vec!["*a"; n].join(",")
        );
        let e = Override::parse(&bomb).unwrap_err().to_string();
        assert!(e.contains("aliases"), "{e}");
        let deep = format!("x={}{}", "[".repeat(100_000), "]".repeat(100_000));
        let e = Override::parse(&deep).unwrap_err().to_string();
        assert!(e.contains("nested more than 128 levels"), "{e}");
    }

    #[test]
    fn typos_warn_like_config_yaml() {
        assert_eq!(
            override_warnings(&set(&["max_round=3", "mongodb.databse=x", "my_key=1"])),
            [
                "--set max_round=3: unknown key `max_round`; did you mean `max_rounds`?",
                "--set mongodb.databse=x: unknown key `mongodb.databse`; did you mean `database`?",
            ]
        );
    }
}
