//! The wasmtime engine (async is implied by the async host functions), the linker with
//! every host interface, and the epoch ticker that enforces step timeouts. Built once per
//! process.
//!
//! Fuel metering changes the compiled code (every block counts its instructions, ~20 %
//! slower to compile), so it is an engine setting: [`StepEngine::for_budgets`] turns it on
//! only when `limits.fuel` is set. The compiled-code cache keys on the engine's compile
//! settings, so code compiled with and without fuel never mix.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Instant;

use wasmtime::component::Linker;
use wasmtime::{Config, Engine};

use crate::plugin::allocator::{ALLOCATOR_ENV, Allocator};
use crate::plugin::bindings::prometheus::step as wit;
use crate::plugin::ctx::HostState;
use crate::plugin::error::PluginError;
use crate::plugin::limits::{Budgets, EPOCH_TICK};
use crate::plugin::{config, faults, http, log, mongo, state, worker};

/// The engine and linker shared by every package and instance of a process.
pub struct StepEngine {
    engine: Engine,
    linker: Linker<HostState>,
    ticker: Option<(Arc<AtomicBool>, JoinHandle<()>)>,
    fuel: bool,
    allocator: Allocator,
}

impl StepEngine {
    /// An engine with async support (host calls await I/O) and epoch interruption (step
    /// timeouts), with WASI p2 and every `prometheus:step` interface linked; no fuel.
    pub fn new() -> Result<Self, PluginError> {
        Self::with_settings(true, false)
    }

    /// The engine `budgets` need: with fuel metering when they set fuel.
    pub fn for_budgets(budgets: &Budgets) -> Result<Self, PluginError> {
        Self::with_settings(true, budgets.fuel.is_some())
    }

    /// An engine with epoch interruption and fuel metering on or off. Without epoch
    /// interruption a looping guest is never stopped: only benchmarks measuring its cost
    /// turn it off; `run` and `inspect` always have it on.
    ///
    /// The instance allocator is [`Allocator::from_env`]'s (pooling unless
    /// `PROMETHEUS_WASM_ALLOCATOR=on-demand`); a pool the system refuses to reserve falls
    /// back to on-demand allocation.
    pub fn with_settings(epoch_interruption: bool, fuel: bool) -> Result<Self, PluginError> {
        Self::with_allocator(epoch_interruption, fuel, Allocator::from_env())
    }

    /// [`StepEngine::with_settings`] with the instance allocator chosen by the caller.
    pub fn with_allocator(
        epoch_interruption: bool,
        fuel: bool,
        allocator: Allocator,
    ) -> Result<Self, PluginError> {
        let build = |allocator: Allocator| {
            let mut cfg = Config::new();
            cfg.epoch_interruption(epoch_interruption);
            cfg.consume_fuel(fuel);
            cfg.wasm_component_model(true);
            cfg.allocation_strategy(allocator.strategy());
            Engine::new(&cfg)
        };
        let (engine, allocator) = match build(allocator) {
            Ok(engine) => (engine, allocator),
            Err(e) if allocator == Allocator::Pooling => {
                // The pool reserves address space up front; a host with `ulimit -v` or
                // little address space refuses it. Steps still run, each mapping its own.
                tracing::warn!(
                    "cannot reserve the instance pool ({e:#}); steps map their memory one \
                     by one (set {ALLOCATOR_ENV}=on-demand to skip this attempt)"
                );
                let engine =
                    build(Allocator::OnDemand).map_err(|e| PluginError::Engine(e.to_string()))?;
                (engine, Allocator::OnDemand)
            }
            Err(e) => return Err(PluginError::Engine(e.to_string())),
        };
        let mut linker = Linker::<HostState>::new(&engine);
        link(&mut linker).map_err(|e| PluginError::Engine(e.to_string()))?;
        let stop = Arc::new(AtomicBool::new(false));
        let ticker = {
            let engine = engine.clone();
            let stop = stop.clone();
            std::thread::Builder::new()
                .name("epoch-ticker".into())
                .spawn(move || {
                    // Parked rather than asleep, so that dropping the engine wakes it at
                    // once instead of waiting out a tick (up to 10 ms at every exit). A
                    // park may end early; a tick is counted only when its time has come.
                    let mut next = Instant::now() + EPOCH_TICK;
                    while !stop.load(Ordering::Acquire) {
                        let now = Instant::now();
                        if now >= next {
                            engine.increment_epoch();
                            next += EPOCH_TICK;
                        } else {
                            std::thread::park_timeout(next - now);
                        }
                    }
                })
                .map_err(|e| PluginError::Engine(format!("cannot start the epoch ticker: {e}")))?
        };
        Ok(Self {
            engine,
            linker,
            ticker: Some((stop, ticker)),
            fuel,
            allocator,
        })
    }

    /// Whether compiled code meters fuel (every store then needs fuel set).
    pub fn consumes_fuel(&self) -> bool {
        self.fuel
    }

    /// The instance allocator the engine ended up with.
    pub fn allocator(&self) -> Allocator {
        self.allocator
    }

    /// The wasmtime engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The linker with every host interface.
    pub fn linker(&self) -> &Linker<HostState> {
        &self.linker
    }
}

impl Drop for StepEngine {
    fn drop(&mut self) {
        if let Some((stop, handle)) = self.ticker.take() {
            stop.store(true, Ordering::Release);
            handle.thread().unpark();
            let _ = handle.join();
        }
    }
}

fn link(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    // Python and JavaScript components import WASI p2 even when they use none of it; link
    // it all, granting nothing (see `HostState::new`).
    wasmtime_wasi::p2::add_to_linker_async(linker)?;
    wit::types::add_to_linker::<HostState, log::LogData>(linker, log::view)?;
    wit::config::add_to_linker::<HostState, config::ConfigData>(linker, config::view)?;
    wit::state::add_to_linker::<HostState, state::StateData>(linker, state::view)?;
    wit::worker::add_to_linker::<HostState, worker::WorkerData>(linker, worker::view)?;
    wit::http::add_to_linker::<HostState, http::HttpData>(linker, http::view)?;
    wit::mongo::add_to_linker::<HostState, mongo::MongoData>(linker, mongo::view)?;
    wit::log::add_to_linker::<HostState, log::LogData>(linker, log::view)?;
    wit::faults::add_to_linker::<HostState, faults::FaultsData>(linker, faults::view)?;
    Ok(())
}
