//! Per-step budgets: wall-clock time, guest memory, optional fuel, HTTP sizes and timeouts,
//! captured output and log; and the host-side budgets of what steps hand the host: the run
//! state's size, the embedded store's size, the size of one document, one aggregation
//! stage and one reply. [`Budgets`] holds the values (defaults here, `limits:` of
//! config.yaml and CLI flags on top); [`StepLimiter`] enforces memory, tables and instances;
//! [`BudgetExceeded`] is the trap a spent budget raises, naming the budget, its value and
//! the key that raises it.
//!
//! Timeout semantics: the step timeout is wall-clock time from the start of `prepare` to the
//! end of `execute`, host calls included. Guest code is stopped by epoch interruption (a
//! ticker thread, [`EPOCH_TICK`] resolution); a step waiting in a host call (HTTP, a sleep)
//! is stopped by a timer around the whole call. Fuel, when set, counts guest instructions
//! only: time in host calls costs no fuel.

use std::fmt;
use std::time::Duration;

use wasmtime::ResourceLimiter;

use crate::config::LimitsConfig;

/// Default wall-clock limit of one step (`prepare` + `execute`): long enough for slow
/// services, short enough that a looping guest does not hang CI for an hour.
pub const DEFAULT_STEP_TIMEOUT: Duration = Duration::from_secs(300);
/// Default cap on one step instance's linear memory (all its memories together): protects
/// the runner's machine from a guest that allocates without bound. Python and JS guests
/// need tens of MiB.
pub const DEFAULT_MEMORY_BYTES: usize = 512 << 20;
/// Default HTTP timeout for one request; a request may ask for less, not more.
pub const DEFAULT_HTTP_TIMEOUT: Duration = Duration::from_secs(30);
/// Default cap on an HTTP request or response body the host holds in memory.
pub const DEFAULT_HTTP_BODY_BYTES: usize = 16 << 20;
/// Default cap on what a step may write to stdout, to stderr, and through `log`, each; the
/// write past it traps. Protects the runner's memory and the terminal.
pub const DEFAULT_OUTPUT_BYTES: usize = 1 << 20;
/// Default cap on the run state (`test_state.json`, measured as its JSON text): the runner
/// holds it in memory and rewrites the file after every step, so `state.set` of large
/// values (3 GiB of host memory in 6 s before this budget) is refused past it.
pub const DEFAULT_STATE_BYTES: usize = 64 << 20;
/// Default cap on the embedded store's documents (all collections, as BSON): the store
/// holds them in memory and rewrites a collection's file on every write, so an insert
/// flood (1.5 GiB before this budget) is refused past it. A MongoDB server holds its data
/// itself; this budget does not apply to it.
pub const DEFAULT_STORE_BYTES: usize = 256 << 20;
// The fixed host-side limits (format invariants and MongoDB's own limits) live with the
// data they protect; named here so every budget is in one place.
pub use crate::store::limits::{
    MAX_DOCUMENT_BYTES, MAX_NESTING, MAX_RESULT_BYTES, MAX_STAGE_BYTES,
};
/// Largest JSON text one `mongo` call may hand the host (a filter, a document, a list of
/// documents, a pipeline): MongoDB's own largest message (48 MB). Checked before parsing.
pub const MAX_REQUEST_BYTES: usize = 48_000_000;
/// Most JSON values one `mongo` call may hand the host, counted before parsing: the parsed
/// form takes some 100 bytes per value in the host, so `[{},{},…]` (3 bytes per document)
/// would otherwise turn 48 MB of text into gigabytes. Insert more in several calls.
pub const MAX_REQUEST_VALUES: usize = 1 << 20;
/// Largest reply one `mongo` call returns to the guest, as Extended JSON text: protects the
/// guest's memory budget (the host-side reply is capped by [`MAX_RESULT_BYTES`] of BSON).
pub const MAX_RESULT_TEXT_BYTES: usize = 16 << 20;
/// How often the epoch ticker advances: the resolution of the step timeout.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);
/// Most component and core instances one step may create: a Python component has ~40; the
/// cap stops a component that instantiates without bound.
pub const MAX_INSTANCES: usize = 256;
/// Most tables and most linear memories one step may create (same reason).
pub const MAX_TABLES_AND_MEMORIES: usize = 256;
/// Most elements of one table (function references): 1 M entries is 8 MiB of host memory.
pub const MAX_TABLE_ELEMENTS: usize = 1 << 20;
/// Host memory one table element is counted as, against `limits.memory_mb`: tables live
/// outside linear memory, so before they were counted a step held 823 MiB of tables under
/// `memory_mb: 16`. An upper bound of wasmtime's element size (a funcref is one
/// pointer; continuation references take two).
pub const TABLE_ELEMENT_BYTES: usize = 16;

/// The limits each step runs under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Budgets {
    /// Wall-clock limit of one step, host calls included.
    pub step_timeout: Duration,
    /// Linear memory cap per step instance, all memories together.
    pub memory_bytes: usize,
    /// Fuel per step (prepare and execute together); `None`: no fuel metering.
    pub fuel: Option<u64>,
    /// HTTP timeout per request (a request may ask for less).
    pub http_timeout: Duration,
    /// Maximum HTTP request and response body size.
    pub http_body_bytes: usize,
    /// Maximum captured stdout and stderr per step, each, and log bytes per step.
    pub output_bytes: usize,
    /// Maximum size of the run state (its JSON text), for the whole run.
    pub state_bytes: usize,
    /// Maximum size of the embedded store's documents (BSON), for the whole run.
    pub store_bytes: usize,
}

impl Default for Budgets {
    fn default() -> Self {
        Self {
            step_timeout: DEFAULT_STEP_TIMEOUT,
            memory_bytes: DEFAULT_MEMORY_BYTES,
            fuel: None,
            http_timeout: DEFAULT_HTTP_TIMEOUT,
            http_body_bytes: DEFAULT_HTTP_BODY_BYTES,
            output_bytes: DEFAULT_OUTPUT_BYTES,
            state_bytes: DEFAULT_STATE_BYTES,
            store_bytes: DEFAULT_STORE_BYTES,
        }
    }
}

impl Budgets {
    /// The defaults with what `limits:` of config.yaml sets.
    pub fn from_config(limits: &LimitsConfig) -> Self {
        let d = Self::default();
        let mib = |v: u64| usize::try_from(v << 20).unwrap_or(usize::MAX);
        Self {
            step_timeout: limits.step_timeout.unwrap_or(d.step_timeout),
            memory_bytes: limits.memory_mb.map_or(d.memory_bytes, mib),
            fuel: limits.fuel.or(d.fuel),
            http_timeout: limits.http_timeout.unwrap_or(d.http_timeout),
            http_body_bytes: limits.http_max_body_mb.map_or(d.http_body_bytes, mib),
            output_bytes: limits.output_max_kb.map_or(d.output_bytes, |v| {
                usize::try_from(v << 10).unwrap_or(usize::MAX)
            }),
            state_bytes: limits.state_max_mb.map_or(d.state_bytes, mib),
            store_bytes: limits.store_max_mb.map_or(d.store_bytes, mib),
        }
    }

    /// The limiter of one step's store.
    pub fn limiter(&self) -> StepLimiter {
        StepLimiter {
            memory_limit: self.memory_bytes,
            memory_used: 0,
        }
    }

    /// The step timeout in epoch ticks.
    pub fn deadline_ticks(&self) -> u64 {
        (self.step_timeout.as_millis() / EPOCH_TICK.as_millis()).max(1) as u64
    }

    /// The message of a spent budget, with its value and how to raise it.
    pub fn exceeded(&self, budget: Budget) -> BudgetExceeded {
        let value = match budget {
            Budget::StepTimeout => humanize(self.step_timeout),
            Budget::Memory => format!("{} MiB", self.memory_bytes >> 20),
            Budget::Fuel => format!("{} units", self.fuel.unwrap_or(0)),
            Budget::Output | Budget::Log => format!("{} KiB", self.output_bytes >> 10),
            Budget::State => format!("{} MiB", self.state_bytes >> 20),
            Budget::Store => format!("{} MiB", self.store_bytes >> 20),
        };
        BudgetExceeded { budget, value }
    }
}

/// A budget that can run out inside a step (HTTP limits are WIT errors the step sees).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Budget {
    /// `limits.step_timeout`.
    StepTimeout,
    /// `limits.memory_mb`.
    Memory,
    /// `limits.fuel`.
    Fuel,
    /// `limits.output_max_kb`, for stdout and stderr.
    Output,
    /// `limits.output_max_kb`, for `log` lines.
    Log,
    /// `limits.state_max_mb` (a WIT error value of `state.set`, not a trap).
    State,
    /// `limits.store_max_mb` (a `mongo-error` value, not a trap).
    Store,
}

impl Budget {
    /// What the budget limits, for messages.
    pub fn what(self) -> &'static str {
        match self {
            Budget::StepTimeout => "step time limit",
            Budget::Memory => "memory limit",
            Budget::Fuel => "fuel limit",
            Budget::Output => "stdout/stderr limit",
            Budget::Log => "log output limit",
            Budget::State => "run state limit",
            Budget::Store => "embedded store limit",
        }
    }

    /// The config.yaml key that sets it.
    pub fn key(self) -> &'static str {
        match self {
            Budget::StepTimeout => "limits.step_timeout",
            Budget::Memory => "limits.memory_mb",
            Budget::Fuel => "limits.fuel",
            Budget::Output | Budget::Log => "limits.output_max_kb",
            Budget::State => "limits.state_max_mb",
            Budget::Store => "limits.store_max_mb",
        }
    }

    /// The `run` flag that overrides it.
    pub fn flag(self) -> &'static str {
        match self {
            Budget::StepTimeout => "--step-timeout",
            Budget::Memory => "--memory-mb",
            Budget::Fuel => "--fuel",
            Budget::Output | Budget::Log => "--output-max-kb",
            Budget::State => "--state-max-mb",
            Budget::Store => "--store-max-mb",
        }
    }
}

/// A budget ran out: raised as a trap, it ends the step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BudgetExceeded {
    /// Which budget.
    pub budget: Budget,
    /// Its value, with unit.
    pub value: String,
}

impl fmt::Display for BudgetExceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.budget;
        write!(
            f,
            "exceeded the {} of {} (raise {} in config.yaml or pass {})",
            b.what(),
            self.value,
            b.key(),
            b.flag()
        )
    }
}

impl std::error::Error for BudgetExceeded {}

/// The resource limiter of one step: linear memory and table elements
/// ([`TABLE_ELEMENT_BYTES`] each) counted together over all memories and tables of the
/// instance against `limits.memory_mb`, table and instance counts capped. A refused growth traps (instead of making
/// `memory.grow` return -1), so every guest language fails the same way, with
/// [`BudgetExceeded`] as the trap's error.
#[derive(Debug)]
pub struct StepLimiter {
    memory_limit: usize,
    memory_used: usize,
}

impl StepLimiter {
    /// Counts `bytes` more against the memory budget, or traps naming it.
    fn grow(&mut self, bytes: usize) -> wasmtime::Result<bool> {
        let used = self.memory_used.saturating_add(bytes);
        if used > self.memory_limit {
            return Err(BudgetExceeded {
                budget: Budget::Memory,
                value: format!("{} MiB", self.memory_limit >> 20),
            }
            .into());
        }
        self.memory_used = used;
        Ok(true)
    }
}

impl ResourceLimiter for StepLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if maximum.is_some_and(|max| desired > max) {
            return Ok(false);
        }
        self.grow(desired.saturating_sub(current))
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > MAX_TABLE_ELEMENTS || maximum.is_some_and(|max| desired > max) {
            return Ok(false);
        }
        self.grow(
            desired
                .saturating_sub(current)
                .saturating_mul(TABLE_ELEMENT_BYTES),
        )
    }

    fn instances(&self) -> usize {
        MAX_INSTANCES
    }

    fn tables(&self) -> usize {
        MAX_TABLES_AND_MEMORIES
    }

    fn memories(&self) -> usize {
        MAX_TABLES_AND_MEMORIES
    }
}

/// `2s`, `1500ms`.
pub fn humanize(d: Duration) -> String {
    if d.as_millis().is_multiple_of(1000) {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_values_override_defaults_with_units() {
        let limits = LimitsConfig {
            step_timeout: Some(Duration::from_millis(1500)),
            memory_mb: Some(32),
            fuel: Some(7),
            http_timeout: None,
            http_max_body_mb: Some(2),
            output_max_kb: Some(4),
            state_max_mb: Some(5),
            store_max_mb: Some(6),
            recording_max_mb: None,
        };
        let b = Budgets::from_config(&limits);
        assert_eq!(b.step_timeout, Duration::from_millis(1500));
        assert_eq!(b.memory_bytes, 32 << 20);
        assert_eq!(b.fuel, Some(7));
        assert_eq!(b.http_timeout, DEFAULT_HTTP_TIMEOUT);
        assert_eq!(b.http_body_bytes, 2 << 20);
        assert_eq!(b.output_bytes, 4 << 10);
        assert_eq!(b.state_bytes, 5 << 20);
        assert_eq!(b.store_bytes, 6 << 20);
        assert_eq!(
            Budgets::from_config(&LimitsConfig::default()),
            Budgets::default()
        );
    }

    #[test]
    fn exceeded_names_budget_value_key_and_flag() {
        let b = Budgets {
            step_timeout: Duration::from_millis(1500),
            ..Budgets::default()
        };
        assert_eq!(
            b.exceeded(Budget::StepTimeout).to_string(),
            "exceeded the step time limit of 1500ms (raise limits.step_timeout in config.yaml \
             or pass --step-timeout)"
        );
        assert!(
            b.exceeded(Budget::Memory)
                .to_string()
                .contains("memory limit of 512 MiB (raise limits.memory_mb")
        );
    }

    #[test]
    fn limiter_counts_all_memories_together() {
        let mut l = Budgets {
            memory_bytes: 10 << 20,
            ..Budgets::default()
        }
        .limiter();
        assert!(l.memory_growing(0, 6 << 20, None).unwrap());
        let err = l.memory_growing(0, 6 << 20, None).unwrap_err();
        let exceeded = err.downcast_ref::<BudgetExceeded>().expect("budget error");
        assert_eq!(exceeded.budget, Budget::Memory);
        assert!(l.memory_growing(0, 4 << 20, None).unwrap());
        // Beyond the memory's own maximum: refused without counting.
        assert!(!l.memory_growing(0, 1, Some(0)).unwrap());
    }

    #[test]
    fn table_elements_count_against_the_memory_budget() {
        let mut l = Budgets {
            memory_bytes: 1 << 20,
            ..Budgets::default()
        }
        .limiter();
        // 32 Ki elements of 16 bytes: half the budget.
        assert!(l.table_growing(0, 32 << 10, None).unwrap());
        assert!(l.memory_growing(0, 256 << 10, None).unwrap());
        let err = l.table_growing(0, 32 << 10, None).unwrap_err();
        let exceeded = err.downcast_ref::<BudgetExceeded>().expect("budget error");
        assert_eq!(exceeded.budget, Budget::Memory);
        // Past the per-table cap or the table's own maximum: refused without counting.
        assert!(!l.table_growing(0, MAX_TABLE_ELEMENTS + 1, None).unwrap());
        assert!(!l.table_growing(0, 2, Some(1)).unwrap());
    }

    #[test]
    fn a_module_declaring_a_huge_table_traps_at_instantiation_naming_the_memory_budget() {
        // (module (table 1000000 funcref)): 15 MiB of elements at 16 bytes each.
        let wasm = [
            0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version
            0x04, 0x06, 0x01, 0x70, 0x00, 0xc0, 0x84, 0x3d, // table section
        ];
        let engine = wasmtime::Engine::default();
        let module = wasmtime::Module::new(&engine, wasm).expect("valid module");
        let budgets = Budgets {
            memory_bytes: 8 << 20,
            ..Budgets::default()
        };
        let mut store = wasmtime::Store::new(&engine, budgets.limiter());
        store.limiter(|l| l);
        let err = wasmtime::Instance::new(&mut store, &module, &[]).unwrap_err();
        assert!(
            format!("{err:#}").contains("exceeded the memory limit of 8 MiB"),
            "{err:#}"
        );
        // The same module fits a budget that holds its table.
        let budgets = Budgets {
            memory_bytes: 16 << 20,
            ..Budgets::default()
        };
        let mut store = wasmtime::Store::new(&engine, budgets.limiter());
        store.limiter(|l| l);
        wasmtime::Instance::new(&mut store, &module, &[]).expect("fits 16 MiB");
    }

    #[test]
    fn host_side_budgets_name_their_key_and_flag() {
        let b = Budgets::default();
        assert_eq!(
            b.exceeded(Budget::State).to_string(),
            "exceeded the run state limit of 64 MiB (raise limits.state_max_mb in config.yaml \
             or pass --state-max-mb)"
        );
        assert!(b.exceeded(Budget::Log).to_string().contains(
            "log output limit of 1024 KiB (raise limits.output_max_kb in config.yaml or pass --output-max-kb)"
        ));
        assert!(
            b.exceeded(Budget::Store)
                .to_string()
                .contains("--store-max-mb")
        );
    }
}
