//! [`Proxies`]: one loopback TCP proxy per worker that a network fault may degrade. Steps
//! and the other workers reach the worker through its proxy; with no fault set, bytes pass
//! untouched. A [`NetworkFault`] set on a proxy (the names follow Toxiproxy's toxics):
//!
//! - `latency_ms` ± `jitter_ms`: every chunk the worker sends back waits that long (so an
//!   answer comes at least `latency_ms - jitter_ms` later than it would);
//! - `bandwidth_kbps`: both directions pass at most that many KiB per second;
//! - `reset_rate`: that share of new connections is reset at once (RST, no answer);
//! - `http_error`: that share of new connections gets `HTTP/1.1 <status>` from the proxy
//!   itself, after it read the request's head, and is closed;
//! - `hang`: connections are accepted and never answered (held until the client gives up).
//!
//! Setting or clearing a fault closes the connections open through the proxy, so that a
//! pooled keep-alive connection cannot carry a request past it. Every random decision
//! (which connection is reset or answered with an error, each jitter) is drawn from one
//! seeded generator per proxy: a run with the same seed and the same traffic decides the
//! same way.
//!
//! Only loopback: each proxy listens on 127.0.0.1 (an ephemeral port) and connects to
//! `127.0.0.1:<the worker's port>`.

use std::collections::BTreeMap;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::config::{FaultScope, NetworkFault};

/// Bytes read at once from either side: also the unit a delay or a bandwidth cap applies to.
const CHUNK_BYTES: usize = 16 * 1024;

/// Most bytes of a request head read before an `http_error` answer: a head that is not
/// done by then is answered anyway.
const REQUEST_HEAD_MAX_BYTES: usize = 64 * 1024;

/// How long the proxy waits for a request head before it answers an `http_error` anyway.
const REQUEST_HEAD_TIMEOUT: Duration = Duration::from_secs(5);

/// The pause after a failed accept (out of file descriptors): the loop must not spin.
const ACCEPT_RETRY: Duration = Duration::from_millis(50);

/// A fault in force on one proxy, and how long it lasts.
#[derive(Debug, Clone)]
struct Active {
    fault: NetworkFault,
    scope: FaultScope,
}

/// One worker's proxy.
struct Proxy {
    /// The worker's port on 127.0.0.1.
    upstream: u16,
    /// The port the proxy listens on.
    port: u16,
    /// The bound listener, until [`Proxies::serve`] takes it.
    listener: Mutex<Option<std::net::TcpListener>>,
    /// The fault in force; the generation counter closes open connections on a change.
    fault: watch::Sender<(u64, Option<Active>)>,
    /// Every random decision of this proxy.
    rng: Mutex<StdRng>,
}

impl Proxy {
    fn current(&self) -> Option<NetworkFault> {
        self.fault.borrow().1.as_ref().map(|a| a.fault.clone())
    }

    fn draw<T>(&self, f: impl FnOnce(&mut StdRng) -> T) -> T {
        f(&mut self.rng.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn replace(&self, active: Option<Active>) {
        self.fault.send_modify(|(generation, fault)| {
            *generation += 1;
            *fault = active;
        });
    }
}

/// The run's proxies, by worker name. Cheap to share behind an `Arc`.
pub struct Proxies {
    proxies: BTreeMap<String, Arc<Proxy>>,
    seed: u64,
}

impl std::fmt::Debug for Proxies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proxies")
            .field("workers", &self.proxies.keys().collect::<Vec<_>>())
            .field("seed", &self.seed)
            .finish()
    }
}

impl Proxies {
    /// Binds a proxy for each `(worker, port)` on an ephemeral loopback port, now (so that
    /// the address can go into the workers' environment and the steps' URLs before
    /// anything starts); [`Proxies::serve`] starts accepting. Proxy `i`'s generator is
    /// seeded from `seed` and `i`.
    pub fn bind(workers: &[(String, u16)], seed: u64) -> io::Result<Self> {
        let mut proxies = BTreeMap::new();
        for (index, (name, upstream)) in workers.iter().enumerate() {
            let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
            listener.set_nonblocking(true)?;
            let port = listener.local_addr()?.port();
            let stream = seed.wrapping_add(index as u64);
            proxies.insert(
                name.clone(),
                Arc::new(Proxy {
                    upstream: *upstream,
                    port,
                    listener: Mutex::new(Some(listener)),
                    fault: watch::channel((0, None)).0,
                    rng: Mutex::new(StdRng::seed_from_u64(stream)),
                }),
            );
        }
        Ok(Self { proxies, seed })
    }

    /// The seed every random decision comes from.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The workers that have a proxy.
    pub fn workers(&self) -> impl Iterator<Item = &str> {
        self.proxies.keys().map(String::as_str)
    }

    /// The loopback port of `worker`'s proxy.
    pub fn port(&self, worker: &str) -> Option<u16> {
        self.proxies.get(worker).map(|p| p.port)
    }

    /// Starts accepting on every proxy; the accept loops end with the runtime. Call once,
    /// from inside the tokio runtime.
    pub fn serve(&self) -> io::Result<()> {
        for proxy in self.proxies.values() {
            let Some(listener) = proxy
                .listener
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take()
            else {
                continue;
            };
            let listener = TcpListener::from_std(listener)?;
            let proxy = Arc::clone(proxy);
            tokio::spawn(async move {
                loop {
                    let Ok((client, _)) = listener.accept().await else {
                        // Out of file descriptors, most likely: wait instead of spinning.
                        tokio::time::sleep(ACCEPT_RETRY).await;
                        continue;
                    };
                    let proxy = Arc::clone(&proxy);
                    tokio::spawn(async move { connection(client, proxy).await });
                }
            });
        }
        Ok(())
    }

    /// Sets `fault` on its worker's proxy until `scope` ends ([`Proxies::expire`]); an
    /// all-clear fault clears it. Open connections through the proxy are closed.
    ///
    /// # Errors
    /// The worker has no proxy in this run (only workers named by a network fault of the
    /// schedule have one).
    pub fn set(&self, fault: NetworkFault, scope: FaultScope) -> Result<(), String> {
        let proxy = self.proxies.get(&fault.worker).ok_or_else(|| {
            format!(
                "worker `{}` has no fault proxy in this run (workers with one: {})",
                fault.worker,
                self.workers().collect::<Vec<_>>().join(", ")
            )
        })?;
        let active = (!fault.is_clear()).then_some(Active { fault, scope });
        proxy.replace(active);
        Ok(())
    }

    /// Clears the fault on `worker`'s proxy; returns whether one was in force.
    pub fn clear(&self, worker: &str) -> bool {
        match self.proxies.get(worker) {
            Some(proxy) if proxy.fault.borrow().1.is_some() => {
                proxy.replace(None);
                true
            }
            _ => false,
        }
    }

    /// Ends the faults that last `scope` (a step or a round ended; `Run` ends them all);
    /// returns the workers whose link is restored.
    pub fn expire(&self, scope: FaultScope) -> Vec<String> {
        let mut restored = Vec::new();
        for (name, proxy) in &self.proxies {
            let ends = proxy
                .fault
                .borrow()
                .1
                .as_ref()
                .is_some_and(|a| a.scope == scope || scope == FaultScope::Run);
            if ends {
                proxy.replace(None);
                restored.push(name.clone());
            }
        }
        restored
    }
}

/// One client connection: decided once (reset, error, hang or pass), then passed on with
/// the delays and caps of the fault in force, until either side closes or the fault
/// changes.
async fn connection(client: TcpStream, proxy: Arc<Proxy>) {
    let mut changes = proxy.fault.subscribe();
    let _ = changes.borrow_and_update();
    let fault = proxy.current();
    if let Some(fault) = &fault {
        if fault.hang {
            hold(client, &mut changes).await;
            return;
        }
        let reset = fault.reset_rate > 0.0 && proxy.draw(|r| r.random_bool(fault.reset_rate));
        if reset {
            // Linger 0: close() sends RST instead of FIN.
            let _ = client.set_zero_linger();
            drop(client);
            return;
        }
        if let Some(error) = fault.http_error
            && error.rate > 0.0
            && proxy.draw(|r| r.random_bool(error.rate))
        {
            answer_error(client, error.status).await;
            return;
        }
    }
    let Ok(upstream) =
        TcpStream::connect(SocketAddr::from((Ipv4Addr::LOCALHOST, proxy.upstream))).await
    else {
        // The worker is down (killed by a fault): the client sees the connection close,
        // as it would see a refused connection.
        let _ = client.set_zero_linger();
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = upstream.set_nodelay(true);
    let (client_read, client_write) = client.into_split();
    let (upstream_read, upstream_write) = upstream.into_split();
    let to_worker = pump(client_read, upstream_write, &proxy, false);
    let to_client = pump(upstream_read, client_write, &proxy, true);
    tokio::select! {
        _ = async { tokio::join!(to_worker, to_client) } => {}
        _ = changes.changed() => {}
    }
}

/// Copies `from` to `to` chunk by chunk; answers (`delayed`) wait the fault's latency, and
/// both directions keep to its bandwidth. The fault is read per chunk.
async fn pump(
    mut from: impl AsyncRead + Unpin,
    mut to: impl AsyncWrite + Unpin,
    proxy: &Proxy,
    delayed: bool,
) {
    let mut buffer = vec![0u8; CHUNK_BYTES];
    loop {
        let n = match from.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if let Some(fault) = proxy.current() {
            let mut wait = Duration::ZERO;
            if delayed && fault.latency_ms > 0 {
                let jitter = fault.jitter_ms as i64;
                let offset = if jitter > 0 {
                    proxy.draw(|r| r.random_range(-jitter..=jitter))
                } else {
                    0
                };
                let ms = (fault.latency_ms as i64 + offset).max(0) as u64;
                wait += Duration::from_millis(ms);
            }
            if let Some(kbps) = fault.bandwidth_kbps {
                wait += Duration::from_secs_f64(n as f64 / (kbps as f64 * 1024.0));
            }
            if !wait.is_zero() {
                tokio::time::sleep(wait).await;
            }
        }
        if to.write_all(&buffer[..n]).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}

/// Holds a connection without answering until the client closes it or the fault changes;
/// what the client sends is read and dropped, so it never blocks on a full buffer.
async fn hold(mut client: TcpStream, changes: &mut watch::Receiver<(u64, Option<Active>)>) {
    let mut sink = vec![0u8; CHUNK_BYTES];
    loop {
        tokio::select! {
            read = client.read(&mut sink) => {
                if matches!(read, Ok(0) | Err(_)) {
                    return;
                }
            }
            _ = changes.changed() => return,
        }
    }
}

/// Reads the request's head (bounded in size and time), answers `status` and closes.
async fn answer_error(mut client: TcpStream, status: u16) {
    let mut head = Vec::new();
    let mut buffer = [0u8; 4096];
    let _ = tokio::time::timeout(REQUEST_HEAD_TIMEOUT, async {
        while head.len() < REQUEST_HEAD_MAX_BYTES {
            match client.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => head.extend_from_slice(&buffer[..n]),
            }
            if head.windows(4).any(|w| w == b"\r\n\r\n") {
                break;
            }
        }
    })
    .await;
    let body = format!("{{\"message\": \"fault injected by prometheus-wasm: HTTP {status}\"}}");
    let answer = format!(
        "HTTP/1.1 {status} Injected Fault\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = client.write_all(answer.as_bytes()).await;
    let _ = client.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn latency(worker: &str) -> NetworkFault {
        NetworkFault {
            worker: worker.into(),
            latency_ms: 10,
            ..NetworkFault::default()
        }
    }

    #[test]
    fn faults_end_with_their_scope() {
        let proxies = Proxies::bind(&[("w1".into(), 1), ("w2".into(), 2)], 5).expect("bind");
        proxies.set(latency("w1"), FaultScope::Step).expect("w1");
        proxies.set(latency("w2"), FaultScope::Round).expect("w2");
        assert_eq!(proxies.expire(FaultScope::Step), ["w1"]);
        assert!(proxies.expire(FaultScope::Step).is_empty());
        assert_eq!(proxies.expire(FaultScope::Run), ["w2"]);
        assert!(!proxies.clear("w2"), "nothing left to clear");
        let err = proxies
            .set(latency("w3"), FaultScope::Run)
            .expect_err("no proxy");
        assert!(err.contains("workers with one: w1, w2"), "{err}");
    }

    #[test]
    fn the_same_seed_makes_the_same_decisions() {
        let draws = |seed| {
            let proxies = Proxies::bind(&[("w1".into(), 1)], seed).expect("bind");
            let proxy = &proxies.proxies["w1"];
            (0..8)
                .map(|_| proxy.draw(|r| r.random_bool(0.5)))
                .collect::<Vec<_>>()
        };
        assert_eq!(draws(42), draws(42));
        assert_ne!(draws(42), draws(43), "another seed, other decisions");
    }
}
