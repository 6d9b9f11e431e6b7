//! The `ready` and `reset` keys of a workers-file entry: how the runner tells that a worker
//! is ready ([`ReadyCheck`]) and, for an external worker, which HTTP call empties its state
//! before a fresh run ([`ResetHook`]).
//!
//! ```json
//! "ready": {"http": "/health", "status": 200, "timeout": 20, "interval": 0.5}
//! "ready": {"tcp": true}
//! "reset": {"method": "POST", "path": "/reset"}     // or just "reset": "/reset"
//! ```
//!
//! Pure: parses values, probes nothing. Imports only sibling config modules.

use std::fmt;
use std::time::Duration;

use serde_json::Value;

use super::did_you_mean::closest;
use super::error::ConfigErrorKind;

/// Path an HTTP probe asks when `ready` gives none, and an external worker's default probe.
pub const DEFAULT_HEALTH_PATH: &str = "/health";
/// Status an HTTP probe expects when `ready` gives none.
pub const DEFAULT_READY_STATUS: u16 = 200;
/// Method of a reset hook that names none: it changes state, so not GET.
pub const DEFAULT_RESET_METHOD: &str = "POST";
/// Methods a reset hook may use. Others (CONNECT, TRACE) have no business resetting state.
const RESET_METHODS: [&str; 5] = ["POST", "PUT", "DELETE", "PATCH", "GET"];
/// Keys of a `ready` object.
const READY_KEYS: [&str; 5] = ["tcp", "http", "status", "timeout", "interval"];
/// Keys of a `reset` object.
const RESET_KEYS: [&str; 3] = ["method", "path", "timeout"];

/// What is asked to tell that a worker is ready.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadyProbe {
    /// The port accepts TCP connections (the default for workers the runner starts).
    Tcp,
    /// `GET <url><path>` answers `status` (the default for external workers:
    /// [`DEFAULT_HEALTH_PATH`], [`DEFAULT_READY_STATUS`]).
    Http {
        /// Absolute path, starting with `/`, with an optional query.
        path: String,
        /// The status that means ready.
        status: u16,
    },
}

impl fmt::Display for ReadyProbe {
    /// `TCP connect` or `GET /health expecting 200`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadyProbe::Tcp => f.write_str("TCP connect"),
            ReadyProbe::Http { path, status } => write!(f, "GET {path} expecting {status}"),
        }
    }
}

/// A worker's readiness probe with its pacing; `None` timings take the runner's defaults
/// (`startup_timeout` of config.yaml, and a poll that starts fast and backs off).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadyCheck {
    /// What is asked.
    pub probe: ReadyProbe,
    /// How long the worker may take to pass it, counted from its start (or, for an
    /// external worker, from the first attempt).
    pub timeout: Option<Duration>,
    /// Pause between attempts.
    pub interval: Option<Duration>,
}

impl ReadyCheck {
    /// The default check of a worker: TCP for a local one, `GET /health` for an external one.
    pub fn default_for(external: bool) -> Self {
        let probe = if external {
            ReadyProbe::Http {
                path: DEFAULT_HEALTH_PATH.to_string(),
                status: DEFAULT_READY_STATUS,
            }
        } else {
            ReadyProbe::Tcp
        };
        ReadyCheck {
            probe,
            timeout: None,
            interval: None,
        }
    }
}

impl Default for ReadyCheck {
    /// The check of a local worker: its port accepts TCP connections.
    fn default() -> Self {
        Self::default_for(false)
    }
}

/// The HTTP call that empties an external worker's state before a fresh run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResetHook {
    /// Upper-case method, default [`DEFAULT_RESET_METHOD`].
    pub method: String,
    /// Absolute path, starting with `/`, appended to the worker's URL.
    pub path: String,
    /// How long the call may take; `None` takes the runner's default.
    pub timeout: Option<Duration>,
}

/// `ready` as written: the probe is `None` when only timings are given, and then it is the
/// default of the worker's kind.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ReadyEntry {
    pub probe: Option<ReadyProbe>,
    pub timeout: Option<Duration>,
    pub interval: Option<Duration>,
}

impl ReadyEntry {
    /// The check of a worker of the given kind.
    pub fn resolve(self, external: bool) -> ReadyCheck {
        let default = ReadyCheck::default_for(external);
        ReadyCheck {
            probe: self.probe.unwrap_or(default.probe),
            timeout: self.timeout,
            interval: self.interval,
        }
    }
}

fn invalid(key: &str, message: impl Into<String>) -> ConfigErrorKind {
    ConfigErrorKind::InvalidValue {
        key: key.to_string(),
        message: message.into(),
    }
}

fn unknown_key(parent: &str, key: &str, known: &[&str]) -> ConfigErrorKind {
    let suggestion = closest(key, known)
        .map(|k| format!("did you mean `{k}`? "))
        .unwrap_or_default();
    invalid(
        &format!("{parent}.{key}"),
        format!("unknown key; {suggestion}known keys: {}", known.join(", ")),
    )
}

/// A path of a probe or hook: absolute, without a scheme or host.
fn http_path(key: &str, value: &Value) -> Result<String, ConfigErrorKind> {
    match value.as_str() {
        Some(path) if path.starts_with('/') && !path.starts_with("//") => Ok(path.to_string()),
        Some(path) => Err(invalid(
            key,
            format!("`{path}` is not a path starting with `/` (the worker's url is put in front)"),
        )),
        None => Err(invalid(
            key,
            format!("expected a path string, found {value}"),
        )),
    }
}

/// A positive number of seconds.
fn seconds(key: &str, value: &Value) -> Result<Duration, ConfigErrorKind> {
    value
        .as_f64()
        .filter(|s| s.is_finite() && *s > 0.0)
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
        .ok_or_else(|| invalid(key, format!("{value} is not a positive number of seconds")))
}

/// Parses `ready`.
pub(crate) fn parse_ready(value: &Value) -> Result<ReadyEntry, ConfigErrorKind> {
    let Value::Object(map) = value else {
        return Err(invalid(
            "ready",
            format!("expected an object such as {{\"http\": \"/health\"}}, found {value}"),
        ));
    };
    let mut entry = ReadyEntry::default();
    let mut status = None;
    for (key, v) in map {
        match key.as_str() {
            "tcp" => {
                if v != &Value::Bool(true) {
                    return Err(invalid(
                        "ready.tcp",
                        format!(
                            "only `true` is meaningful, found {v}; use `http` for an HTTP probe"
                        ),
                    ));
                }
                if entry.probe.is_some() {
                    return Err(both_probes());
                }
                entry.probe = Some(ReadyProbe::Tcp);
            }
            "http" => {
                if entry.probe.is_some() {
                    return Err(both_probes());
                }
                entry.probe = Some(ReadyProbe::Http {
                    path: http_path("ready.http", v)?,
                    status: DEFAULT_READY_STATUS,
                });
            }
            "status" => {
                let code = v
                    .as_u64()
                    .and_then(|n| u16::try_from(n).ok())
                    .filter(|n| (100..=599).contains(n))
                    .ok_or_else(|| {
                        invalid(
                            "ready.status",
                            format!("{v} is not an HTTP status (100-599)"),
                        )
                    })?;
                status = Some(code);
            }
            "timeout" => entry.timeout = Some(seconds("ready.timeout", v)?),
            "interval" => entry.interval = Some(seconds("ready.interval", v)?),
            other => return Err(unknown_key("ready", other, &READY_KEYS)),
        }
    }
    match (&mut entry.probe, status) {
        (Some(ReadyProbe::Http { status: s, .. }), Some(code)) => *s = code,
        (_, Some(_)) => {
            return Err(invalid(
                "ready.status",
                "`status` goes with an HTTP probe; add `\"http\": \"/health\"`",
            ));
        }
        _ => {}
    }
    Ok(entry)
}

fn both_probes() -> ConfigErrorKind {
    invalid(
        "ready",
        "give either `tcp` or `http`, not both (one probe per worker)",
    )
}

/// Parses `reset`: a path string (POST) or `{method, path, timeout}`.
pub(crate) fn parse_reset(value: &Value) -> Result<ResetHook, ConfigErrorKind> {
    let mut hook = ResetHook {
        method: DEFAULT_RESET_METHOD.to_string(),
        path: String::new(),
        timeout: None,
    };
    match value {
        Value::String(_) => hook.path = http_path("reset", value)?,
        Value::Object(map) => {
            for (key, v) in map {
                match key.as_str() {
                    "method" => {
                        let method = v.as_str().map(str::to_ascii_uppercase);
                        hook.method = method
                            .filter(|m| RESET_METHODS.contains(&m.as_str()))
                            .ok_or_else(|| {
                                invalid(
                                    "reset.method",
                                    format!("{v} is not one of {}", RESET_METHODS.join(", ")),
                                )
                            })?;
                    }
                    "path" => hook.path = http_path("reset.path", v)?,
                    "timeout" => hook.timeout = Some(seconds("reset.timeout", v)?),
                    other => return Err(unknown_key("reset", other, &RESET_KEYS)),
                }
            }
            if hook.path.is_empty() {
                return Err(invalid(
                    "reset.path",
                    "missing; name the path to call, e.g. \"path\": \"/reset\"",
                ));
            }
        }
        other => {
            return Err(invalid(
                "reset",
                format!("expected a path or {{\"method\": ..., \"path\": ...}}, found {other}"),
            ));
        }
    }
    Ok(hook)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ready_takes_probe_and_timings() {
        let entry =
            parse_ready(&json!({"http": "/up", "status": 204, "timeout": 1.5, "interval": 0.2}))
                .expect("valid");
        assert_eq!(
            entry.probe,
            Some(ReadyProbe::Http {
                path: "/up".into(),
                status: 204
            })
        );
        assert_eq!(entry.timeout, Some(Duration::from_millis(1500)));
        assert_eq!(entry.interval, Some(Duration::from_millis(200)));
        let timings_only = parse_ready(&json!({"timeout": 3})).expect("valid");
        assert_eq!(timings_only.clone().resolve(false).probe, ReadyProbe::Tcp);
        assert_eq!(
            timings_only.resolve(true).probe,
            ReadyProbe::Http {
                path: DEFAULT_HEALTH_PATH.into(),
                status: 200
            }
        );
    }

    #[test]
    fn bad_ready_values_name_the_key() {
        let cases = [
            (json!("yes"), "invalid `ready`"),
            (json!({"tcp": false}), "invalid `ready.tcp`"),
            (json!({"tcp": true, "http": "/h"}), "not both"),
            (json!({"http": "health"}), "starting with `/`"),
            (json!({"http": "http://x/health"}), "starting with `/`"),
            (json!({"status": 200}), "goes with an HTTP probe"),
            (
                json!({"http": "/h", "status": 99}),
                "invalid `ready.status`",
            ),
            (json!({"timeout": 0}), "invalid `ready.timeout`"),
            (json!({"interval": "1"}), "invalid `ready.interval`"),
            (json!({"timout": 1}), "did you mean `timeout`?"),
        ];
        for (value, expected) in cases {
            let message = parse_ready(&value)
                .expect_err(&value.to_string())
                .to_string();
            assert!(message.contains(expected), "{value}: {message}");
        }
    }

    #[test]
    fn reset_takes_a_path_or_an_object() {
        let hook = parse_reset(&json!("/reset")).expect("valid");
        assert_eq!(
            (hook.method.as_str(), hook.path.as_str()),
            ("POST", "/reset")
        );
        let hook =
            parse_reset(&json!({"method": "delete", "path": "/db", "timeout": 5})).expect("valid");
        assert_eq!(
            (hook.method.as_str(), hook.path.as_str()),
            ("DELETE", "/db")
        );
        assert_eq!(hook.timeout, Some(Duration::from_secs(5)));
        for (value, expected) in [
            (json!({"method": "POST"}), "invalid `reset.path`: missing"),
            (
                json!({"method": "CONNECT", "path": "/r"}),
                "invalid `reset.method`",
            ),
            (json!({"path": "reset"}), "starting with `/`"),
            (json!(true), "invalid `reset`"),
            (json!({"pth": "/r"}), "did you mean `path`?"),
        ] {
            let message = parse_reset(&value)
                .expect_err(&value.to_string())
                .to_string();
            assert!(message.contains(expected), "{value}: {message}");
        }
    }
}
