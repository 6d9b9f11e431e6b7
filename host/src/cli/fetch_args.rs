//! The options every command that fetches packages shares (`run`, `lock`, `push`, `pull`):
//! offline mode, registry credentials, plain HTTP; and the [`Resolver`] they configure.

use std::io::Read;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::anyhow;
use clap::Args;

use crate::cli::UserError;
use crate::fetch::{
    CredentialSources, Credentials, FETCH_DEADLINE, MAX_PACKAGE_BYTES, READ_TIMEOUT,
    RegistryOptions, Resolver,
};

/// How to reach registries.
#[derive(Debug, Clone, Args)]
pub struct RegistryArgs {
    /// Registry user name; the password is read from stdin (--password-stdin). They go to
    /// the registry of `push`/`pull`'s reference, or to $PROMETHEUS_WASM_REGISTRY only
    /// [default: $PROMETHEUS_WASM_REGISTRY_USERNAME/_PASSWORD for that registry, else the
    /// Docker config.json's entry for each registry].
    #[arg(long, value_name = "USER", requires = "password_stdin")]
    pub username: Option<String>,

    /// Read the registry password (or token) from stdin, never from the command line.
    #[arg(long, requires = "username")]
    pub password_stdin: bool,

    /// Allow plain HTTP to registries and package URLs that are not on this machine
    /// (localhost and 127.0.0.1 always may use it).
    #[arg(long)]
    pub insecure: bool,

    /// The largest package fetched, in MiB; a bigger one fails before it is stored.
    #[arg(long, value_name = "MIB", default_value_t = MAX_PACKAGE_BYTES >> 20,
          value_parser = clap::value_parser!(u64).range(1..=4096))]
    pub max_package_mib: u64,

    /// How long one read from a package host or registry may stall, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = READ_TIMEOUT.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..))]
    pub fetch_timeout: u64,

    /// How long one whole download, pull or push may take, in seconds (a server that
    /// trickles bytes ends here).
    #[arg(long, value_name = "SECS", default_value_t = FETCH_DEADLINE.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..))]
    pub fetch_deadline: u64,
}

impl RegistryArgs {
    /// The registry options, reading the password from stdin when asked.
    pub fn options(&self) -> Result<RegistryOptions, UserError> {
        let explicit = match &self.username {
            Some(username) if self.password_stdin => {
                let mut password = String::new();
                std::io::stdin()
                    .read_to_string(&mut password)
                    .map_err(|e| {
                        UserError::usage(anyhow!("cannot read the password from stdin: {e}"), None)
                    })?;
                Some(Credentials {
                    username: username.clone(),
                    password: password.trim_end_matches(['\r', '\n']).to_string(),
                })
            }
            _ => None,
        };
        Ok(RegistryOptions {
            credentials: CredentialSources::new(explicit),
            insecure: self.insecure,
            max_bytes: self.max_package_mib << 20,
            read_timeout: Duration::from_secs(self.fetch_timeout),
            deadline: Duration::from_secs(self.fetch_deadline),
        })
    }
}

/// Where fetched packages come from.
#[derive(Debug, Clone, Args)]
pub struct FetchArgs {
    /// Use only packages already in the package store: never touch the network.
    #[arg(long)]
    pub offline: bool,

    /// Registry options.
    #[command(flatten)]
    pub registry: RegistryArgs,
}

impl FetchArgs {
    /// A resolver with its package store under the cache directory.
    pub fn resolver(&self, cache_dir: Option<PathBuf>) -> Result<Resolver, UserError> {
        crate::session::source::resolver(cache_dir, self.offline, self.registry.options()?)
    }
}
