//! The one place where budgets meet guest code: `guest_store` builds the store of every
//! guest call — instantiation, `manifest`, `prepare`/`execute`, `post-load` — with the
//! memory limiter, fuel, and a wall-clock deadline the epoch callback enforces, and
//! `bounded` runs the call under the same deadline as a timer, so a guest waiting in a
//! host call is stopped too. No call site sets a budget of its own.
//!
//! Running guest code yields to the async executor every [`YIELD_TICKS`] epoch ticks, so
//! whatever the caller selects on beside the call (Ctrl-C, SIGTERM) is polled within
//! about a tenth of a second even while the guest spins; dropping the call's future then
//! drops the instance. Imports only plugin modules.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::{Store, UpdateDeadline};

use crate::plugin::ctx::{HostState, RunCtx};
use crate::plugin::engine::StepEngine;
use crate::plugin::limits::EPOCH_TICK;
use crate::plugin::steps::StepLog;
use crate::store::state::RunState;

/// Epoch ticks between two yields of running guest code to the executor (10 ticks of
/// [`EPOCH_TICK`] = 100 ms): bounds how long a spinning guest keeps Ctrl-C, SIGTERM and
/// the step timer from being noticed, at the cost of one cheap fiber switch per interval.
pub const YIELD_TICKS: u64 = 10;

/// How long, at most, a spinning guest delays a signal or the step timer.
pub const YIELD_INTERVAL: Duration =
    Duration::from_millis(EPOCH_TICK.as_millis() as u64 * YIELD_TICKS);

/// A store for one guest call of `run`'s grants, with every budget applied: linear memory,
/// tables and instances by the limiter, fuel when the budgets set it (the engine then
/// meters it), and the step timeout as a wall-clock deadline from now that the epoch
/// callback turns into an interrupt trap. Until the deadline the callback yields to the
/// executor every [`YIELD_TICKS`].
pub(crate) fn guest_store(
    engine: &StepEngine,
    run: Arc<RunCtx>,
    worker: &str,
    state: RunState,
    log: Arc<dyn StepLog>,
) -> Store<HostState> {
    let budgets = &run.budgets;
    assert!(
        budgets.fuel.is_none() || engine.consumes_fuel(),
        "a fuel budget needs an engine built with StepEngine::for_budgets"
    );
    let fuel = budgets.fuel;
    let mut store = Store::new(engine.engine(), HostState::new(run, worker, state, log));
    let deadline = store.data().deadline;
    store.limiter(|s| &mut s.limits);
    store.set_epoch_deadline(YIELD_TICKS);
    store.epoch_deadline_callback(move |_| {
        if Instant::now() >= deadline {
            Ok(UpdateDeadline::Interrupt)
        } else {
            Ok(UpdateDeadline::Yield(YIELD_TICKS))
        }
    });
    if engine.consumes_fuel() {
        // An engine that meters fuel needs fuel in every store; without a fuel budget it is
        // effectively unlimited.
        store
            .set_fuel(fuel.unwrap_or(u64::MAX))
            .expect("the engine meters fuel");
    }
    store
}

/// Runs `call` on `store` until its deadline (the one [`guest_store`] set): `None` when the
/// deadline passed first, e.g. while the guest waited in a host call. The caller reports
/// the step timeout and never uses the instance again.
pub(crate) async fn bounded<T>(deadline: Instant, call: impl Future<Output = T>) -> Option<T> {
    tokio::time::timeout_at(deadline.into(), call).await.ok()
}
