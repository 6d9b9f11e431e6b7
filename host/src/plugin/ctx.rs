//! What a run grants its steps ([`RunCtx`], built once per run) and the per-instance host
//! state ([`HostState`], built for every step).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::config::TestConfig;
use crate::koii::Keyring;
use crate::plugin::error::PluginError;
use crate::plugin::faults::FaultsSlot;
use crate::plugin::http::HttpCtx;
use crate::plugin::limits::{Budgets, StepLimiter};
use crate::plugin::log::LogBudget;
use crate::plugin::mongo::MongoCtx;
use crate::plugin::output::CappedOutput;
use crate::plugin::record::clock::{TapeMonotonicClock, TapeRandom, TapeWallClock};
use crate::plugin::record::{RecordCtx, Recorder};
use crate::plugin::state::StateBudget;
use crate::plugin::steps::StepLog;
use crate::store::state::RunState;

/// One worker as guests see it.
#[derive(Debug, Clone)]
pub struct WorkerInfo {
    /// workers.json key.
    pub name: String,
    /// `name`, `url`, `port`, ... and every key of its workers.json entry.
    pub data: serde_json::Map<String, Value>,
    /// The variables the test set for this worker (`env`, `env_vars`, `PORT`,
    /// `DATABASE_PATH`, ...). The runner's own environment is not exposed.
    pub env: BTreeMap<String, String>,
}

/// Everything a run grants to its steps. Built once, shared by every instance.
#[derive(Debug, Default)]
pub struct RunCtx {
    /// `task_id` of config.yaml.
    pub task_id: String,
    /// config.yaml as JSON.
    pub config: Value,
    /// The workers, in workers.json order.
    pub workers: Vec<WorkerInfo>,
    /// Outbound HTTP client and allowlist.
    pub http: HttpCtx,
    /// Per-step limits.
    pub budgets: Budgets,
    /// The workers' keypairs; `worker.sign` uses them, guests never see them.
    pub keys: Arc<Keyring>,
    /// The test's MongoDB database; none until the caller grants it.
    pub mongo: MongoCtx,
    /// Recording (which steps are kept, where, masked how) or, in a replay, the player.
    pub record: RecordCtx,
    /// Whether steps may apply faults (`faults_from_steps: true` in config.yaml).
    pub faults_granted: bool,
    /// What applies a step's faults; set by `run` once its workers are up.
    pub faults: FaultsSlot,
}

/// A deadline far enough to mean "never" (about 30 years) when the step timeout is too
/// large to add to the clock: `Instant` addition panics on overflow.
const NEVER_SECS: u64 = 1 << 30;

/// Variables the runner sets for every worker process itself.
const RUNNER_SET_VARS: [&str; 3] = ["PORT", "DATABASE_PATH", "PYTHONUNBUFFERED"];

impl RunCtx {
    /// A context with no workers, no configuration and no network: enough to read a
    /// package's manifest.
    pub fn empty() -> Self {
        Self::default()
    }

    /// The grants of a test: its workers, its configuration, HTTP to the workers, the
    /// middle server and `allowed_hosts`.
    pub fn from_config(config: &TestConfig, budgets: Budgets) -> Result<Self, PluginError> {
        let workers = config
            .workers
            .iter()
            .map(|w| {
                let mut names: Vec<&str> = RUNNER_SET_VARS.to_vec();
                names.extend(w.env_vars.keys().map(String::as_str));
                if let Some(Value::Object(env)) = w.data.get("env") {
                    names.extend(env.keys().map(String::as_str));
                }
                let env = names
                    .into_iter()
                    .filter_map(|n| w.env.get(n).map(|v| (n.to_string(), v.clone())))
                    .collect();
                WorkerInfo {
                    name: w.name.clone(),
                    data: w.data.clone(),
                    env,
                }
            })
            .collect();
        let http = HttpCtx::from_config(config, &budgets)?;
        Ok(Self {
            task_id: config.task_id.clone(),
            config: config.raw.clone(),
            workers,
            http,
            budgets,
            keys: Arc::default(),
            mongo: MongoCtx::default(),
            record: RecordCtx::default(),
            faults_granted: config.faults_from_steps(),
            faults: FaultsSlot::default(),
        })
    }

    /// The same grants, with the workers' keypairs for `worker.sign` and `public-key`.
    pub fn with_keys(self, keys: Keyring) -> Self {
        Self {
            keys: Arc::new(keys),
            ..self
        }
    }

    /// The worker called `name`.
    pub fn worker(&self, name: &str) -> Option<&WorkerInfo> {
        self.workers.iter().find(|w| w.name == name)
    }
}

/// The data of one component instance: the run's grants plus this step's state.
pub struct HostState {
    pub(crate) run: Arc<RunCtx>,
    /// The worker of the running step ("" outside a step).
    pub(crate) worker: String,
    /// The run state; moved in for the step and taken back afterwards.
    pub(crate) state: RunState,
    pub(crate) log: Arc<dyn StepLog>,
    /// Every host call goes through it: shown, kept, or answered from a recording.
    pub(crate) recorder: Recorder,
    /// Log bytes of this step against `limits.output_max_kb`.
    pub(crate) log_budget: LogBudget,
    /// The run state's size against `limits.state_max_mb`.
    pub(crate) state_budget: StateBudget,
    pub(crate) limits: StepLimiter,
    /// When the call's step timeout runs out (wall clock, host calls included).
    pub(crate) deadline: Instant,
    pub(crate) stdout: CappedOutput,
    pub(crate) stderr: CappedOutput,
    wasi: WasiCtx,
    table: ResourceTable,
}

impl HostState {
    /// Host state for one instance. WASI grants nothing: no preopened directories, no
    /// environment or arguments, no sockets or name lookup; stdout and stderr go to capped
    /// in-memory pipes that the step log receives.
    pub fn new(run: Arc<RunCtx>, worker: &str, state: RunState, log: Arc<dyn StepLog>) -> Self {
        let budgets = &run.budgets;
        let stdout = CappedOutput::new(budgets.output_bytes);
        let stderr = CappedOutput::new(budgets.output_bytes);
        let recorder = Recorder::new(&run.record, log.clone());
        let tape = recorder.clock.clone();
        let wasi = WasiCtx::builder()
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            // The guest's time and randomness are recorded, and come back in a replay.
            .wall_clock(TapeWallClock(tape.clone()))
            .monotonic_clock(TapeMonotonicClock(tape.clone()))
            .secure_random(TapeRandom(tape.clone()))
            .insecure_random(TapeRandom(tape.clone()))
            .insecure_random_seed(tape.insecure_seed())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        let limits = budgets.limiter();
        // A timeout too far to add (config allows any number of seconds) never expires.
        let now = Instant::now();
        let deadline = now
            .checked_add(budgets.step_timeout)
            .unwrap_or_else(|| now + Duration::from_secs(NEVER_SECS));
        let log_budget = LogBudget::new(budgets.output_bytes);
        let state_budget = StateBudget::measure(&state, budgets.state_bytes);
        Self {
            deadline,
            worker: worker.to_string(),
            run,
            state,
            log,
            recorder,
            log_budget,
            state_budget,
            limits,
            stdout,
            stderr,
            wasi,
            table: ResourceTable::new(),
        }
    }
}

impl HostState {
    /// The run state the step leaves, its measured size remembered for the next step.
    pub fn into_state(self) -> RunState {
        let mut state = self.state;
        self.state_budget.remember_in(&mut state);
        state
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}
