//! Registry credentials, from (first match wins): the command line (`--username` and a
//! password read from stdin), the environment (`PROMETHEUS_WASM_REGISTRY_USERNAME` and
//! `PROMETHEUS_WASM_REGISTRY_PASSWORD`), or the Docker `config.json` a user already has
//! (`$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`; `auths` entries written by
//! `docker login`). None of these is ever printed: [`Credentials`]' Debug hides the password.
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

/// Where credentials may come from, in order.
#[derive(Debug, Clone, Default)]
pub struct CredentialSources {
    /// Given on the command line.
    pub explicit: Option<Credentials>,
    /// Whether to read the environment variables and the Docker config.
    pub ambient: bool,
}

impl CredentialSources {
    /// Explicit credentials if given, else the environment and the Docker config.
    pub fn new(explicit: Option<Credentials>) -> Self {
        Self {
            explicit,
            ambient: true,
        }
    }

    /// The credentials for `registry` (`host[:port]`), if any source has some.
    pub fn for_registry(&self, registry: &str) -> Option<Credentials> {
        if let Some(c) = &self.explicit {
            return Some(c.clone());
        }
        if !self.ambient {
            return None;
        }
        if let (Ok(username), Ok(password)) =
            (std::env::var(USERNAME_ENV), std::env::var(PASSWORD_ENV))
        {
            return Some(Credentials { username, password });
        }
        let text = std::fs::read_to_string(docker_config_path()?).ok()?;
        from_docker_config(&text, registry)
    }
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
    fn debug_never_shows_the_password() {
        let c = Credentials {
            username: "alice".into(),
            password: "s3cret".into(),
        };
        assert_eq!(format!("{c:?}"), "Credentials(alice, ***)");
    }
}
