//! The `limits:` block of `config.yaml`: the per-step budgets a test sets for its steps
//! ([`LimitsConfig`]), as written, range-checked with line:column errors. The defaults and
//! the enforcement live in `plugin::limits`; here an absent key is `None`.
//!
//! ```yaml
//! limits:
//!   step_timeout: 300      # seconds of wall-clock time for prepare + execute
//!   memory_mb: 512         # linear memory of one step's instance, all memories together
//!   fuel: null             # optional deterministic limit, in wasmtime fuel units
//!   http_timeout: 30       # seconds per HTTP request
//!   http_max_body_mb: 16   # request and response bodies
//!   output_max_kb: 1024    # captured stdout, stderr and log lines, each
//!   state_max_mb: 64       # the run state (test_state.json), for the whole run
//!   store_max_mb: 256      # the embedded store's documents, for the whole run
//!   recording_max_mb: 64   # the run's host-call recording (recording.jsonl)
//! ```
//!
//! Imports only sibling config modules.

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use super::error::{ConfigError, ConfigErrorKind, ConfigFile};
use super::location::find_key;

/// The `limits:` block as written; `None` where absent or `null` (the default applies).
#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize)]
// Unknown keys are errors: a misspelt budget would otherwise be silently ignored.
#[serde(default, deny_unknown_fields)]
pub(crate) struct LimitsKeys {
    pub step_timeout: Option<f64>,
    pub memory_mb: Option<u64>,
    pub fuel: Option<u64>,
    pub http_timeout: Option<f64>,
    pub http_max_body_mb: Option<u64>,
    pub output_max_kb: Option<u64>,
    pub state_max_mb: Option<u64>,
    pub store_max_mb: Option<u64>,
    pub recording_max_mb: Option<u64>,
}

/// The budgets config.yaml sets; `None` means the runner's default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LimitsConfig {
    /// `limits.step_timeout` (seconds in YAML): wall-clock time of one step.
    pub step_timeout: Option<Duration>,
    /// `limits.memory_mb`: MiB of linear memory per step instance.
    pub memory_mb: Option<u64>,
    /// `limits.fuel`: wasmtime fuel units per step; absent means no fuel metering.
    pub fuel: Option<u64>,
    /// `limits.http_timeout` (seconds in YAML): time of one HTTP request.
    pub http_timeout: Option<Duration>,
    /// `limits.http_max_body_mb`: MiB of an HTTP request or response body.
    pub http_max_body_mb: Option<u64>,
    /// `limits.output_max_kb`: KiB of captured stdout, of stderr, and of log lines, per step.
    pub output_max_kb: Option<u64>,
    /// `limits.state_max_mb`: MiB of run state (its JSON text) for the whole run.
    pub state_max_mb: Option<u64>,
    /// `limits.store_max_mb`: MiB of embedded-store documents for the whole run.
    pub store_max_mb: Option<u64>,
    /// `limits.recording_max_mb`: MiB of the run's host-call recording.
    pub recording_max_mb: Option<u64>,
}

impl LimitsConfig {
    /// These budgets where set, `base`'s elsewhere: a command line's flags over
    /// config.yaml's `limits:`.
    pub fn or(self, base: &LimitsConfig) -> LimitsConfig {
        LimitsConfig {
            step_timeout: self.step_timeout.or(base.step_timeout),
            memory_mb: self.memory_mb.or(base.memory_mb),
            fuel: self.fuel.or(base.fuel),
            http_timeout: self.http_timeout.or(base.http_timeout),
            http_max_body_mb: self.http_max_body_mb.or(base.http_max_body_mb),
            output_max_kb: self.output_max_kb.or(base.output_max_kb),
            state_max_mb: self.state_max_mb.or(base.state_max_mb),
            store_max_mb: self.store_max_mb.or(base.store_max_mb),
            recording_max_mb: self.recording_max_mb.or(base.recording_max_mb),
        }
    }
}

/// Largest `memory_mb`, `http_max_body_mb`, `state_max_mb`, `store_max_mb` accepted: 64 GiB, far beyond what a 64-bit
/// host can give one step; it keeps the byte counts from overflowing.
const MAX_MB: u64 = 64 << 10;
/// Largest `output_max_kb` accepted: 1 GiB of captured output per stream.
const MAX_KB: u64 = 1 << 20;

/// Checks the ranges of `keys` and converts them; errors point at the value in `text`.
pub(crate) fn check_limits(
    keys: &LimitsKeys,
    text: &str,
    path: &Path,
) -> Result<LimitsConfig, ConfigError> {
    let invalid = |key: &str, message: String| {
        let location = find_key(text, &["limits", key]).map(|span| span.value);
        ConfigError::new(
            ConfigFile::Config,
            path,
            ConfigErrorKind::InvalidValue {
                key: format!("limits.{key}"),
                message,
            },
        )
        .at(location)
    };
    let seconds = |key: &str, value: Option<f64>| -> Result<Option<Duration>, ConfigError> {
        value
            .map(|s| {
                Duration::try_from_secs_f64(s)
                    .ok()
                    .filter(|d| !d.is_zero())
                    .ok_or_else(|| invalid(key, format!("{s} is not a positive number of seconds")))
            })
            .transpose()
    };
    let size = |key: &str, value: Option<u64>, max: u64| -> Result<Option<u64>, ConfigError> {
        match value {
            Some(0) => Err(invalid(
                key,
                "0 would forbid everything; expected 1 or more".into(),
            )),
            Some(v) if v > max => Err(invalid(key, format!("{v} is more than the most, {max}"))),
            v => Ok(v),
        }
    };
    Ok(LimitsConfig {
        step_timeout: seconds("step_timeout", keys.step_timeout)?,
        memory_mb: size("memory_mb", keys.memory_mb, MAX_MB)?,
        fuel: size("fuel", keys.fuel, u64::MAX)?,
        http_timeout: seconds("http_timeout", keys.http_timeout)?,
        http_max_body_mb: size("http_max_body_mb", keys.http_max_body_mb, MAX_MB)?,
        output_max_kb: size("output_max_kb", keys.output_max_kb, MAX_KB)?,
        state_max_mb: size("state_max_mb", keys.state_max_mb, MAX_MB)?,
        store_max_mb: size("store_max_mb", keys.store_max_mb, MAX_MB)?,
        recording_max_mb: size("recording_max_mb", keys.recording_max_mb, MAX_MB)?,
    })
}

#[cfg(test)]
mod tests {
    use super::super::config_file::parse_config;
    use super::*;
    use crate::error::UserFacing;

    fn parse(text: &str) -> Result<LimitsConfig, ConfigError> {
        parse_config(text, Path::new("tests/config.yaml")).map(|p| p.limits)
    }

    #[test]
    fn absent_block_and_null_values_mean_defaults() {
        assert_eq!(parse("task_id: x\n").unwrap(), LimitsConfig::default());
        assert_eq!(
            parse("limits:\n  fuel: null\n").unwrap(),
            LimitsConfig::default()
        );
    }

    #[test]
    fn every_key_is_read() {
        let text = "limits:\n  step_timeout: 1.5\n  memory_mb: 64\n  fuel: 1000000\n  \
                    http_timeout: 2\n  http_max_body_mb: 3\n  output_max_kb: 4\n  \
                    state_max_mb: 5\n  store_max_mb: 6\n  recording_max_mb: 7\n";
        assert_eq!(
            parse(text).unwrap(),
            LimitsConfig {
                step_timeout: Some(Duration::from_millis(1500)),
                memory_mb: Some(64),
                fuel: Some(1_000_000),
                http_timeout: Some(Duration::from_secs(2)),
                http_max_body_mb: Some(3),
                output_max_kb: Some(4),
                state_max_mb: Some(5),
                store_max_mb: Some(6),
                recording_max_mb: Some(7),
            }
        );
    }

    #[test]
    fn out_of_range_values_point_at_the_value() {
        let err = parse("task_id: x\nlimits:\n  step_timeout: -1\n").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("tests/config.yaml:3:17: invalid `limits.step_timeout`"),
            "{err}"
        );
        assert_eq!(
            err.hint().as_deref(),
            Some("set `limits.step_timeout` to a positive number of seconds in tests/config.yaml")
        );
        let err = parse("limits:\n  memory_mb: 0\n").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("tests/config.yaml:2:14: invalid `limits.memory_mb`"),
            "{err}"
        );
    }

    #[test]
    fn misspelt_or_mistyped_keys_are_errors_with_position() {
        let err = parse("limits:\n  memory_mib: 5\n").unwrap_err().to_string();
        assert!(err.starts_with("tests/config.yaml:2:3:"), "{err}");
        assert!(err.contains("unknown field `memory_mib`"), "{err}");
        let err = parse("limits:\n  memory_mb: lots\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("tests/config.yaml:2:14: invalid `limits.memory_mb`"),
            "{err}"
        );
    }
}
