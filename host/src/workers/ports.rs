//! The loopback ports: free before the workers start, accepting once they are ready.
//!
//! Both checks look at 127.0.0.1 and `[::1]`, so that a stale worker listening on either
//! address is caught before the run instead of being mistaken for a fresh one.

use std::collections::HashMap;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener};
use std::time::Duration;

use tokio::net::TcpStream;

use super::error::{WorkerError, WorkerErrorKind};
use super::spec::LaunchSpec;

/// Longest wait for one connection attempt. On loopback a connect is answered at once
/// (accepted or refused); this only bounds a full accept backlog, where the kernel drops
/// the SYN and the client would retry for a minute.
const CONNECT_ATTEMPT_TIMEOUT: Duration = Duration::from_millis(500);

/// The loopback addresses a worker may listen on, in the order they are tried.
fn loopback(port: u16) -> [SocketAddr; 2] {
    [
        SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
        SocketAddr::from((Ipv6Addr::LOCALHOST, port)),
    ]
}

/// Fails with the first worker (in `specs` order) whose port is 0, shared with an earlier
/// worker, or already in use. Binds each port briefly and releases it.
pub(super) fn check_ports_free(specs: &[LaunchSpec]) -> Result<(), WorkerError> {
    let mut owners: HashMap<u16, &str> = HashMap::new();
    for spec in specs {
        if spec.port == 0 {
            return Err(WorkerError::new(&spec.name, WorkerErrorKind::InvalidPort));
        }
        if let Some(other) = owners.insert(spec.port, &spec.name) {
            return Err(WorkerError::new(
                &spec.name,
                WorkerErrorKind::DuplicatePort {
                    port: spec.port,
                    other: other.to_owned(),
                },
            ));
        }
        if is_in_use(spec.port) {
            return Err(WorkerError::new(
                &spec.name,
                WorkerErrorKind::PortInUse { port: spec.port },
            ));
        }
    }
    Ok(())
}

/// True if binding the port on a loopback address fails because it is taken. Other bind
/// errors (no IPv6 on this host, a privileged port) say nothing about a stale listener, so
/// they do not count: the worker itself will report them.
fn is_in_use(port: u16) -> bool {
    loopback(port).into_iter().any(|address| {
        // std sets SO_REUSEADDR, so a socket of a finished run in TIME_WAIT does not count
        // as in use; only a live listener does. The listener is dropped at once.
        matches!(TcpListener::bind(address), Err(e) if e.kind() == io::ErrorKind::AddrInUse)
    })
}

/// True if something accepts TCP connections on the port, on 127.0.0.1 or `[::1]`.
pub(super) async fn accepts_connections(port: u16) -> bool {
    for address in loopback(port) {
        if let Ok(Ok(_stream)) =
            tokio::time::timeout(CONNECT_ATTEMPT_TIMEOUT, TcpStream::connect(address)).await
        {
            // Dropping the stream closes it; HTTP servers see an empty connection and
            // do not log it.
            return true;
        }
    }
    false
}
