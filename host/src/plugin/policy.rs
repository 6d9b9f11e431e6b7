//! The outbound HTTP allowlist: parsed origins, derived from the test topology.
//!
//! Deny by default. A request is allowed when its URL's scheme, host and port (after
//! parsing, never from a `Host` header) match one of the allowed origins. The check runs
//! before any connection is made and again on every redirect.

use std::fmt;

use url::Url;

/// A host pattern: an exact name or address, `*.domain` (any subdomain), or `*`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum HostPattern {
    Exact(String),
    Subdomains(String),
    Any,
}

/// One allowed origin, e.g. `http://localhost:5000` or `https://*.example.com:*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginPattern {
    /// `None` allows both http and https.
    scheme: Option<String>,
    host: HostPattern,
    /// `None` means any port.
    port: Option<u16>,
    /// Where the entry came from, e.g. `worker worker1` or `allowed_hosts`.
    source: String,
}

impl OriginPattern {
    /// Parses `[scheme://]host[:port]`; `host` may be `*` or start with `*.`, `port` may be
    /// `*`. Without a port, the scheme's default port is meant (80 for http, 443 for https;
    /// both when no scheme is given).
    pub fn parse(text: &str, source: &str) -> Result<Self, String> {
        let text = text.trim().trim_end_matches('/');
        let (scheme, rest) = match text.split_once("://") {
            Some((s, rest)) => {
                let s = s.to_ascii_lowercase();
                if s != "http" && s != "https" {
                    return Err(format!("`{text}`: only http and https are supported"));
                }
                (Some(s), rest)
            }
            None => (None, text),
        };
        if rest.contains('/') || rest.contains('@') || rest.is_empty() {
            return Err(format!(
                "`{text}`: expected scheme://host[:port] without a path or user info"
            ));
        }
        let (host, port) = split_host_port(rest);
        let port = match port {
            None => None,
            Some("*") => None,
            Some(p) => Some(
                p.parse::<u16>()
                    .map_err(|_| format!("`{text}`: `{p}` is not a port number"))?,
            ),
        };
        let host = host.to_ascii_lowercase();
        let host = if host == "*" {
            HostPattern::Any
        } else if let Some(domain) = host.strip_prefix("*.") {
            HostPattern::Subdomains(domain.to_string())
        } else if host.contains('*') {
            return Err(format!(
                "`{text}`: `*` is allowed only as the whole host or as a `*.` prefix"
            ));
        } else {
            HostPattern::Exact(host)
        };
        // An explicit `:*` means any port; no port at all means the default port(s).
        let port = match (port, rest.ends_with(":*")) {
            (Some(p), _) => Some(p),
            (None, true) => None,
            (None, false) => match scheme.as_deref() {
                Some("https") => Some(443),
                Some(_) => Some(80),
                None => None,
            },
        };
        Ok(Self {
            scheme,
            host,
            port,
            source: source.to_string(),
        })
    }

    /// The origin of a URL (a worker's `url`, `middle_server_url`).
    pub fn from_url(url: &str, source: &str) -> Result<Self, String> {
        let parsed = Url::parse(url).map_err(|e| format!("`{url}`: {e}"))?;
        let host = parsed
            .host_str()
            .ok_or_else(|| format!("`{url}` has no host"))?
            .to_ascii_lowercase();
        Ok(Self {
            scheme: Some(parsed.scheme().to_string()),
            host: HostPattern::Exact(host),
            port: parsed.port_or_known_default(),
            source: source.to_string(),
        })
    }

    fn matches(&self, scheme: &str, host: &str, port: u16) -> bool {
        if self.scheme.as_deref().is_some_and(|s| s != scheme) {
            return false;
        }
        if self.port.is_some_and(|p| p != port) {
            return false;
        }
        match &self.host {
            HostPattern::Any => true,
            HostPattern::Exact(h) => h == host,
            HostPattern::Subdomains(d) => host
                .strip_suffix(d.as_str())
                .is_some_and(|prefix| prefix.ends_with('.')),
        }
    }
}

fn split_host_port(rest: &str) -> (&str, Option<&str>) {
    if let Some(stripped) = rest.strip_prefix('[') {
        // IPv6 literal: [::1]:8080
        if let Some((addr, after)) = stripped.split_once(']') {
            let port = after.strip_prefix(':');
            return (&rest[..addr.len() + 2], port);
        }
    }
    match rest.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (rest, None),
    }
}

impl fmt::Display for OriginPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(s) = &self.scheme {
            write!(f, "{s}://")?;
        }
        match &self.host {
            HostPattern::Any => f.write_str("*")?,
            HostPattern::Exact(h) => f.write_str(h)?,
            HostPattern::Subdomains(d) => write!(f, "*.{d}")?,
        }
        match self.port {
            Some(p) => write!(f, ":{p}"),
            None => f.write_str(":*"),
        }
    }
}

/// Why a URL was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{url}: {origin} is not an allowed destination for this test; add `{origin}` to allowed_hosts in config.yaml to allow it"
)]
pub struct Denied {
    /// The refused URL.
    pub url: String,
    /// Its origin, as it would be written in `allowed_hosts`.
    pub origin: String,
}

/// The set of origins a step may send HTTP requests to.
#[derive(Debug, Clone, Default)]
pub struct NetworkPolicy {
    allowed: Vec<OriginPattern>,
}

/// Host names that name this machine's loopback interface: a worker at
/// `http://localhost:P` is equally reachable as `127.0.0.1:P` and `[::1]:P`.
const LOOPBACK_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "[::1]"];

impl NetworkPolicy {
    /// A policy that allows nothing.
    pub fn deny_all() -> Self {
        Self::default()
    }

    /// Allows the origin of `url`; a loopback URL also allows the other loopback spellings
    /// of the same port.
    pub fn allow_url(&mut self, url: &str, source: &str) -> Result<(), String> {
        let origin = OriginPattern::from_url(url, source)?;
        if let HostPattern::Exact(h) = &origin.host
            && LOOPBACK_NAMES.contains(&h.as_str())
        {
            for name in LOOPBACK_NAMES {
                let mut alias = origin.clone();
                alias.host = HostPattern::Exact(name.to_string());
                self.allowed.push(alias);
            }
            return Ok(());
        }
        self.allowed.push(origin);
        Ok(())
    }

    /// Allows an `allowed_hosts` entry (see [`OriginPattern::parse`]).
    pub fn allow_pattern(&mut self, pattern: &str, source: &str) -> Result<(), String> {
        self.allowed.push(OriginPattern::parse(pattern, source)?);
        Ok(())
    }

    /// The allowed origins, for `check` and error messages.
    pub fn origins(&self) -> impl Iterator<Item = &OriginPattern> {
        self.allowed.iter()
    }

    /// Checks a parsed URL against the allowlist.
    pub fn check(&self, url: &Url) -> Result<(), Denied> {
        let scheme = url.scheme();
        let host = match url.host() {
            Some(url::Host::Ipv6(addr)) => format!("[{addr}]"),
            Some(h) => h.to_string().to_ascii_lowercase(),
            None => String::new(),
        };
        let port = url.port_or_known_default().unwrap_or(0);
        let allowed = (scheme == "http" || scheme == "https")
            && self.allowed.iter().any(|o| o.matches(scheme, &host, port));
        if allowed {
            Ok(())
        } else {
            Err(Denied {
                url: url.to_string(),
                origin: format!("{scheme}://{host}:{port}"),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> NetworkPolicy {
        let mut p = NetworkPolicy::deny_all();
        p.allow_url("http://localhost:5000", "worker worker1")
            .unwrap();
        p.allow_pattern("https://*.example.com", "allowed_hosts")
            .unwrap();
        p.allow_pattern("http://api.test:*", "allowed_hosts")
            .unwrap();
        p
    }

    fn check(p: &NetworkPolicy, url: &str) -> Result<(), Denied> {
        p.check(&Url::parse(url).unwrap())
    }

    #[test]
    fn worker_origin_allows_all_loopback_spellings() {
        let p = policy();
        assert!(check(&p, "http://localhost:5000/health").is_ok());
        assert!(check(&p, "http://127.0.0.1:5000/x").is_ok());
        assert!(check(&p, "http://[::1]:5000/x").is_ok());
        assert!(check(&p, "http://127.0.0.1:5001/x").is_err());
        assert!(check(&p, "https://localhost:5000/x").is_err());
    }

    #[test]
    fn an_external_worker_url_allows_its_origin_only() {
        // External workers are granted like local ones, by the origin of their `url`; a
        // path prefix does not narrow it, and no loopback alias is added for other hosts.
        let mut p = NetworkPolicy::deny_all();
        p.allow_url("https://staging.test/w1", "worker w1").unwrap();
        p.allow_url("http://worker2:8080", "worker w2").unwrap();
        assert!(check(&p, "https://staging.test/w1/health").is_ok());
        assert!(check(&p, "https://staging.test/other").is_ok());
        assert!(check(&p, "http://staging.test/w1").is_err());
        assert!(check(&p, "http://worker2:8080/greetings").is_ok());
        assert!(check(&p, "http://worker2:8081/").is_err());
        assert!(check(&p, "http://localhost:8080/").is_err());
    }

    #[test]
    fn wildcards_match_subdomains_and_ports_only() {
        let p = policy();
        assert!(check(&p, "https://a.example.com/").is_ok());
        assert!(check(&p, "https://a.b.example.com/").is_ok());
        assert!(check(&p, "https://example.com/").is_err());
        assert!(check(&p, "https://evilexample.com/").is_err());
        assert!(check(&p, "https://a.example.com:8443/").is_err());
        assert!(check(&p, "http://api.test:9999/").is_ok());
        assert!(check(&p, "https://api.test:9999/").is_err());
    }

    #[test]
    fn userinfo_does_not_fool_the_check() {
        let p = policy();
        let err = check(&p, "http://localhost:5000@evil.test:80/").unwrap_err();
        assert_eq!(err.origin, "http://evil.test:80");
        assert!(err.to_string().contains("allowed_hosts"));
    }

    #[test]
    fn other_schemes_are_refused() {
        let p = policy();
        assert!(check(&p, "file:///etc/passwd").is_err());
        assert!(check(&p, "ftp://localhost:5000/").is_err());
    }

    #[test]
    fn bad_patterns_are_rejected() {
        assert!(OriginPattern::parse("gopher://x", "t").is_err());
        assert!(OriginPattern::parse("http://a*b.com", "t").is_err());
        assert!(OriginPattern::parse("http://x.com/path", "t").is_err());
        assert!(OriginPattern::parse("http://x.com:http", "t").is_err());
        assert_eq!(
            OriginPattern::parse("example.com:8080", "t")
                .unwrap()
                .to_string(),
            "example.com:8080"
        );
    }
}
