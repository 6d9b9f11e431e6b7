//! A loaded step package: compiled, linked, its manifest read. Implements [`Steps`].

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use wasmtime::Store;
use wasmtime::component::Component;

use crate::bounded_read;
use crate::fetch::{MAX_PACKAGE_BYTES, PackageIdentity};
use crate::model::{LogLevel, Phase, StepFailure, StepOutcome};
use crate::plugin::bindings::prometheus::step::types::Outcome;
use crate::plugin::bindings::{Steps as StepsBindings, StepsPre};
use crate::plugin::cache::{CodeCache, PackageDigest};
use crate::plugin::capabilities::ComponentInterface;
use crate::plugin::ctx::{HostState, RunCtx};
use crate::plugin::engine::StepEngine;
use crate::plugin::error::PluginError;
use crate::plugin::guard::{bounded, guest_store};
use crate::plugin::json::parse_guest_json;
use crate::plugin::limits::{Budget, Budgets};
use crate::plugin::link::{check_component_header, link};
use crate::plugin::manifest::check_manifest;
use crate::plugin::record::PackageRef;
use crate::plugin::steps::{StepInfo, StepLog, Steps};
use crate::plugin::trap::describe_trap;
use crate::store::state::RunState;
use crate::timings::StepPart;

/// How a package was loaded, for progress lines and benchmarks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeSource {
    /// Compiled now (and stored in the cache if there is one).
    Compiled,
    /// Loaded from the compiled-code cache.
    Cached,
}

/// A step package ready to run.
pub struct Package {
    path: PathBuf,
    sha256: String,
    size: u64,
    engine: Arc<StepEngine>,
    pre: StepsPre<HostState>,
    run: Arc<RunCtx>,
    manifest: Vec<StepInfo>,
    imports: Vec<String>,
    source: CodeSource,
    load_time: Duration,
    identity: PackageIdentity,
}

/// The bytes of the step package at `path`: a regular file of at most
/// [`MAX_PACKAGE_BYTES`] (what a fetched package may be), read through `bounded_read`, so
/// that a FIFO or a device named as a package is refused at once instead of blocking the
/// command where neither its timer nor a signal could stop it.
pub fn read_package(path: &Path) -> Result<Vec<u8>, PluginError> {
    bounded_read::read_bytes(path, MAX_PACKAGE_BYTES, "step package").map_err(|error| {
        PluginError::Read {
            path: path.to_path_buf(),
            source: error.into_io_error(),
        }
    })
}

/// A log sink that drops everything, for the manifest call.
struct Discard;
impl StepLog for Discard {
    fn line(&self, _: LogLevel, _: &str) {}
}

impl Package {
    /// Reads, compiles (or loads from `cache`), links and lists the package at `path`.
    /// Instantiation and the `manifest` call run under `budgets` (time, memory, fuel,
    /// output), like every later guest call; the engine must meter fuel when they set it
    /// ([`StepEngine::for_budgets`]). The package can run steps once it has its grants
    /// ([`Package::with_run`]).
    pub async fn load(
        engine: Arc<StepEngine>,
        path: &Path,
        cache: Option<&CodeCache>,
        budgets: &Budgets,
    ) -> Result<Self, PluginError> {
        Self::load_pinned(engine, path, cache, None, budgets).await
    }

    /// Like [`Package::load`], but first refuses bytes whose sha256 is not `pin` (hex),
    /// before compiling anything. The file is read bounded (`bounded_read`): a regular
    /// file of at most [`MAX_PACKAGE_BYTES`], a FIFO or a device refused without waiting.
    pub async fn load_pinned(
        engine: Arc<StepEngine>,
        path: &Path,
        cache: Option<&CodeCache>,
        pin: Option<&str>,
        budgets: &Budgets,
    ) -> Result<Self, PluginError> {
        let started = Instant::now();
        let bytes: Arc<[u8]> = read_package(path)?.into();
        let sha256 = hex(&Sha256::digest(&bytes));
        if let Some(pin) = pin
            && !pin.eq_ignore_ascii_case(&sha256)
        {
            return Err(PluginError::PinMismatch {
                path: path.to_path_buf(),
                expected: pin.to_ascii_lowercase(),
                actual: sha256,
            });
        }
        Self::from_bytes(engine, path, bytes, sha256, cache, budgets, started).await
    }

    /// Compiles (or loads from `cache`), links and lists the package `bytes`, whose hex
    /// `sha256` the caller computed (and checked against any pin: `fetch::Resolver`). The
    /// digest that addresses the cache is computed here again from `bytes`, so no name
    /// from elsewhere can select compiled code; a `sha256` that differs is refused.
    /// `path` names the package in messages: its file, or where it was fetched from.
    pub async fn from_bytes(
        engine: Arc<StepEngine>,
        path: &Path,
        bytes: Arc<[u8]>,
        sha256: String,
        cache: Option<&CodeCache>,
        budgets: &Budgets,
        started: Instant,
    ) -> Result<Self, PluginError> {
        check_component_header(path, &bytes)?;
        // The cache is addressed by the digest of the bytes in hand, computed here; the
        // caller's hex must agree (it checked its pin against it).
        let digest = PackageDigest::of(&bytes);
        if digest.hex() != sha256 {
            return Err(PluginError::PinMismatch {
                path: path.to_path_buf(),
                expected: sha256,
                actual: digest.hex().to_string(),
            });
        }
        let (component, source) = match cache.and_then(|c| c.load(engine.engine(), &digest)) {
            Some(c) => (c, CodeSource::Cached),
            None => {
                let c = compile(engine.engine(), bytes.clone())
                    .await
                    .map_err(|message| PluginError::Compile {
                        path: path.to_path_buf(),
                        message,
                    })?;
                if let Some(cache) = cache {
                    cache.store(engine.engine(), &digest, &bytes, &c);
                }
                (c, CodeSource::Compiled)
            }
        };
        Self::linked(
            engine,
            path,
            sha256,
            bytes.len() as u64,
            component,
            source,
            budgets,
        )
        .await
        .map(|mut package| {
            package.identity = PackageIdentity::read(&bytes);
            package.load_time = started.elapsed();
            package
        })
    }

    /// Links a compiled component and reads its manifest.
    async fn linked(
        engine: Arc<StepEngine>,
        path: &Path,
        sha256: String,
        size: u64,
        component: Component,
        source: CodeSource,
        budgets: &Budgets,
    ) -> Result<Self, PluginError> {
        let started = Instant::now();
        let pre = link(&engine, &component, path)?;
        let imports = component
            .component_type()
            .imports(engine.engine())
            .map(|(name, _)| name.to_string())
            .collect();
        let mut package = Self {
            // Read from the bytes by `from_bytes`.
            identity: PackageIdentity::default(),
            path: path.to_path_buf(),
            sha256,
            size,
            engine,
            pre,
            // No grants yet, only the budgets: the manifest sees no configuration.
            run: Arc::new(RunCtx {
                budgets: budgets.clone(),
                ..RunCtx::empty()
            }),
            manifest: Vec::new(),
            imports,
            source,
            load_time: Duration::ZERO,
        };
        package.manifest = package.read_manifest().await?;
        package.load_time = started.elapsed();
        Ok(package)
    }

    /// Grants the package a run's configuration, workers, network and budgets.
    ///
    /// Panics when the budgets set fuel and the engine was built without fuel metering:
    /// build it with [`StepEngine::for_budgets`].
    pub fn with_run(self, run: RunCtx) -> Self {
        self.with_shared_run(Arc::new(run))
    }

    /// Like [`Package::with_run`], for grants shared by several packages (a plan).
    pub fn with_shared_run(mut self, run: Arc<RunCtx>) -> Self {
        assert!(
            run.budgets.fuel.is_none() || self.engine.consumes_fuel(),
            "a fuel budget needs an engine built with StepEngine::for_budgets"
        );
        self.run = run;
        self
    }

    /// The package file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What the package says it is (its metadata section).
    pub fn identity(&self) -> &PackageIdentity {
        &self.identity
    }

    /// Hex sha256 of the package bytes.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    /// The interfaces the component imports (`prometheus:step/http@0.1.0`,
    /// `wasi:io/streams@0.2.6`, …), in the component's order: the capabilities it can ask for.
    pub fn imports(&self) -> &[String] {
        &self.imports
    }

    /// Size of the package in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Whether the code was compiled now or came from the cache.
    pub fn code_source(&self) -> CodeSource {
        self.source
    }

    /// Its imports and exports.
    pub fn interface(&self) -> ComponentInterface {
        ComponentInterface::of(&self.engine, self.pre.instance_pre().component())
    }

    /// Time to read, compile or load, link and list the package.
    pub fn load_time(&self) -> Duration {
        self.load_time
    }

    /// A store for one guest call with every budget applied (see [`guest_store`]).
    fn store(&self, worker: &str, state: RunState, log: Arc<dyn StepLog>) -> Store<HostState> {
        guest_store(&self.engine, self.run.clone(), worker, state, log)
    }

    async fn instantiate(
        &self,
        store: &mut Store<HostState>,
        phase: Phase,
    ) -> Result<StepsBindings, StepFailure> {
        self.pre
            .instantiate_async(&mut *store)
            .await
            .map_err(|e| self.trapped(phase, e))
    }

    /// Instantiates the package and calls `manifest` under the load's budgets and timer,
    /// then checks what it returned.
    async fn read_manifest(&self) -> Result<Vec<StepInfo>, PluginError> {
        let bad = |message: String| PluginError::Manifest {
            path: self.path.clone(),
            message,
        };
        let mut store = self.store("", RunState::default(), Arc::new(Discard));
        let deadline = store.data().deadline;
        let budgets = &self.run.budgets;
        let call = async {
            let instance = self.pre.instantiate_async(&mut store).await.map_err(|e| {
                format!(
                    "instantiation trapped: {}",
                    describe_trap(budgets, &e).message
                )
            })?;
            instance
                .call_manifest(&mut store)
                .await
                .map_err(|e| format!("manifest trapped: {}", describe_trap(budgets, &e).message))
        };
        let raw = match bounded(deadline, call).await {
            Some(result) => result.map_err(bad)?,
            None => {
                return Err(bad(format!(
                    "manifest trapped: {}",
                    budgets.exceeded(Budget::StepTimeout)
                )));
            }
        };
        check_manifest(raw).map_err(bad)
    }

    fn trapped(&self, phase: Phase, error: wasmtime::Error) -> StepFailure {
        let trap = describe_trap(&self.run.budgets, &error);
        StepFailure::Trapped {
            phase,
            message: trap.message,
            backtrace: trap.backtrace,
        }
    }

    /// The step-timeout failure of a step stopped while it waited in a host call.
    fn timed_out(&self, phase: Phase) -> StepFailure {
        StepFailure::Trapped {
            phase,
            message: self.run.budgets.exceeded(Budget::StepTimeout).to_string(),
            backtrace: None,
        }
    }
}

/// Sends what the guest wrote to stdout/stderr to the step log, one line each.
fn flush_output(store: &Store<HostState>, log: &dyn StepLog) {
    let data = store.data();
    for (pipe, level, label) in [
        (&data.stdout, LogLevel::Info, "stdout"),
        (&data.stderr, LogLevel::Warn, "stderr"),
    ] {
        let bytes = pipe.contents();
        let text = String::from_utf8_lossy(&bytes);
        let mut lines = text.lines().peekable();
        while let Some(line) = lines.next() {
            // The last line of a full pipe was cut at the budget: marked, so the report
            // masks a secret cut in the middle.
            let cut = if lines.peek().is_none() && pipe.is_full() {
                crate::cut::CUT_MARK.to_string()
            } else {
                String::new()
            };
            log.line(level, &format!("[{label}] {line}{cut}"));
        }
    }
}

impl Steps for Package {
    fn manifest(&self) -> &[StepInfo] {
        &self.manifest
    }

    async fn run_step(
        &self,
        step: &StepInfo,
        state: &mut RunState,
        log: Arc<dyn StepLog>,
    ) -> Result<StepOutcome, StepFailure> {
        let started = Instant::now();
        let mut store = self.store(&step.worker, std::mem::take(state), log.clone());
        // Epoch interruption stops guest code at the deadline; this timer stops a step
        // that waits in a host call (HTTP, sleep) past it. Dropping the call drops the
        // instance, which is never used again.
        let deadline = store.data().deadline;
        let mut phase = Phase::Prepare;
        let call = self.call_step(&mut store, step, &mut phase, started, &*log);
        let result = bounded(deadline, call)
            .await
            .unwrap_or_else(|| Err(self.timed_out(phase)));
        flush_output(&store, &*log);
        self.keep_recording(&store, step, &result, &*log);
        *state = store.into_data().into_state();
        result
    }

    async fn post_load(
        &self,
        state: &mut RunState,
        log: Arc<dyn StepLog>,
    ) -> Result<(), StepFailure> {
        let mut store = self.store("", std::mem::take(state), log.clone());
        let deadline = store.data().deadline;
        let call = async {
            let instance = self.instantiate(&mut store, Phase::PostLoad).await?;
            match instance.call_post_load(&mut store).await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(message)) => Err(StepFailure::Failed {
                    phase: Phase::PostLoad,
                    message,
                }),
                Err(e) => Err(self.trapped(Phase::PostLoad, e)),
            }
        };
        let result = bounded(deadline, call)
            .await
            .unwrap_or_else(|| Err(self.timed_out(Phase::PostLoad)));
        flush_output(&store, &*log);
        *state = store.into_data().into_state();
        result
    }
}

impl Package {
    /// Writes the step's host calls to the run's recording when its mode keeps them.
    fn keep_recording(
        &self,
        store: &Store<HostState>,
        step: &StepInfo,
        result: &Result<StepOutcome, StepFailure>,
        log: &dyn StepLog,
    ) {
        let data = store.data();
        let package = || PackageRef::of(&self.sha256, &self.path);
        let round = data.state.current_round;
        let faults = log.faults();
        match (self.run.record).keep(&data.recorder, step, round, package, result, faults) {
            Some(Ok(path)) => log.recorded(&path),
            Some(Err(e)) => log.line(LogLevel::Warn, &e.to_string()),
            None => {}
        }
    }

    async fn call_step(
        &self,
        store: &mut Store<HostState>,
        step: &StepInfo,
        phase: &mut Phase,
        started: Instant,
        log: &dyn StepLog,
    ) -> Result<StepOutcome, StepFailure> {
        let instance = self.instantiate(store, Phase::Prepare).await?;
        // `run --timings`: the store and instantiation, then each export (the host calls
        // made inside are reported apart and taken out of it).
        log.timed(StepPart::Instantiate, started.elapsed());
        let params = step.params.to_string();
        let export = Instant::now();
        let prepared = instance
            .call_prepare(&mut *store, &step.name, &params)
            .await;
        log.timed(StepPart::Prepare, export.elapsed());
        let prepared = match prepared {
            Ok(Ok(json)) => json,
            Ok(Err(message)) => {
                return Err(StepFailure::Failed {
                    phase: Phase::Prepare,
                    message,
                });
            }
            Err(e) => return Err(self.trapped(Phase::Prepare, e)),
        };
        if let Err(message) = parse_guest_json(&prepared, "the result of prepare") {
            return Err(StepFailure::Failed {
                phase: Phase::Prepare,
                message,
            });
        }
        *phase = Phase::Execute;
        let export = Instant::now();
        let executed = instance
            .call_execute(&mut *store, &step.name, &params, &prepared)
            .await;
        log.timed(StepPart::Execute, export.elapsed());
        match executed {
            Ok(Ok(Outcome::Done(json))) => parse_guest_json(&json, "the result of execute")
                .map(StepOutcome::Done)
                .map_err(|message| StepFailure::Failed {
                    phase: Phase::Execute,
                    message,
                }),
            Ok(Ok(Outcome::Skip(reason))) => Ok(StepOutcome::Skipped(reason)),
            Ok(Err(message)) => Err(StepFailure::Failed {
                phase: Phase::Execute,
                message,
            }),
            Err(e) => Err(self.trapped(Phase::Execute, e)),
        }
    }
}
/// Compiles on a blocking thread: compiling a large component takes seconds of CPU, during
/// which the caller must still see Ctrl-C (dropping this future abandons the result).
async fn compile(engine: &wasmtime::Engine, bytes: Arc<[u8]>) -> Result<Component, String> {
    let engine = engine.clone();
    tokio::task::spawn_blocking(move || Component::new(&engine, &bytes))
        .await
        .map_err(|e| format!("the compiler thread failed: {e}"))?
        .map_err(|e| format!("{e:#}"))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
