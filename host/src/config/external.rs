//! External workers: a workers-file entry with `"external": true` and a `url` names a worker
//! that somebody else runs (Compose, Kubernetes, a staging host). It resolves to a
//! [`WorkerSpec`] of kind [`WorkerKind::External`], so the plugin and the runner treat it
//! like any other worker; only the start-up (cli, workers) looks at the kind.
//!
//! Also checks the topology as a whole: a local worker must not be given the port of an
//! external worker on this host.
//!
//! Imports only sibling config modules.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;

use serde_json::Map;
use url::{Host, Url};

use super::env::{ExpandError, expand};
use super::error::{ConfigError, ConfigErrorKind, ConfigFile};
use super::json_locate::find_json_key;
use super::worker_spec::{WorkerContext, WorkerKind, WorkerSpec, worker_env};
use super::workers_file::{WorkerEntry, locate};

/// Keys that tell the runner how to start a worker or where its database is: meaningless
/// for a worker it does not start, so an external entry with one of them is refused rather
/// than silently half-obeyed.
pub(crate) const LAUNCH_KEYS: [&str; 4] = ["command", "server_entrypoint", "database_path", "port"];

/// Resolves an `"external": true` entry.
pub(crate) fn build_external(
    entry: WorkerEntry,
    ctx: &WorkerContext<'_>,
) -> Result<WorkerSpec, ConfigError> {
    let name = entry.name.clone();
    let error = |kind, key: &str| {
        ConfigError::new(ConfigFile::Workers, ctx.display_path, kind)
            .for_worker(&name)
            .at(locate(ctx.text, &name, key))
    };
    let launch: Vec<String> = LAUNCH_KEYS
        .iter()
        .filter(|key| entry.data.contains_key(**key))
        .map(|key| key.to_string())
        .collect();
    if let Some(first) = launch.first() {
        let at = find_json_key(ctx.text, &[&name, first]);
        return Err(ConfigError::new(
            ConfigFile::Workers,
            ctx.display_path,
            ConfigErrorKind::ExternalLaunchKeys { keys: launch },
        )
        .for_worker(&name)
        .at(at));
    }
    let Some(written) = &entry.url else {
        return Err(error(
            ConfigErrorKind::InvalidValue {
                key: "url".into(),
                message: "missing; an external worker needs the URL the runner reaches it at, \
                          e.g. \"url\": \"http://worker1:8080\""
                    .into(),
            },
            "external",
        ));
    };
    // Only what the entry sets: nothing is started with it, and the runner's own variables
    // (a `PORT` of the CI job) must not pass for the worker's.
    let full = worker_env(&entry, ctx).map_err(|kind| error(kind, "env_vars"))?;
    let bad_url = |message| {
        error(
            ConfigErrorKind::InvalidValue {
                key: "url".into(),
                message,
            },
            "url",
        )
    };
    // `${WORKER1_URL:-http://localhost:5700}`: one workers.json for a laptop and for CI.
    let expanded = expand(written, |name| full.get(name).cloned()).map_err(|e| {
        bad_url(match e {
            ExpandError::Unset(name) => format!(
                "uses unset variable `{name}`; set it in a .env file or the environment, or \
                 give a default: ${{{name}:-http://host:port}}"
            ),
            ExpandError::Malformed(text) => {
                format!("malformed `{text}`; write ${{NAME}} or ${{NAME:-default}}")
            }
            ExpandError::TooLong => ExpandError::too_long_message(),
        })
    })?;
    let (url, port) = parse_url(&expanded).map_err(bad_url)?;
    let env: BTreeMap<String, String> = full
        .into_iter()
        .filter(|(name, _)| entry.env.contains_key(name) || entry.env_vars.contains_key(name))
        .collect();

    let mut data = Map::new();
    data.insert("name".into(), entry.name.clone().into());
    data.insert(
        "base_dir".into(),
        ctx.tests_dir.display().to_string().into(),
    );
    data.extend(entry.data);
    data.insert("port".into(), port.into());
    data.insert("url".into(), url.clone().into());
    Ok(WorkerSpec {
        name: entry.name,
        kind: WorkerKind::External { reset: entry.reset },
        ready: entry.ready.unwrap_or_default().resolve(true),
        port,
        url,
        database_path: PathBuf::new(),
        program: String::new(),
        args: Vec::new(),
        cwd: ctx.tests_dir.to_path_buf(),
        env,
        env_vars: entry.env_vars.into_iter().collect(),
        keypairs: entry.keypairs,
        data,
    })
}

/// The URL as steps see it (no trailing `/`) and its port; only http and https, with a
/// host, and without credentials, query or fragment (they would leak into logs, or be
/// dropped when paths are appended).
fn parse_url(written: &str) -> Result<(String, u16), String> {
    // Every message shows the URL with its credentials masked (`user:***@host`): the error
    // that refuses them must not be the one that prints them.
    let shown = super::redact_url(written);
    let parsed = Url::parse(written).map_err(|e| format!("`{shown}` is not a URL: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!(
            "`{shown}`: the scheme `{}` is not supported; an external worker is reached over \
             http:// or https://",
            parsed.scheme()
        ));
    }
    if parsed.host().is_none() {
        return Err(format!("`{shown}` has no host"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(format!(
            "`{shown}` holds credentials; keep them out of the URL (use `env_vars` and .env)"
        ));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(format!(
            "`{shown}` has a query or fragment; give the worker's base URL"
        ));
    }
    let port = parsed
        .port_or_known_default()
        .expect("http and https have default ports");
    Ok((parsed.as_str().trim_end_matches('/').to_string(), port))
}

/// True if `url`'s host is this machine's loopback (`localhost`, 127.0.0.0/8, `[::1]`).
fn is_loopback(url: &str) -> bool {
    match Url::parse(url).ok().as_ref().and_then(Url::host) {
        Some(Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

/// Fails when an external worker on this host listens on the port of a local worker: the
/// local worker could not start (or, worse, the steps would talk to the wrong server).
pub(crate) fn check_port_conflicts(
    workers: &[WorkerSpec],
    ctx: &WorkerContext<'_>,
) -> Result<(), ConfigError> {
    for external in workers.iter().filter(|w| w.is_external()) {
        if !is_loopback(&external.url) {
            continue;
        }
        let clash = workers
            .iter()
            .find(|w| !w.is_external() && w.port == external.port);
        if let Some(local) = clash {
            return Err(ConfigError::new(
                ConfigFile::Workers,
                ctx.display_path,
                ConfigErrorKind::PortConflict {
                    port: external.port,
                    url: external.url.clone(),
                    local: local.name.clone(),
                },
            )
            .for_worker(&external.name)
            .at(locate(ctx.text, &external.name, "url")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_keep_their_host_and_lose_the_trailing_slash() {
        assert_eq!(
            parse_url("http://Worker1:8080/").expect("valid"),
            ("http://worker1:8080".to_string(), 8080)
        );
        assert_eq!(
            parse_url("https://staging.example.com/api/w1/").expect("valid"),
            ("https://staging.example.com/api/w1".to_string(), 443)
        );
        assert_eq!(parse_url("http://10.0.0.5").expect("valid").1, 80);
    }

    #[test]
    fn bad_urls_say_why() {
        for (url, expected) in [
            ("ftp://host:21", "scheme `ftp` is not supported"),
            ("file:///tmp/x", "scheme `file` is not supported"),
            ("localhost:5000", "scheme `localhost` is not supported"),
            ("worker1", "is not a URL"),
            ("http://user:pw@host", "holds credentials"),
            ("http://host/?a=1", "query or fragment"),
        ] {
            let message = parse_url(url).expect_err(url);
            assert!(message.contains(expected), "{url}: {message}");
        }
    }

    #[test]
    fn credentials_in_a_worker_url_are_refused_without_being_shown() {
        for (url, shown) in [
            (
                "https://alice:hunter2@staging.example.com/w1",
                "alice:***@staging",
            ),
            ("http://ghp_T0KEN@host:8080", "***@host"),
            ("http://bob:hunter%32@host:80", "bob:***@host"),
            ("http://carol:hunter2@host:notaport", "carol:***@host"),
        ] {
            let message = parse_url(url).expect_err(url);
            assert!(message.contains(shown), "{url}: {message}");
            for secret in ["hunter2", "hunter%32", "ghp_T0KEN"] {
                assert!(!message.contains(secret), "{url}: {message}");
            }
        }
    }

    #[test]
    fn loopback_hosts_are_recognised() {
        assert!(is_loopback("http://localhost:1"));
        assert!(is_loopback("http://127.0.0.2:1"));
        assert!(is_loopback("http://[::1]:1"));
        assert!(!is_loopback("http://worker1:1"));
        assert!(!is_loopback("http://10.0.0.1:1"));
    }
}
