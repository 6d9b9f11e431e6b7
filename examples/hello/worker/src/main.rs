//! `hello-worker`: a tiny HTTP worker server for the hello example and the integration
//! tests of prometheus-wasm.
//!
//! It stands in for a task's real worker servers: it reads `PORT` (required), `WORKER_ID`
//! (default: the `--name` argument, else `worker`) and `BIND_ADDRESS` (default 127.0.0.1;
//! `0.0.0.0` in a container, so that other containers reach it) from its environment,
//! listens there, prints `hello-worker <id> listening on 127.0.0.1:<port>`, logs
//! one stdout line per request (`GET /health 200`) and exits cleanly on SIGTERM or Ctrl-C.
//! Greetings are kept in `DATABASE_PATH` (a JSON file) when the runner sets it, like the
//! real task servers keep theirs in SQLite there, so a resumed run finds what the previous
//! run's steps posted and `--reset` (which deletes `*.db`) starts from nothing. Errors are answered as `{"message": "..."}`, like the
//! reference task servers do.
//!
//! | Request                         | Answer                                           |
//! |---------------------------------|--------------------------------------------------|
//! | `GET /health`                   | 200 `{"status":"ok","worker":id}`                |
//! | `POST /greetings` `{round,from,text}` | 201 the greeting with `id` `<id>-<n>` and `worker` |
//! | `GET /greetings/{id}`           | 200 the greeting, or 404                         |
//! | `GET /greetings?round=N`        | 200 `{"greetings":[...]}`, filtered if `round` given |
//! | `POST /echo` (any JSON)         | 200 the same JSON                                |
//! | `POST /reset`                   | 200 `{"removed":n}`: forgets every greeting (the reset hook of an external worker) |
//! | `GET /redirect?to=URL`          | 302 with `Location: URL` (for sandbox tests)     |

use std::process::ExitCode;
use std::sync::{Arc, Mutex, PoisonError};

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::signal::unix::{SignalKind, signal};

/// Exit code when `PORT` is missing or not a port: a usage error.
const EXIT_USAGE: u8 = 2;

/// A stored greeting, as the API returns it.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Greeting {
    id: String,
    worker: String,
    round: u32,
    from: String,
    text: String,
}

/// The body of `POST /greetings`.
#[derive(Debug, Deserialize)]
struct NewGreeting {
    round: u32,
    from: String,
    text: String,
}

/// The query of `GET /greetings`.
#[derive(Debug, Deserialize)]
struct RoundFilter {
    round: Option<u32>,
}

/// The query of `GET /redirect`.
#[derive(Debug, Deserialize)]
struct RedirectTarget {
    to: String,
}

/// Everything the server knows: its id and the greetings received so far.
#[derive(Clone)]
struct App {
    worker: Arc<str>,
    greetings: Arc<Mutex<Vec<Greeting>>>,
    /// Where the greetings are saved, if anywhere.
    database: Option<Arc<std::path::Path>>,
}

/// Reads the saved greetings; a missing file is an empty database.
fn load_greetings(path: &std::path::Path) -> Result<Vec<Greeting>, String> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map_err(|e| format!("{} is not a greetings database: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

/// Saves the greetings atomically (temp file + rename), so a kill never leaves half a file.
fn save_greetings(path: &std::path::Path, greetings: &[Greeting]) -> std::io::Result<()> {
    let tmp = path.with_extension("db.tmp");
    std::fs::write(
        &tmp,
        serde_json::to_vec(greetings).map_err(std::io::Error::other)?,
    )?;
    std::fs::rename(&tmp, path)
}

type Reply = (StatusCode, Json<Value>);

fn failure(status: StatusCode, message: impl Into<String>) -> Reply {
    (status, Json(json!({ "message": message.into() })))
}

async fn health(State(app): State<App>) -> Reply {
    (
        StatusCode::OK,
        Json(json!({ "status": "ok", "worker": &*app.worker })),
    )
}

async fn create_greeting(State(app): State<App>, body: Bytes) -> Reply {
    let new: NewGreeting = match serde_json::from_slice(&body) {
        Ok(new) => new,
        Err(error) => {
            return failure(
                StatusCode::BAD_REQUEST,
                format!("invalid greeting: {error}"),
            );
        }
    };
    // A panic elsewhere cannot leave the list half-written, so a poisoned lock is usable.
    let mut greetings = app.greetings.lock().unwrap_or_else(PoisonError::into_inner);
    let greeting = Greeting {
        id: format!("{}-{}", app.worker, greetings.len() + 1),
        worker: app.worker.to_string(),
        round: new.round,
        from: new.from,
        text: new.text,
    };
    greetings.push(greeting.clone());
    if let Some(path) = &app.database
        && let Err(error) = save_greetings(path, &greetings)
    {
        return failure(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot save greeting to {}: {error}", path.display()),
        );
    }
    (StatusCode::CREATED, Json(json!(greeting)))
}

async fn reset(State(app): State<App>) -> Reply {
    let mut greetings = app.greetings.lock().unwrap_or_else(PoisonError::into_inner);
    let removed = greetings.len();
    greetings.clear();
    if let Some(path) = &app.database
        && let Err(error) = save_greetings(path, &greetings)
    {
        return failure(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot empty {}: {error}", path.display()),
        );
    }
    (StatusCode::OK, Json(json!({ "removed": removed })))
}

async fn get_greeting(State(app): State<App>, Path(id): Path<String>) -> Reply {
    let greetings = app.greetings.lock().unwrap_or_else(PoisonError::into_inner);
    match greetings.iter().find(|greeting| greeting.id == id) {
        Some(greeting) => (StatusCode::OK, Json(json!(greeting))),
        None => failure(StatusCode::NOT_FOUND, format!("no greeting {id}")),
    }
}

async fn list_greetings(
    State(app): State<App>,
    filter: Result<Query<RoundFilter>, QueryRejection>,
) -> Reply {
    let round = match filter {
        Ok(Query(filter)) => filter.round,
        Err(error) => return failure(StatusCode::BAD_REQUEST, error.body_text()),
    };
    let greetings = app.greetings.lock().unwrap_or_else(PoisonError::into_inner);
    let matching: Vec<&Greeting> = greetings
        .iter()
        .filter(|greeting| round.is_none_or(|round| greeting.round == round))
        .collect();
    (StatusCode::OK, Json(json!({ "greetings": matching })))
}

async fn echo(body: Bytes) -> Reply {
    match serde_json::from_slice::<Value>(&body) {
        Ok(value) => (StatusCode::OK, Json(value)),
        Err(error) => failure(StatusCode::BAD_REQUEST, format!("invalid JSON: {error}")),
    }
}

async fn redirect(target: Result<Query<RedirectTarget>, QueryRejection>) -> Response {
    let to = match target {
        Ok(Query(target)) => target.to,
        Err(error) => return failure(StatusCode::BAD_REQUEST, error.body_text()).into_response(),
    };
    match HeaderValue::try_from(to.as_str()) {
        Ok(location) => (StatusCode::FOUND, [(header::LOCATION, location)]).into_response(),
        Err(_) => failure(
            StatusCode::BAD_REQUEST,
            format!("cannot redirect to {to:?}"),
        )
        .into_response(),
    }
}

async fn no_route(method: Method, uri: Uri) -> Reply {
    failure(
        StatusCode::NOT_FOUND,
        format!("no route {method} {}", uri.path()),
    )
}

/// Prints `METHOD /path?query STATUS` for every request, after it is answered.
async fn log_request(request: Request, next: Next) -> Response {
    let (method, uri) = (request.method().clone(), request.uri().clone());
    let response = next.run(request).await;
    println!("{method} {uri} {}", response.status().as_u16());
    response
}

fn router(worker: &str, greetings: Vec<Greeting>, database: Option<std::path::PathBuf>) -> Router {
    let app = App {
        worker: Arc::from(worker),
        greetings: Arc::new(Mutex::new(greetings)),
        database: database.map(Arc::from),
    };
    Router::new()
        .route("/health", get(health))
        .route("/greetings", post(create_greeting).get(list_greetings))
        .route("/greetings/{id}", get(get_greeting))
        .route("/echo", post(echo))
        .route("/reset", post(reset))
        .route("/redirect", get(redirect))
        .fallback(no_route)
        .layer(middleware::from_fn(log_request))
        .with_state(app)
}

/// The value of `--name NAME` or `--name=NAME`, if given.
fn name_argument() -> Option<String> {
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--name" {
            return args.next();
        }
        if let Some(name) = arg.strip_prefix("--name=") {
            return Some(name.to_owned());
        }
    }
    None
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
        eprintln!("hello-worker: set PORT to the port to listen on (1-65535)");
        return ExitCode::from(EXIT_USAGE);
    };
    let worker = std::env::var("WORKER_ID")
        .ok()
        .filter(|id| !id.is_empty())
        .or_else(name_argument)
        .unwrap_or_else(|| "worker".to_owned());
    let database = std::env::var_os("DATABASE_PATH")
        .filter(|p| !p.is_empty())
        .map(std::path::PathBuf::from);
    let greetings = match database.as_deref().map(load_greetings).transpose() {
        Ok(greetings) => greetings.unwrap_or_default(),
        Err(message) => {
            eprintln!("hello-worker: {message}");
            return ExitCode::FAILURE;
        }
    };
    let address = std::env::var("BIND_ADDRESS")
        .ok()
        .filter(|a| !a.is_empty())
        .unwrap_or_else(|| "127.0.0.1".to_owned());
    let listener = match TcpListener::bind((address.as_str(), port)).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("hello-worker: cannot listen on {address}:{port}: {error}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "hello-worker {worker} listening on {address}:{port} (pid {}, {} saved greetings)",
        std::process::id(),
        greetings.len()
    );
    let served = axum::serve(listener, router(&worker, greetings, database))
        .with_graceful_shutdown(stop_requested())
        .await;
    match served {
        Ok(()) => {
            println!("hello-worker {worker} stopped");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("hello-worker: server failed: {error}");
            ExitCode::FAILURE
        }
    }
}
