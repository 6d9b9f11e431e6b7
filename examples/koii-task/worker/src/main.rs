//! `koii-worker`: the worker server of the koii-task example (`examples/koii-task`).
//!
//! It stands in for a Koii task's node server: steps send it Koii-signed payloads
//! (`base58(ed25519_signature || json.dumps(payload, sort_keys=True))`) and it VERIFIES
//! every signature against the staking key the request claims, with the host crate's pure
//! verifier (`prometheus_wasm::koii::verify`), before storing the decoded payload. A bad
//! signature is answered 401 `{"message": "..."}`, like the reference task servers answer
//! errors.
//!
//! It reads `PORT` (required), `WORKER_ID` (default `worker`) and `DATABASE_PATH` (a JSON
//! file the records are kept in, when set; `--reset` deletes `*.db`) from its environment,
//! listens on 127.0.0.1, logs one stdout line per request and exits cleanly on SIGTERM.
//!
//! | Request | Answer |
//! |---|---|
//! | `GET /health` | 200 `{"status":"ok","worker":id}` |
//! | `POST /submit` `{signature, stakingKey}` | 201 the stored record; 401 on a bad signature; 400 when the payload has no `roundNumber` or names another `stakingKey` |
//! | `GET /submission/{round}` | 200 the latest submission of that round `{roundNumber, stakingKey, signature, payload}`, or 404 |
//! | `POST /audit` `{signature, stakingKey}` | 201 the stored audit record, 401/400 as `/submit` |
//! | `GET /audits/{round}` | 200 `{"audits":[...]}` of that round |

use std::path::{Path as FsPath, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex, PoisonError};

use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::{Method, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::signal::unix::{SignalKind, signal};

/// Exit code when `PORT` is missing or not a port: a usage error.
const EXIT_USAGE: u8 = 2;

/// What a record holds: a submission or an audit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Kind {
    Submission,
    Audit,
}

/// A verified, stored signed payload.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Record {
    kind: Kind,
    round_number: u64,
    staking_key: String,
    signature: String,
    /// The payload the signature carries, decoded.
    payload: Value,
}

/// The body of `POST /submit` and `POST /audit`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Signed {
    signature: String,
    staking_key: String,
}

/// Everything the server knows.
#[derive(Clone)]
struct App {
    worker: Arc<str>,
    records: Arc<Mutex<Vec<Record>>>,
    database: Option<Arc<FsPath>>,
}

type Reply = (StatusCode, Json<Value>);

fn failure(status: StatusCode, message: impl Into<String>) -> Reply {
    (status, Json(json!({ "message": message.into() })))
}

/// Reads the saved records; a missing file is an empty database.
fn load_records(path: &FsPath) -> Result<Vec<Record>, String> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map_err(|e| format!("{} is not a koii-worker database: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

/// Saves the records atomically (temp file + rename), so a kill never leaves half a file.
fn save_records(path: &FsPath, records: &[Record]) -> std::io::Result<()> {
    let tmp = path.with_extension("db.tmp");
    std::fs::write(
        &tmp,
        serde_json::to_vec(records).map_err(std::io::Error::other)?,
    )?;
    std::fs::rename(&tmp, path)
}

/// Verifies a signed body and decodes its payload, or the reply that rejects it.
fn open(body: &[u8]) -> Result<(Signed, Value, u64), Reply> {
    let signed: Signed = serde_json::from_slice(body).map_err(|e| {
        failure(
            StatusCode::BAD_REQUEST,
            format!("expected {{signature, stakingKey}}: {e}"),
        )
    })?;
    let text =
        prometheus_wasm::koii::verify(&signed.signature, &signed.staking_key).map_err(|e| {
            failure(
                StatusCode::UNAUTHORIZED,
                format!(
                    "invalid signature for staking key {}: {e}",
                    signed.staking_key
                ),
            )
        })?;
    let payload: Value = serde_json::from_str(&text).map_err(|e| {
        failure(
            StatusCode::BAD_REQUEST,
            format!("the signed payload is not JSON: {e}"),
        )
    })?;
    if payload["stakingKey"] != signed.staking_key.as_str() {
        return Err(failure(
            StatusCode::BAD_REQUEST,
            format!(
                "the signed payload names staking key {}, the request {}",
                payload["stakingKey"], signed.staking_key
            ),
        ));
    }
    let Some(round) = payload["roundNumber"].as_u64() else {
        return Err(failure(
            StatusCode::BAD_REQUEST,
            "the signed payload has no whole-number `roundNumber`",
        ));
    };
    Ok((signed, payload, round))
}

/// Verifies, then stores a record of `kind`.
fn store(app: &App, kind: Kind, body: &[u8]) -> Reply {
    let (signed, payload, round_number) = match open(body) {
        Ok(opened) => opened,
        Err(reply) => return reply,
    };
    let record = Record {
        kind,
        round_number,
        staking_key: signed.staking_key,
        signature: signed.signature,
        payload,
    };
    // A panic elsewhere cannot leave the list half-written, so a poisoned lock is usable.
    let mut records = app.records.lock().unwrap_or_else(PoisonError::into_inner);
    records.push(record.clone());
    if let Some(path) = &app.database
        && let Err(error) = save_records(path, &records)
    {
        return failure(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot save to {}: {error}", path.display()),
        );
    }
    (StatusCode::CREATED, Json(json!(record)))
}

async fn health(State(app): State<App>) -> Reply {
    (
        StatusCode::OK,
        Json(json!({ "status": "ok", "worker": &*app.worker })),
    )
}

async fn submit(State(app): State<App>, body: Bytes) -> Reply {
    store(&app, Kind::Submission, &body)
}

async fn audit(State(app): State<App>, body: Bytes) -> Reply {
    store(&app, Kind::Audit, &body)
}

async fn submission(State(app): State<App>, Path(round): Path<u64>) -> Reply {
    let records = app.records.lock().unwrap_or_else(PoisonError::into_inner);
    match records
        .iter()
        .rev()
        .find(|r| r.kind == Kind::Submission && r.round_number == round)
    {
        Some(record) => (StatusCode::OK, Json(json!(record))),
        None => failure(
            StatusCode::NOT_FOUND,
            format!("{} has no submission for round {round}", app.worker),
        ),
    }
}

async fn audits(State(app): State<App>, Path(round): Path<u64>) -> Reply {
    let records = app.records.lock().unwrap_or_else(PoisonError::into_inner);
    let matching: Vec<&Record> = records
        .iter()
        .filter(|r| r.kind == Kind::Audit && r.round_number == round)
        .collect();
    (StatusCode::OK, Json(json!({ "audits": matching })))
}

async fn no_route(method: Method, uri: Uri) -> Reply {
    failure(
        StatusCode::NOT_FOUND,
        format!("no route {method} {}", uri.path()),
    )
}

/// Prints `METHOD /path STATUS` for every request, after it is answered.
async fn log_request(request: Request, next: Next) -> Response {
    let (method, uri) = (request.method().clone(), request.uri().clone());
    let response = next.run(request).await;
    println!("{method} {uri} {}", response.status().as_u16());
    response
}

fn router(worker: &str, records: Vec<Record>, database: Option<PathBuf>) -> Router {
    let app = App {
        worker: Arc::from(worker),
        records: Arc::new(Mutex::new(records)),
        database: database.map(Arc::from),
    };
    Router::new()
        .route("/health", get(health))
        .route("/submit", post(submit))
        .route("/submission/{round}", get(submission))
        .route("/audit", post(audit))
        .route("/audits/{round}", get(audits))
        .fallback(no_route)
        .layer(middleware::from_fn(log_request))
        .with_state(app)
}

/// Resolves when the supervisor asks us to stop (SIGTERM) or on Ctrl-C.
async fn stop_requested() {
    let mut terminate =
        signal(SignalKind::terminate()).expect("a SIGTERM handler can be installed");
    tokio::select! {
        _ = terminate.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let Some(port) = std::env::var("PORT")
        .ok()
        .and_then(|port| port.parse::<u16>().ok())
    else {
        eprintln!("koii-worker: set PORT to the port to listen on (1-65535)");
        return ExitCode::from(EXIT_USAGE);
    };
    let worker = std::env::var("WORKER_ID")
        .ok()
        .filter(|id| !id.is_empty())
        .unwrap_or_else(|| "worker".to_owned());
    let database = std::env::var_os("DATABASE_PATH")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from);
    let records = match database.as_deref().map(load_records).transpose() {
        Ok(records) => records.unwrap_or_default(),
        Err(message) => {
            eprintln!("koii-worker: {message}");
            return ExitCode::FAILURE;
        }
    };
    let listener = match TcpListener::bind(("127.0.0.1", port)).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("koii-worker: cannot listen on 127.0.0.1:{port}: {error}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "koii-worker {worker} listening on 127.0.0.1:{port} (pid {}, {} saved records)",
        std::process::id(),
        records.len()
    );
    let served = axum::serve(listener, router(&worker, records, database))
        .with_graceful_shutdown(stop_requested())
        .await;
    match served {
        Ok(()) => {
            println!("koii-worker {worker} stopped");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("koii-worker: server failed: {error}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_wasm::koii::Keypair;

    fn signed_body(signer: &Keypair, claimed: &str, payload: &Value) -> Vec<u8> {
        let signature = signer.sign(&payload.to_string()).expect("sign");
        serde_json::to_vec(&json!({"signature": signature, "stakingKey": claimed})).expect("json")
    }

    #[test]
    fn open_accepts_a_payload_signed_by_the_claimed_key() {
        let key = Keypair::from_seed(&[1; 32]);
        let payload = json!({"roundNumber": 2, "stakingKey": key.public_key(), "result": "x"});
        let (_, opened, round) =
            open(&signed_body(&key, key.public_key(), &payload)).expect("accepted");
        assert_eq!((opened, round), (payload, 2));
    }

    #[test]
    fn open_rejects_a_payload_signed_by_another_key_with_401() {
        let (key, other) = (Keypair::from_seed(&[1; 32]), Keypair::from_seed(&[2; 32]));
        let payload = json!({"roundNumber": 1, "stakingKey": key.public_key()});
        let (status, Json(body)) =
            open(&signed_body(&other, key.public_key(), &payload)).expect_err("rejected");
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(
            body["message"]
                .as_str()
                .is_some_and(|m| m.contains("does not match the public key")),
            "{body}"
        );
    }

    #[test]
    fn open_rejects_a_payload_naming_another_staking_key_with_400() {
        let (key, other) = (Keypair::from_seed(&[1; 32]), Keypair::from_seed(&[2; 32]));
        let payload = json!({"roundNumber": 1, "stakingKey": other.public_key()});
        let (status, _) =
            open(&signed_body(&key, key.public_key(), &payload)).expect_err("rejected");
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }
}
