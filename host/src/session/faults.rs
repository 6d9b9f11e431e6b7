//! `run`'s network fault setup: the seed, and a loopback proxy for each worker a network
//! fault of the schedule names. Once the proxies are bound, the steps' view of those
//! workers (`url`, and with it the HTTP allowlist) points at the proxy, and every local
//! worker finds each proxied worker's address in its environment as
//! `PROMETHEUS_WORKER_<NAME>_URL`, so that worker-to-worker traffic can pass through it.
//! A run whose schedule has no network fault binds nothing and changes nothing.

use std::sync::Arc;

use crate::config::{FaultAction, TestConfig};
use crate::error::UserError;
use crate::workers::Proxies;

/// The environment variable that tells workers where `worker` is reached:
/// `PROMETHEUS_WORKER_<NAME>_URL`, the name upper-cased with every character that is not
/// a letter or digit as `_`.
pub(crate) fn peer_variable(worker: &str) -> String {
    let name: String = worker
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("PROMETHEUS_WORKER_{name}_URL")
}

/// The seed given, or a fresh random one.
pub(crate) fn seed(given: Option<u64>) -> u64 {
    // A seed that cannot be drawn is not worth failing a run over: the banner prints the
    // one used either way.
    given.unwrap_or_else(|| getrandom::u64().unwrap_or(0x5eed))
}

/// Binds the proxies the schedule needs (every worker's when steps may apply faults:
/// `faults_from_steps: true`) and points `config`'s workers at them; `None` when no
/// network fault is possible.
pub(crate) fn proxies(
    config: &mut TestConfig,
    seed: u64,
) -> Result<Option<Arc<Proxies>>, UserError> {
    let mut named: Vec<(String, u16)> = Vec::new();
    // A step granted faults may degrade any worker's link, decided at run time.
    if config.faults_from_steps() {
        // External workers' traffic does not pass a proxy of ours: they get none.
        named.extend(
            config
                .workers
                .iter()
                .filter(|w| !w.is_external())
                .map(|w| (w.name.clone(), w.port)),
        );
    }
    for fault in &config.faults {
        if let FaultAction::Network(n) = &fault.action
            && !named.iter().any(|(w, _)| *w == n.worker)
            && let Some(worker) = config.worker(&n.worker)
        {
            named.push((worker.name.clone(), worker.port));
        }
    }
    if named.is_empty() {
        return Ok(None);
    }
    let proxies = Proxies::bind(&named, seed).map_err(|e| {
        UserError::usage(
            format!("cannot bind a loopback port for the fault proxies: {e}"),
            Some("free a port on 127.0.0.1, or remove the network faults from config.yaml".into()),
        )
    })?;
    proxies.serve().map_err(|e| {
        UserError::usage(
            format!("cannot start the fault proxies: {e}"),
            Some("remove the network faults from config.yaml".into()),
        )
    })?;
    let mut peers = Vec::new();
    for worker in &mut config.workers {
        if let Some(port) = proxies.port(&worker.name) {
            let url = format!("http://localhost:{port}");
            worker.url = url.clone();
            worker.data.insert("url".into(), url.clone().into());
            peers.push((peer_variable(&worker.name), url));
        }
    }
    for worker in config.workers.iter_mut().filter(|w| !w.is_external()) {
        worker.env.extend(peers.iter().cloned());
    }
    Ok(Some(Arc::new(proxies)))
}

/// `faults: 3 scheduled; network decisions from seed 42 (--seed 42 repeats them); proxy
/// worker1 localhost:40123 → :5600`.
pub(crate) fn banner(config: &TestConfig, proxies: Option<&Proxies>, seed: u64) -> String {
    let mut line = format!("faults: {} scheduled", config.faults.len());
    if config.faults_from_steps() {
        line.push_str(", steps may apply more (faults_from_steps)");
    }
    if let Some(proxies) = proxies {
        line.push_str(&format!(
            "; network decisions from seed {seed} (--seed {seed} repeats them); proxies: {}",
            proxies
                .workers()
                .filter_map(|w| {
                    let real = config.worker(w)?.port;
                    Some(format!("{w} localhost:{} → :{real}", proxies.port(w)?))
                })
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_variables_are_shell_names() {
        assert_eq!(peer_variable("worker1"), "PROMETHEUS_WORKER_WORKER1_URL");
        assert_eq!(
            peer_variable("audit-2.b"),
            "PROMETHEUS_WORKER_AUDIT_2_B_URL"
        );
    }
}
