//! Registry credentials, from (first match wins): the command line (`--username` and a
//! password read from stdin), the environment (`PROMETHEUS_WASM_REGISTRY_USERNAME` and
//! `PROMETHEUS_WASM_REGISTRY_PASSWORD`), or the Docker `config.json` a user already has
//! (`$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`; `auths` entries written by
//! `docker login`). None of these is ever printed: [`Credentials`]' Debug hides the password.
//!
//! Every source is scoped to one registry host, so a plan (written by someone else) naming
//! a registry can never collect a password meant for another: Docker config entries are per
//! host; command-line and environment credentials apply to the registry named by
//! `PROMETHEUS_WASM_REGISTRY` (`host[:port]`), or, for `push` and `pull` without it, to the
//! registry of the reference typed on the command line. `run` and `lock` send them to no
//! registry unless `PROMETHEUS_WASM_REGISTRY` names it.
//!
//! Credential helpers (`credsStore`, `credHelpers`) are not run: they are programs, and
//! running one is not this tool's call; use the environment variables instead.

use std::fmt;
use std::path::PathBuf;

use base64::Engine as _;

/// Environment variable naming the registry user.
pub const USERNAME_ENV: &str = "PROMETHEUS_WASM_REGISTRY_USERNAME";
/// Environment variable holding the registry password or token.
pub const PASSWORD_ENV: &str = "PROMETHEUS_WASM_REGISTRY_PASSWORD";
/// Environment variable naming the one registry (`host[:port]`) the command-line and
/// environment credentials are for.
pub const REGISTRY_ENV: &str = "PROMETHEUS_WASM_REGISTRY";

/// A user name and password for one registry.
#[derive(Clone, PartialEq)]
pub struct Credentials {
    /// The user name.
    pub username: String,
    /// The password or token.
    pub password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Credentials({}, ***)", self.username)
    }
}

/// Where credentials may come from, in order, and which registry each is for.
#[derive(Debug, Clone, Default)]
pub struct CredentialSources {
    /// Given on the command line.
    pub explicit: Option<Credentials>,
    /// The registry (`host[:port]`) the command-line credentials are for; `None`: none.
    pub explicit_scope: Option<String>,
    /// Whether to read the environment variables and the Docker config.
    pub ambient: bool,
    /// The registry the environment credentials are for; `None`: none.
    pub env_scope: Option<String>,
}

impl CredentialSources {
    /// Explicit credentials if given, else the environment and the Docker config; the
    /// explicit and environment ones scoped to `PROMETHEUS_WASM_REGISTRY` (none if unset).
    pub fn new(explicit: Option<Credentials>) -> Self {
        let scope = std::env::var(REGISTRY_ENV)
            .ok()
            .map(|r| r.trim().to_string())
            .filter(|r| !r.is_empty());
        Self {
            explicit,
            explicit_scope: scope.clone(),
            ambient: true,
            env_scope: scope,
        }
    }

    /// For `push` and `pull`: the registry of the reference the user typed gets the
    /// command-line credentials, and the environment ones unless `PROMETHEUS_WASM_REGISTRY`
    /// names another.
    pub fn named_on_command_line(mut self, registry: &str) -> Self {
        self.explicit_scope = Some(registry.to_string());
        self.env_scope.get_or_insert_with(|| registry.to_string());
        self
    }

    /// Whether command-line credentials were given that apply to no registry (`run` or
    /// `lock` without `PROMETHEUS_WASM_REGISTRY`).
    pub fn explicit_unscoped(&self) -> bool {
        self.explicit.is_some() && self.explicit_scope.is_none()
    }

    /// The credentials for `registry` (`host[:port]`), if a source has some for it.
    pub fn for_registry(&self, registry: &str) -> Option<Credentials> {
        let is_for =
            |scope: &Option<String>| scope.as_deref().is_some_and(|s| same_registry(s, registry));
        if let Some(c) = &self.explicit
            && is_for(&self.explicit_scope)
        {
            return Some(c.clone());
        }
        if !self.ambient {
            return None;
        }
        if is_for(&self.env_scope)
            && let (Ok(username), Ok(password)) =
                (std::env::var(USERNAME_ENV), std::env::var(PASSWORD_ENV))
        {
            return Some(Credentials { username, password });
        }
        let text = crate::bounded_read::read_text_if_exists(
            &docker_config_path()?,
            crate::bounded_read::DOCKER_CONFIG_MAX,
            "Docker config",
        )
        .ok()??;
        from_docker_config(&text, registry)
    }
}

/// Whether two registry names (`host[:port]`, maybe with a scheme or a path, as people
/// write them) are the same registry; Docker Hub's names are one.
fn same_registry(a: &str, b: &str) -> bool {
    fn norm(r: &str) -> String {
        let r = r.trim();
        let r = r
            .strip_prefix("https://")
            .or_else(|| r.strip_prefix("http://"))
            .unwrap_or(r);
        let host = r.split('/').next().unwrap_or_default().to_ascii_lowercase();
        match host.as_str() {
            "docker.io" | "registry-1.docker.io" => "index.docker.io".into(),
            _ => host,
        }
    }
    norm(a) == norm(b)
}

/// `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`.
fn docker_config_path() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("DOCKER_CONFIG").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir).join("config.json"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker").join("config.json"))
}

/// The `auths` entry for `registry` in a Docker config: `auth` (base64 of `user:password`)
/// or `username` and `password`; keys may carry a scheme and a path, as `docker login`
/// writes for Docker Hub.
fn from_docker_config(text: &str, registry: &str) -> Option<Credentials> {
    let config: serde_json::Value = serde_json::from_str(text).ok()?;
    let auths = config.get("auths")?.as_object()?;
    let entry = auths.iter().find_map(|(key, value)| {
        let host = key
            .trim_start_matches("https://")
            .trim_start_matches("http://")
            .split('/')
            .next()
            .unwrap_or_default();
        (host == registry).then_some(value)
    })?;
    if let Some(auth) = entry.get("auth").and_then(|a| a.as_str()) {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(auth.trim())
            .ok()?;
        let text = String::from_utf8(decoded).ok()?;
        let (username, password) = text.split_once(':')?;
        return Some(Credentials {
            username: username.into(),
            password: password.into(),
        });
    }
    Some(Credentials {
        username: entry.get("username")?.as_str()?.into(),
        password: entry.get("password")?.as_str()?.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_config_entries_are_matched_by_host() {
        // base64("alice:s3cret")
        let text = r#"{"auths": {"https://127.0.0.1:5000/v2/": {"auth": "YWxpY2U6czNjcmV0"},
                      "other.example": {"username": "bob", "password": "pw"}}}"#;
        let alice = from_docker_config(text, "127.0.0.1:5000").unwrap();
        assert_eq!(
            (alice.username.as_str(), alice.password.as_str()),
            ("alice", "s3cret")
        );
        assert_eq!(
            from_docker_config(text, "other.example").unwrap().username,
            "bob"
        );
        assert_eq!(from_docker_config(text, "127.0.0.1:5001"), None);
        assert_eq!(from_docker_config("not json", "x"), None);
    }

    #[test]
    fn command_line_and_environment_credentials_are_for_one_registry() {
        let c = Credentials {
            username: "alice".into(),
            password: "s3cret".into(),
        };
        let sources = CredentialSources {
            explicit: Some(c.clone()),
            explicit_scope: None,
            ambient: false,
            env_scope: None,
        };
        assert!(sources.explicit_unscoped());
        assert_eq!(sources.for_registry("127.0.0.1:5000"), None);
        let sources = sources.named_on_command_line("127.0.0.1:5000");
        assert_eq!(sources.for_registry("127.0.0.1:5000"), Some(c));
        assert_eq!(sources.for_registry("127.0.0.1:5001"), None);
        assert_eq!(sources.for_registry("evil.example"), None);
        assert!(same_registry("https://docker.io/v1/", "index.docker.io"));
        assert!(same_registry("GHCR.io", "ghcr.io"));
        assert!(!same_registry("ghcr.io", "ghcr.io.evil.example"));
    }

    #[test]
    fn debug_never_shows_the_password() {
        let c = Credentials {
            username: "alice".into(),
            password: "s3cret".into(),
        };
        assert_eq!(format!("{c:?}"), "Credentials(alice, ***)");
    }
}
