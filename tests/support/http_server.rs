//! A tiny HTTP file server for the `url:` package tests: serves fixed bodies on
//! 127.0.0.1, counts requests (so a test can prove a run did not touch the network), and
//! can cut a body short to act out an interrupted download.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// What a path answers.
#[derive(Clone)]
pub enum Body {
    /// The bytes, whole.
    Full(Vec<u8>),
    /// A Content-Length of the whole, then only the first half, then the connection closes.
    Truncated(Vec<u8>),
    /// HTTP 302 to this location (a path of this server or another URL).
    Redirect(String),
    /// HTTP with this status and an empty body (401, 403, 500…).
    Status(u16),
    /// A Content-Length, then nothing: the connection stays open, silent, for a minute.
    Stall,
}

/// A running server; it stops with the test process.
pub struct FileServer {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    routes: Arc<Mutex<HashMap<String, Body>>>,
    requests: Arc<AtomicUsize>,
}

impl FileServer {
    /// Starts an empty server on a free port.
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let routes: Arc<Mutex<HashMap<String, Body>>> = Arc::default();
        let requests = Arc::new(AtomicUsize::new(0));
        let (r, n) = (routes.clone(), requests.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut line = String::new();
                let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                if reader.read_line(&mut line).is_err() {
                    continue;
                }
                // Drain the headers.
                let mut header = String::new();
                while reader.read_line(&mut header).is_ok_and(|n| n > 2) {
                    header.clear();
                }
                n.fetch_add(1, Ordering::SeqCst);
                let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
                let body = r.lock().expect("routes").get(&path).cloned();
                let _ = match body {
                    None => stream.write_all(
                        b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                    ),
                    Some(Body::Full(bytes)) => stream
                        .write_all(
                            format!(
                                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                                bytes.len()
                            )
                            .as_bytes(),
                        )
                        .and_then(|_| stream.write_all(&bytes)),
                    Some(Body::Truncated(bytes)) => stream
                        .write_all(
                            format!(
                                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                                bytes.len()
                            )
                            .as_bytes(),
                        )
                        .and_then(|_| stream.write_all(&bytes[..bytes.len() / 2])),
                    Some(Body::Redirect(location)) => stream.write_all(
                        format!(
                            "HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                        )
                        .as_bytes(),
                    ),
                    Some(Body::Status(code)) => stream.write_all(
                        format!(
                            "HTTP/1.1 {code} Status\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                        )
                        .as_bytes(),
                    ),
                    Some(Body::Stall) => {
                        let _ = stream.write_all(
                            b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nConnection: close\r\n\r\n",
                        );
                        // Held open without a byte, on its own thread so other requests go on.
                        std::thread::spawn(move || {
                            std::thread::sleep(std::time::Duration::from_secs(60));
                            drop(stream);
                        });
                        Ok(())
                    }
                };
            }
        });
        Self {
            base,
            routes,
            requests,
        }
    }

    /// Serves `body` at `path` (`/audit.wasm`), replacing what was there.
    pub fn serve(&self, path: &str, body: Body) {
        self.routes
            .lock()
            .expect("routes")
            .insert(path.to_string(), body);
    }

    /// The URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// How many requests arrived so far.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}
