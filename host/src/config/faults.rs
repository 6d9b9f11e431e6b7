//! The `faults:` list of `config.yaml`: faults a test injects on purpose at exact step
//! boundaries ([`FaultSpec`]), parsed with line:column errors, range-checked, then checked
//! against the workers ([`check_fault_workers`]) and, once the package is loaded, against
//! its steps ([`check_fault_steps`]).
//!
//! ```yaml
//! faults:
//!   - at: {round: 1, after: submit}       # or before: STEP; or {round: N}: the round's start
//!     kill: worker1                       # also stop, pause, resume, start, restart
//!   - at: {round: 2, before: audit}
//!     start: worker1
//!   - at: {round: 2}
//!     network: {worker: worker2, latency_ms: 300, jitter_ms: 50}
//!     for: round                          # step, round (the default) or run
//! ```
//!
//! Pure data: the supervisor (`workers/`) applies process actions, its proxy the network
//! ones; the schedule is turned into events at step boundaries by the run. Imports only
//! sibling config modules.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::did_you_mean::closest;
use super::error::{ConfigError, ConfigErrorKind, ConfigFile};
use super::location::{Location, find_key};
use super::worker_spec::WorkerSpec;

/// Most entries in `faults:`. A schedule is written by hand; the cap keeps a hostile file
/// from making the per-step lookups and the schedule check quadratic in its size.
pub const MAX_FAULTS: usize = 1_000;
/// Longest latency or jitter: ten minutes, beyond any step's timeout; it keeps the sums of
/// delays from overflowing and says at once that a value in seconds was meant as ms.
pub const MAX_LATENCY_MS: u64 = 600_000;
/// Largest bandwidth cap accepted, in KiB/s (10 GiB/s): past it the cap means nothing.
pub const MAX_BANDWIDTH_KBPS: u64 = 10 << 20;

/// One entry of `faults:` as written.
#[derive(Debug, Clone, Deserialize)]
// A misspelt action would otherwise be a fault that silently never happens.
#[serde(deny_unknown_fields)]
pub(crate) struct FaultKeys {
    at: AtKeys,
    kill: Option<String>,
    stop: Option<String>,
    pause: Option<String>,
    resume: Option<String>,
    start: Option<String>,
    restart: Option<String>,
    network: Option<NetworkKeys>,
    #[serde(rename = "for")]
    lasts: Option<FaultScope>,
}

/// `at:` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct AtKeys {
    round: u32,
    before: Option<String>,
    after: Option<String>,
}

/// `network:` as written (names follow Toxiproxy's toxics where one exists).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct NetworkKeys {
    worker: String,
    latency_ms: Option<u64>,
    jitter_ms: Option<u64>,
    bandwidth_kbps: Option<u64>,
    reset_rate: Option<f64>,
    http_error: Option<HttpErrorKeys>,
    hang: Option<bool>,
}

/// `network.http_error:` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct HttpErrorKeys {
    status: u16,
    rate: f64,
}

/// A fault of the test's schedule, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultSpec {
    /// Its position in `faults:`, from 0 (errors and events say `faults[index]`).
    pub index: usize,
    /// When it is applied.
    pub at: FaultAt,
    /// What it does.
    pub action: FaultAction,
    /// How long a network fault lasts (process faults last until undone).
    pub lasts: FaultScope,
    /// The file that declares it: config.yaml, or the plan a plan's run uses.
    pub origin: FaultOrigin,
}

/// Which file declares a fault. A plan's run takes config.yaml's `faults:` first, then the
/// plan's, so each keeps its own `faults[i]` and errors name the file to edit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultOrigin {
    /// The test's config.yaml.
    Config,
    /// The plan file at this path.
    Plan(PathBuf),
}

/// When a fault is applied: in round `round`, at `moment`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultAt {
    /// The round, from 1.
    pub round: u32,
    /// Where in the round.
    pub moment: FaultMoment,
}

/// Where in its round a fault is applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultMoment {
    /// Before the round's first step.
    RoundStart,
    /// Before the step of this name.
    Before(String),
    /// After the step of this name completed (passed or skipped).
    After(String),
}

/// What a fault does.
#[derive(Debug, Clone, PartialEq)]
pub enum FaultAction {
    /// A signal to (or a new start of) a local worker's process group.
    Process {
        /// Which action.
        action: ProcessAction,
        /// The worker's name.
        worker: String,
    },
    /// A degraded link to a worker, through its proxy.
    Network(NetworkFault),
}

/// A process action on a local worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProcessAction {
    /// SIGKILL to its process group; returns once it is reaped.
    Kill,
    /// SIGTERM, the grace period, then SIGKILL; returns once it is reaped.
    Stop,
    /// SIGSTOP to its process group: it holds its connections but answers nothing.
    Pause,
    /// SIGCONT to a paused worker.
    Resume,
    /// Starts a killed or stopped worker again: same program, environment and data;
    /// returns once it is ready.
    Start,
    /// Stop, then start.
    Restart,
}

impl ProcessAction {
    /// Every action, in the order the docs list them.
    pub const ALL: [ProcessAction; 6] = [
        ProcessAction::Kill,
        ProcessAction::Stop,
        ProcessAction::Pause,
        ProcessAction::Resume,
        ProcessAction::Start,
        ProcessAction::Restart,
    ];

    /// The key that names it in `faults:` (`kill`, `stop`, …).
    pub fn name(self) -> &'static str {
        match self {
            ProcessAction::Kill => "kill",
            ProcessAction::Stop => "stop",
            ProcessAction::Pause => "pause",
            ProcessAction::Resume => "resume",
            ProcessAction::Start => "start",
            ProcessAction::Restart => "restart",
        }
    }
}

impl fmt::Display for ProcessAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A degraded link to one worker. Every random decision is drawn from the run's seed.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, Deserialize)]
pub struct NetworkFault {
    /// The worker whose incoming connections are degraded.
    pub worker: String,
    /// Delay added before each chunk of data is passed on (Toxiproxy's `latency`).
    pub latency_ms: u64,
    /// Up to this much more or less delay, drawn per chunk (`jitter`).
    pub jitter_ms: u64,
    /// At most this many KiB per second in each direction (`bandwidth`); `None`: no cap.
    pub bandwidth_kbps: Option<u64>,
    /// The share of new connections reset at once, 0 to 1 (`reset_peer`).
    pub reset_rate: f64,
    /// The share of HTTP requests answered with this status by the proxy itself.
    pub http_error: Option<HttpErrorFault>,
    /// Connections are accepted and never answered (Toxiproxy's `timeout` with 0).
    pub hang: bool,
}

/// `network.http_error`: answer a share of requests with an error status.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, Deserialize)]
pub struct HttpErrorFault {
    /// The status, 400 to 599.
    pub status: u16,
    /// The share of requests, 0 to 1.
    pub rate: f64,
}

impl NetworkFault {
    /// `latency 300 ms ± 50 ms, bandwidth 10 KiB/s, …`: what the fault does, for events.
    pub fn effects(&self) -> String {
        let mut parts = Vec::new();
        if self.latency_ms > 0 || self.jitter_ms > 0 {
            let jitter = if self.jitter_ms > 0 {
                format!(" ± {} ms", self.jitter_ms)
            } else {
                String::new()
            };
            parts.push(format!("latency {} ms{jitter}", self.latency_ms));
        }
        if let Some(kbps) = self.bandwidth_kbps {
            parts.push(format!("bandwidth {kbps} KiB/s"));
        }
        if self.reset_rate > 0.0 {
            parts.push(format!(
                "reset {}% of connections",
                percent(self.reset_rate)
            ));
        }
        if let Some(e) = self.http_error {
            parts.push(format!(
                "HTTP {} for {}% of requests",
                e.status,
                percent(e.rate)
            ));
        }
        if self.hang {
            parts.push("hang every connection".to_string());
        }
        if parts.is_empty() {
            "no degradation (cleared)".to_string()
        } else {
            parts.join(", ")
        }
    }

    /// Whether it changes nothing (the state after `clear`).
    pub fn is_clear(&self) -> bool {
        self.latency_ms == 0
            && self.jitter_ms == 0
            && self.bandwidth_kbps.is_none()
            && self.reset_rate == 0.0
            && self.http_error.is_none()
            && !self.hang
    }

    /// Checks the values; the error says which one is impossible and why.
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        if self.latency_ms > MAX_LATENCY_MS {
            return Err((
                "latency_ms",
                format!(
                    "{} ms is more than the most, {MAX_LATENCY_MS} ms",
                    self.latency_ms
                ),
            ));
        }
        if self.jitter_ms > self.latency_ms {
            return Err((
                "jitter_ms",
                format!(
                    "{} ms of jitter around a latency of {} ms would make delays negative",
                    self.jitter_ms, self.latency_ms
                ),
            ));
        }
        match self.bandwidth_kbps {
            Some(0) => {
                return Err((
                    "bandwidth_kbps",
                    "0 KiB/s passes nothing; use `hang: true` for a link that never answers".into(),
                ));
            }
            Some(v) if v > MAX_BANDWIDTH_KBPS => {
                return Err((
                    "bandwidth_kbps",
                    format!("{v} is more than the most, {MAX_BANDWIDTH_KBPS}"),
                ));
            }
            _ => {}
        }
        if !is_rate(self.reset_rate) {
            return Err((
                "reset_rate",
                format!("{} is not a share from 0 to 1", self.reset_rate),
            ));
        }
        if let Some(e) = self.http_error {
            if !(400..=599).contains(&e.status) {
                return Err((
                    "http_error.status",
                    format!("{} is not an HTTP error status (400 to 599)", e.status),
                ));
            }
            if !is_rate(e.rate) {
                return Err((
                    "http_error.rate",
                    format!("{} is not a share from 0 to 1", e.rate),
                ));
            }
        }
        Ok(())
    }
}

fn is_rate(rate: f64) -> bool {
    rate.is_finite() && (0.0..=1.0).contains(&rate)
}

fn percent(rate: f64) -> String {
    let p = rate * 100.0;
    if p.fract() == 0.0 {
        format!("{p:.0}")
    } else {
        format!("{p:.1}")
    }
}

/// How long a network fault lasts (`for:`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FaultScope {
    /// Until the step it was applied before (or after) has ended.
    Step,
    /// Until the round ends (the default).
    #[default]
    Round,
    /// Until the run ends.
    Run,
}

impl fmt::Display for FaultScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FaultScope::Step => "until the step ends",
            FaultScope::Round => "until the round ends",
            FaultScope::Run => "until the run ends",
        })
    }
}

impl fmt::Display for FaultMoment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FaultMoment::RoundStart => f.write_str("at the round's start"),
            FaultMoment::Before(step) => write!(f, "before {step}"),
            FaultMoment::After(step) => write!(f, "after {step}"),
        }
    }
}

impl FaultAction {
    /// The worker it acts on.
    pub fn worker(&self) -> &str {
        match self {
            FaultAction::Process { worker, .. } => worker,
            FaultAction::Network(n) => &n.worker,
        }
    }
}

impl fmt::Display for FaultAction {
    /// `kill worker1`, `network worker1: latency 300 ms`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FaultAction::Process { action, worker } => write!(f, "{action} {worker}"),
            FaultAction::Network(n) => write!(f, "network {}: {}", n.worker, n.effects()),
        }
    }
}

/// Longest `settings` text a step may pass to `faults.network`: a handful of keys.
pub const MAX_STEP_NETWORK_SETTINGS_BYTES: usize = 4096;

/// `settings` of a step's `faults.network` call as written: a `network:` fault without
/// `worker`, plus `for`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StepNetworkKeys {
    latency_ms: Option<u64>,
    jitter_ms: Option<u64>,
    bandwidth_kbps: Option<u64>,
    reset_rate: Option<f64>,
    http_error: Option<HttpErrorKeys>,
    hang: Option<bool>,
    #[serde(rename = "for")]
    lasts: Option<FaultScope>,
}

/// The network fault a step asks for on `worker` with `settings` (JSON text), checked as a
/// `network:` entry of config.yaml is; how long it lasts (`for`, a round by default).
///
/// # Errors
/// Text naming the bad key: too long, not JSON, an unknown key, an impossible value, or
/// nothing degraded.
pub fn step_network_fault(
    worker: &str,
    settings: &str,
) -> Result<(NetworkFault, FaultScope), String> {
    if settings.len() > MAX_STEP_NETWORK_SETTINGS_BYTES {
        return Err(format!(
            "the settings are {} bytes, more than the most, {MAX_STEP_NETWORK_SETTINGS_BYTES}",
            settings.len()
        ));
    }
    let keys: StepNetworkKeys = serde_json::from_str(settings)
        .map_err(|e| format!("the settings are not a network fault object: {e}"))?;
    let fault = NetworkFault {
        worker: worker.to_string(),
        latency_ms: keys.latency_ms.unwrap_or(0),
        jitter_ms: keys.jitter_ms.unwrap_or(0),
        bandwidth_kbps: keys.bandwidth_kbps,
        reset_rate: keys.reset_rate.unwrap_or(0.0),
        http_error: keys.http_error.map(|e| HttpErrorFault {
            status: e.status,
            rate: e.rate,
        }),
        hang: keys.hang.unwrap_or(false),
    };
    fault
        .check()
        .map_err(|(field, message)| format!("`{field}`: {message}"))?;
    if fault.is_clear() {
        return Err(
            "degrades nothing: give latency_ms, bandwidth_kbps, reset_rate, http_error or hang (or call clear)"
                .into(),
        );
    }
    Ok((fault, keys.lasts.unwrap_or_default()))
}

/// Checks the entries of `faults:` and converts them; errors point at the `faults` key.
pub(crate) fn check_faults(
    keys: Vec<FaultKeys>,
    text: &str,
    path: &Path,
    origin: &FaultOrigin,
) -> Result<Vec<FaultSpec>, ConfigError> {
    let location = find_key(text, &["faults"]).map(|span| span.key);
    let invalid = |key: String, message: String| {
        ConfigError::new(
            origin.file(),
            path,
            ConfigErrorKind::InvalidValue { key, message },
        )
        .at(location)
    };
    if keys.len() > MAX_FAULTS {
        return Err(invalid(
            "faults".into(),
            format!("{} entries is more than the most, {MAX_FAULTS}", keys.len()),
        ));
    }
    keys.into_iter()
        .enumerate()
        .map(|(index, k)| {
            let key = |rest: &str| format!("faults[{index}].{rest}");
            if k.at.round == 0 {
                return Err(invalid(key("at.round"), "rounds count from 1".into()));
            }
            let moment = match (k.at.before, k.at.after) {
                (Some(_), Some(_)) => {
                    return Err(invalid(
                        key("at"),
                        "`before` and `after` together: give one, or neither for the round's start"
                            .into(),
                    ));
                }
                (Some(step), None) => FaultMoment::Before(step),
                (None, Some(step)) => FaultMoment::After(step),
                (None, None) => FaultMoment::RoundStart,
            };
            let process = [
                (ProcessAction::Kill, k.kill),
                (ProcessAction::Stop, k.stop),
                (ProcessAction::Pause, k.pause),
                (ProcessAction::Resume, k.resume),
                (ProcessAction::Start, k.start),
                (ProcessAction::Restart, k.restart),
            ];
            let mut actions: Vec<FaultAction> = process
                .into_iter()
                .filter_map(|(action, worker)| {
                    worker.map(|worker| FaultAction::Process { action, worker })
                })
                .collect();
            if let Some(n) = k.network {
                let fault = NetworkFault {
                    worker: n.worker,
                    latency_ms: n.latency_ms.unwrap_or(0),
                    jitter_ms: n.jitter_ms.unwrap_or(0),
                    bandwidth_kbps: n.bandwidth_kbps,
                    reset_rate: n.reset_rate.unwrap_or(0.0),
                    http_error: n.http_error.map(|e| HttpErrorFault {
                        status: e.status,
                        rate: e.rate,
                    }),
                    hang: n.hang.unwrap_or(false),
                };
                fault
                    .check()
                    .map_err(|(field, message)| invalid(key(&format!("network.{field}")), message))?;
                if fault.is_clear() {
                    return Err(invalid(
                        key("network"),
                        "degrades nothing: give latency_ms, bandwidth_kbps, reset_rate, http_error or hang"
                            .into(),
                    ));
                }
                actions.push(FaultAction::Network(fault));
            }
            let action = match actions.len() {
                1 => actions.pop().expect("one action"),
                0 => {
                    return Err(invalid(
                        format!("faults[{index}]"),
                        "no action: give one of kill, stop, pause, resume, start, restart or network"
                            .into(),
                    ));
                }
                _ => {
                    return Err(invalid(
                        format!("faults[{index}]"),
                        "more than one action in one entry: write one entry per action".into(),
                    ));
                }
            };
            if k.lasts.is_some() && matches!(action, FaultAction::Process { .. }) {
                return Err(invalid(
                    key("for"),
                    "a process action lasts until another undoes it (start, resume); `for` applies to network faults only"
                        .into(),
                ));
            }
            Ok(FaultSpec {
                index,
                at: FaultAt {
                    round: k.at.round,
                    moment,
                },
                action,
                lasts: k.lasts.unwrap_or_default(),
                origin: origin.clone(),
            })
        })
        .collect()
}

/// Checks that every fault names a worker of workers.json that the runner starts: an
/// external worker's process is somebody else's, and the other workers do not reach it
/// through the runner's proxy. `path` is the file that declares `faults`, `location` where
/// its `faults` key is.
pub fn check_fault_workers(
    faults: &[FaultSpec],
    workers: &[WorkerSpec],
    location: Option<Location>,
    path: &Path,
) -> Result<(), ConfigError> {
    let names: Vec<&str> = workers.iter().map(|w| w.name.as_str()).collect();
    for fault in faults {
        let field = match &fault.action {
            FaultAction::Process { action, .. } => action.name().to_string(),
            FaultAction::Network(_) => "network.worker".to_string(),
        };
        let name = fault.action.worker();
        let error = |message: String| {
            ConfigError::new(
                fault.origin.file(),
                path,
                ConfigErrorKind::InvalidValue {
                    key: format!("faults[{}].{field}", fault.index),
                    message,
                },
            )
            .at(location)
        };
        let Some(worker) = workers.iter().find(|w| w.name == name) else {
            let hint = match closest(name, &names) {
                Some(near) => format!("; did you mean `{near}`?"),
                None => format!("; the workers are {}", names.join(", ")),
            };
            return Err(error(format!("no worker `{name}` in workers.json{hint}")));
        };
        if worker.is_external() {
            let what = match &fault.action {
                FaultAction::Process { action, .. } => action.name(),
                FaultAction::Network(_) => "proxy the traffic to",
            };
            return Err(error(format!(
                "worker `{name}` is external: the runner does not own its process, so it cannot {what} it; \
                 run the worker locally to inject faults into it"
            )));
        }
    }
    Ok(())
}

/// Where a fault is in the run's order of steps: `(round, slot)`, slot 0 the round's start,
/// `2i+1` before step `i`, `2i+2` after it.
fn order(fault: &FaultSpec, steps: &[&str]) -> Option<(u32, usize)> {
    let slot = match &fault.at.moment {
        FaultMoment::RoundStart => 0,
        FaultMoment::Before(s) => 2 * steps.iter().position(|n| n == s)? + 1,
        FaultMoment::After(s) => 2 * steps.iter().position(|n| n == s)? + 2,
    };
    Some((fault.at.round, slot))
}

/// Checks the schedule against the package's steps (in round order) and the number of
/// rounds when it is known: every step named exists (did-you-mean otherwise), no fault is
/// in a round the test never reaches, and, played in order, no action finds its worker in
/// the wrong state (`start` of a running worker, `resume` of one not paused, a signal to
/// one already stopped).
pub fn check_fault_steps(
    faults: &[FaultSpec],
    steps: &[&str],
    max_rounds: Option<u32>,
    config_path: &Path,
) -> Result<(), ConfigError> {
    let error = |fault: &FaultSpec, field: &str, message: String| {
        let path = match &fault.origin {
            FaultOrigin::Config => config_path,
            FaultOrigin::Plan(plan) => plan.as_path(),
        };
        ConfigError::new(
            fault.origin.file(),
            path,
            ConfigErrorKind::InvalidValue {
                key: format!("faults[{}].{field}", fault.index),
                message,
            },
        )
    };
    for fault in faults {
        let (field, step) = match &fault.at.moment {
            FaultMoment::RoundStart => continue,
            FaultMoment::Before(s) => ("at.before", s),
            FaultMoment::After(s) => ("at.after", s),
        };
        if !steps.contains(&step.as_str()) {
            let hint = match closest(step, steps) {
                Some(near) => format!("; did you mean `{near}`?"),
                None => format!("; its steps are {}", steps.join(", ")),
            };
            return Err(error(
                fault,
                field,
                format!(
                    "no step `{step}` in round {} of the {}{hint}",
                    fault.at.round,
                    match fault.origin {
                        FaultOrigin::Config => "package",
                        FaultOrigin::Plan(_) => "plan",
                    }
                ),
            ));
        }
    }
    if let Some(max) = max_rounds
        && let Some(fault) = faults.iter().find(|f| f.at.round > max)
    {
        return Err(error(
            fault,
            "at.round",
            format!(
                "round {} is never reached: the test has {max} round(s)",
                fault.at.round
            ),
        ));
    }
    check_states(faults, steps)
        .map_err(|(fault, message)| error(fault, fault.action_key(), message))
}

impl FaultSpec {
    /// The key of its action in the entry: `kill`, `network`, ….
    fn action_key(&self) -> &'static str {
        match &self.action {
            FaultAction::Process { action, .. } => action.name(),
            FaultAction::Network(_) => "network",
        }
    }
}

/// Plays the process actions in run order and refuses one that finds its worker in the
/// wrong state.
fn check_states<'a>(
    faults: &'a [FaultSpec],
    steps: &[&str],
) -> Result<(), (&'a FaultSpec, String)> {
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        Running,
        Paused,
        Down,
    }
    let mut ordered: Vec<(&FaultSpec, (u32, usize))> = faults
        .iter()
        .filter_map(|f| order(f, steps).map(|o| (f, o)))
        .collect();
    // Stable: entries at the same moment keep their order in the file.
    ordered.sort_by_key(|(_, o)| *o);
    let mut states: std::collections::HashMap<&str, State> = std::collections::HashMap::new();
    for (fault, _) in ordered {
        let FaultAction::Process { action, worker } = &fault.action else {
            continue;
        };
        let state = states.entry(worker.as_str()).or_insert(State::Running);
        let (allowed, next) = match action {
            ProcessAction::Kill | ProcessAction::Stop => (*state != State::Down, State::Down),
            ProcessAction::Pause => (*state == State::Running, State::Paused),
            ProcessAction::Resume => (*state == State::Paused, State::Running),
            ProcessAction::Start => (*state == State::Down, State::Running),
            ProcessAction::Restart => (*state != State::Down, State::Running),
        };
        if !allowed {
            let now = match state {
                State::Running => "running",
                State::Paused => "paused",
                State::Down => "not running (killed or stopped earlier in the schedule)",
            };
            let what = match action {
                ProcessAction::Start => "start it",
                ProcessAction::Resume => "resume it (only a paused worker resumes)",
                ProcessAction::Pause => "pause it",
                _ => "signal it",
            };
            return Err((
                fault,
                format!(
                    "worker `{worker}` is {now} at round {} {}: cannot {what}",
                    fault.at.round, fault.at.moment
                ),
            ));
        }
        *state = next;
    }
    Ok(())
}

impl FaultSpec {
    /// `faults[2] (round 1, after submit): kill worker1`, for events and errors; a plan's
    /// fault is prefixed with the plan's file name (`plan.yaml faults[0] …`), as its index
    /// counts in that file.
    pub fn describe(&self) -> String {
        let file = match &self.origin {
            FaultOrigin::Config => String::new(),
            FaultOrigin::Plan(path) => match path.file_name() {
                Some(name) => format!("{} ", name.to_string_lossy()),
                None => "plan ".to_string(),
            },
        };
        format!(
            "{file}faults[{}] (round {}, {}): {}",
            self.index, self.at.round, self.at.moment, self.action
        )
    }
}

impl FaultOrigin {
    /// The kind of file, for errors and their hints.
    fn file(&self) -> ConfigFile {
        match self {
            FaultOrigin::Config => ConfigFile::Config,
            FaultOrigin::Plan(_) => ConfigFile::Plan,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_steps_network_settings_are_checked_like_the_schedules() {
        let (fault, lasts) =
            step_network_fault("worker1", r#"{"latency_ms": 300, "for": "step"}"#).expect("valid");
        assert_eq!(fault.worker, "worker1");
        assert_eq!(fault.latency_ms, 300);
        assert_eq!(lasts, FaultScope::Step);
        let (_, lasts) = step_network_fault("w", r#"{"hang": true}"#).expect("valid");
        assert_eq!(lasts, FaultScope::Round, "a round by default");
        let err = step_network_fault("w", r#"{"latncy_ms": 3}"#).unwrap_err();
        assert!(err.contains("latncy_ms"), "{err}");
        let err = step_network_fault("w", r#"{"reset_rate": 2.0}"#).unwrap_err();
        assert!(err.contains("reset_rate"), "{err}");
        let err = step_network_fault("w", "{}").unwrap_err();
        assert!(err.contains("degrades nothing"), "{err}");
        let long = format!(r#"{{"hang": true, "x": "{}"}}"#, "a".repeat(5000));
        let err = step_network_fault("w", &long).unwrap_err();
        assert!(err.contains("more than the most"), "{err}");
    }

    fn parse(text: &str) -> Result<Vec<FaultSpec>, ConfigError> {
        super::super::config_file::parse_config(text, Path::new("tests/config.yaml"))
            .map(|p| p.faults)
    }

    #[test]
    fn every_action_and_moment_is_read() {
        let text = "faults:\n  - at: {round: 1, after: a}\n    kill: w1\n  - at: {round: 2, before: b}\n    start: w1\n  - at: {round: 2}\n    network: {worker: w2, latency_ms: 300, jitter_ms: 50, reset_rate: 0.5, http_error: {status: 503, rate: 0.25}}\n    for: step\n";
        let faults = parse(text).unwrap();
        assert_eq!(faults.len(), 3);
        assert_eq!(
            faults[0].at,
            FaultAt {
                round: 1,
                moment: FaultMoment::After("a".into())
            }
        );
        assert_eq!(
            faults[1].action,
            FaultAction::Process {
                action: ProcessAction::Start,
                worker: "w1".into()
            }
        );
        assert_eq!(faults[2].lasts, FaultScope::Step);
        let FaultAction::Network(n) = &faults[2].action else {
            panic!("network fault expected");
        };
        assert_eq!(
            n.effects(),
            "latency 300 ms ± 50 ms, reset 50% of connections, HTTP 503 for 25% of requests"
        );
        assert_eq!(
            faults[0].describe(),
            "faults[0] (round 1, after a): kill w1"
        );
    }

    #[test]
    fn impossible_values_are_refused_naming_the_field() {
        let cases = [
            ("- at: {round: 0}\n    kill: w", "faults[0].at.round"),
            (
                "- at: {round: 1, before: a, after: b}\n    kill: w",
                "faults[0].at",
            ),
            ("- at: {round: 1}\n    kill: w\n    stop: w", "faults[0]"),
            ("- at: {round: 1}", "faults[0]"),
            (
                "- at: {round: 1}\n    kill: w\n    for: step",
                "faults[0].for",
            ),
            (
                "- at: {round: 1}\n    network: {worker: w, latency_ms: 10, jitter_ms: 20}",
                "faults[0].network.jitter_ms",
            ),
            (
                "- at: {round: 1}\n    network: {worker: w, reset_rate: 1.5}",
                "faults[0].network.reset_rate",
            ),
            (
                "- at: {round: 1}\n    network: {worker: w, http_error: {status: 200, rate: 1}}",
                "faults[0].network.http_error.status",
            ),
            (
                "- at: {round: 1}\n    network: {worker: w, bandwidth_kbps: 0}",
                "faults[0].network.bandwidth_kbps",
            ),
            (
                "- at: {round: 1}\n    network: {worker: w}",
                "faults[0].network",
            ),
        ];
        for (entry, key) in cases {
            let text = format!("task_id: t\nfaults:\n  {entry}\n");
            let err = parse(&text).unwrap_err().to_string();
            assert!(
                err.starts_with(&format!("tests/config.yaml:2:1: invalid `{key}`")),
                "{entry}: {err}"
            );
        }
    }

    #[test]
    fn misspelt_keys_are_errors_with_position() {
        let err = parse("faults:\n  - at: {round: 1}\n    kil: w\n")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("tests/config.yaml:3:5"), "{err}");
        assert!(err.contains("unknown field `kil`"), "{err}");
    }

    #[test]
    fn unknown_steps_get_a_did_you_mean() {
        let faults = parse("faults:\n  - at: {round: 1, after: sumary}\n    kill: w\n").unwrap();
        let err = check_fault_steps(&faults, &["summary", "audit"], Some(2), Path::new("c.yaml"))
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "c.yaml: invalid `faults[0].at.after`: no step `sumary` in round 1 of the package; did you mean `summary`?"
        );
    }

    #[test]
    fn rounds_past_the_end_are_refused() {
        let faults = parse("faults:\n  - at: {round: 3}\n    kill: w\n").unwrap();
        let err = check_fault_steps(&faults, &["a"], Some(2), Path::new("c.yaml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("round 3 is never reached"), "{err}");
        assert!(check_fault_steps(&faults, &["a"], None, Path::new("c.yaml")).is_ok());
    }

    #[test]
    fn a_plans_faults_follow_config_yamls_in_one_schedule_and_name_the_plan() {
        let plan_path = Path::new("tests/plan.yaml");
        let plan_faults = |text: &str| {
            let keys: Vec<FaultKeys> = serde_yaml::from_str(text).expect("yaml");
            check_faults(keys, text, plan_path, &FaultOrigin::Plan(plan_path.into()))
                .expect("valid")
        };
        // config.yaml kills w after `a`; the plan starts it before `b`: one schedule, played
        // together (the plan's start alone would find w running).
        let mut faults = parse("faults:\n  - at: {round: 1, after: a}\n    kill: w\n").unwrap();
        faults.extend(plan_faults("- at: {round: 1, before: b}\n  start: w\n"));
        check_fault_steps(&faults, &["a", "b"], None, Path::new("c.yaml")).unwrap();
        assert_eq!(
            faults[1].describe(),
            "plan.yaml faults[0] (round 1, before b): start w"
        );
        // An error about the plan's entry names the plan, not config.yaml.
        let mut faults = parse("faults:\n  - at: {round: 1, after: a}\n    kill: w\n").unwrap();
        faults.extend(plan_faults("- at: {round: 1, after: bb}\n  start: w\n"));
        let err = check_fault_steps(&faults, &["a", "b"], None, Path::new("c.yaml"))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(
                "tests/plan.yaml: invalid `faults[0].at.after`: no step `bb` in round 1 of the plan"
            ),
            "{err}"
        );
    }

    #[test]
    fn start_of_a_running_worker_is_refused_in_run_order() {
        // Written out of order: the kill after `a` comes before the start before `b`.
        let ok = parse(
            "faults:\n  - at: {round: 1, before: b}\n    start: w\n  - at: {round: 1, after: a}\n    kill: w\n",
        )
        .unwrap();
        check_fault_steps(&ok, &["a", "b"], None, Path::new("c.yaml")).unwrap();
        let bad = parse("faults:\n  - at: {round: 2}\n    start: w\n").unwrap();
        let err = check_fault_steps(&bad, &["a"], None, Path::new("c.yaml"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("`faults[0].start`: worker `w` is running at round 2 at the round's start: cannot start it"),
            "{err}"
        );
        let bad = parse("faults:\n  - at: {round: 1}\n    resume: w\n").unwrap();
        assert!(check_fault_steps(&bad, &["a"], None, Path::new("c.yaml")).is_err());
    }
}
