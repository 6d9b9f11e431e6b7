//! Which values are secret, and why: [`TestConfig::secrets`] returns [`Secrets`], the
//! variables the reports mask (by name, never printing a value) and the values themselves.
//!
//! A variable is secret when workers.json maps it into a worker (`env_vars`, `keypairs`),
//! when its name says so ([`is_secret_name`]), or when the user names it (`--secret NAME`);
//! the credentials in any URI the test uses are secret too. Values shorter than
//! [`MIN_SECRET_LEN`] characters are never masked. A `.env` file alone does not make a
//! value secret: `NODE_ENV=test` in `.env` is configuration. Imports only sibling modules.

use std::collections::BTreeSet;
use std::fmt;

use percent_encoding::percent_decode_str;

use super::test_config::{MIN_SECRET_LEN, TestConfig};
use super::worker_spec::LITERAL_ENV_VAR;

/// True when a variable's name marks its value as secret: it contains `KEY`, `TOKEN`,
/// `SECRET` or `PASSWORD`, or ends with `PASS` (any case).
pub fn is_secret_name(name: &str) -> bool {
    let name = name.to_ascii_uppercase();
    ["KEY", "TOKEN", "SECRET", "PASSWORD"]
        .iter()
        .any(|word| name.contains(word))
        || name.ends_with("PASS")
}

/// The credentials of a URI (`scheme://user:password@host…`): the password, or the user
/// part when there is no password (`https://TOKEN@host`), as written and percent-decoded.
pub fn uri_credentials(value: &str) -> Vec<String> {
    let Some((_, rest)) = value.split_once("://") else {
        return Vec::new();
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let Some((userinfo, _host)) = authority.rsplit_once('@') else {
        return Vec::new();
    };
    let secret = match userinfo.split_once(':') {
        Some((_user, password)) => password,
        None => userinfo,
    };
    let mut out = vec![secret.to_string()];
    if let Ok(decoded) = percent_decode_str(secret).decode_utf8()
        && decoded != secret
    {
        out.push(decoded.into_owned());
    }
    out.retain(|s| !s.is_empty());
    out
}

/// Why a variable's value is masked.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum SecretReason {
    /// Its name contains `KEY`, `TOKEN`, `SECRET`, `PASSWORD` or ends with `PASS`.
    Name,
    /// workers.json maps it into this worker through `env_vars`.
    EnvVars(String),
    /// workers.json names it as this worker's keypair file (the path; the keys are masked too).
    Keypair(String),
    /// Named with `--secret`.
    Flag,
    /// It holds a URI with credentials (user:password@); only the credentials are masked.
    UriCredentials,
}

impl fmt::Display for SecretReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretReason::Name => f.write_str("its name"),
            SecretReason::EnvVars(worker) => write!(f, "env_vars of {worker}"),
            SecretReason::Keypair(worker) => write!(f, "keypairs of {worker}"),
            SecretReason::Flag => f.write_str("--secret"),
            SecretReason::UriCredentials => f.write_str("credentials in a URI"),
        }
    }
}

/// One variable whose value (or whose URI credentials) the reports mask.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretVariable {
    /// The variable's name (`mongodb.uri` for the config key).
    pub name: String,
    /// Why it is secret.
    pub reason: SecretReason,
    /// The values masked for it: the value, or a URI's credentials.
    values: Vec<String>,
}

impl SecretVariable {
    /// False when its value is shorter than [`MIN_SECRET_LEN`] characters, and so shown.
    pub fn is_masked(&self) -> bool {
        self.values.iter().any(|v| is_long_enough(v))
    }
}

fn is_long_enough(value: &str) -> bool {
    value.chars().count() >= MIN_SECRET_LEN
}

/// The secrets of a run, from [`TestConfig::secrets`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Secrets {
    /// The secret variables, by name then reason.
    pub variables: Vec<SecretVariable>,
    /// Names given with `--secret` that no variable of the run has.
    pub unknown: Vec<String>,
}

impl Secrets {
    /// Every value to mask, at least [`MIN_SECRET_LEN`] characters long, longest first.
    pub fn values(&self) -> Vec<String> {
        let unique: BTreeSet<&String> = self
            .variables
            .iter()
            .flat_map(|v| &v.values)
            .filter(|v| is_long_enough(v))
            .collect();
        let mut values: Vec<String> = unique.into_iter().cloned().collect();
        values.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        values
    }

    /// Adds the credentials of a URI given outside the configuration (`--mongo-uri`).
    pub fn add_uri(&mut self, name: &str, uri: &str) {
        let values = uri_credentials(uri);
        if !values.is_empty() {
            self.variables.push(SecretVariable {
                name: name.to_string(),
                reason: SecretReason::UriCredentials,
                values,
            });
        }
    }
}

impl TestConfig {
    /// The run's secrets: see the module docs. `flagged` are the names given with `--secret`.
    pub fn secrets(&self, flagged: &[String]) -> Secrets {
        let mut found: BTreeSet<(String, SecretReason, Vec<String>)> = BTreeSet::new();
        let mut add = |name: &str, reason: SecretReason, value: &String| {
            let values = match reason {
                SecretReason::UriCredentials => uri_credentials(value),
                _ => vec![value.clone()],
            };
            found.insert((name.to_string(), reason, values));
        };
        let environments =
            std::iter::once(&self.env).chain(self.workers.iter().map(|worker| &worker.env));
        for env in environments {
            for (name, value) in env {
                if is_secret_name(name) {
                    add(name, SecretReason::Name, value);
                } else if flagged.contains(name) {
                    add(name, SecretReason::Flag, value);
                } else if !uri_credentials(value).is_empty() {
                    add(name, SecretReason::UriCredentials, value);
                }
            }
        }
        for worker in &self.workers {
            let mapped = worker
                .env_vars
                .iter()
                .filter(|(server, _)| server.as_str() != LITERAL_ENV_VAR);
            for (server, source) in mapped {
                if let Some(value) = worker.env.get(server) {
                    let name = format!("{server} <- {source}");
                    add(&name, SecretReason::EnvVars(worker.name.clone()), value);
                }
            }
            for variable in worker.keypairs.values() {
                if let Some(value) = self.env.get(variable) {
                    add(variable, SecretReason::Keypair(worker.name.clone()), value);
                }
            }
        }
        for (name, uri) in [
            ("mongodb.uri", &self.mongodb.uri),
            ("middle_server_url", &self.middle_server_url),
        ] {
            if let Some(uri) = uri {
                add(name, SecretReason::UriCredentials, uri);
            }
        }
        let variables: Vec<SecretVariable> = found
            .into_iter()
            .filter(|(_, _, values)| !values.is_empty())
            .map(|(name, reason, values)| SecretVariable {
                name,
                reason,
                values,
            })
            .collect();
        let known = |name: &String| {
            self.env.contains_key(name) || self.workers.iter().any(|w| w.env.contains_key(name))
        };
        Secrets {
            unknown: flagged.iter().filter(|n| !known(n)).cloned().collect(),
            variables,
        }
    }

    /// [`Secrets::values`] of [`TestConfig::secrets`] without `--secret` names.
    pub fn secret_values(&self) -> Vec<String> {
        self.secrets(&[]).values()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_names_follow_the_documented_patterns() {
        for name in [
            "API_KEY",
            "keypair_path",
            "GITHUB_TOKEN",
            "client_secret",
            "DB_PASSWORD",
            "MONGO_PASS",
        ] {
            assert!(is_secret_name(name), "{name}");
        }
        for name in ["NODE_ENV", "PASSAGE", "HOME", "TASK_ID", "PATH"] {
            assert!(!is_secret_name(name), "{name}");
        }
    }

    #[test]
    fn uri_credentials_are_the_password_or_a_lone_user() {
        assert_eq!(
            uri_credentials("mongodb://admin:p%40ss@h1:27017,h2/db?x=1"),
            ["p%40ss", "p@ss"]
        );
        assert_eq!(uri_credentials("https://ghp_abc@github.com/x"), ["ghp_abc"]);
        assert!(uri_credentials("mongodb://localhost:27017/a@b").is_empty());
        assert!(uri_credentials("plain text").is_empty());
    }
}
