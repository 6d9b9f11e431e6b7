//! How step instances get their memory: wasmtime's pooling allocator by default, the
//! on-demand allocator as the fallback and the opt-out.
//!
//! Every step is a fresh instance (the isolation guarantee), so a run instantiates the same
//! few components thousands of times. The on-demand allocator maps each instance's linear
//! memories, tables and async stack when the step starts and unmaps them when it ends: a
//! trivial step paid ~50 µs of page faults and ~10 µs of `mmap`/`munmap` for that
//! (docs/performance.md). The pooling allocator reserves slots once per engine and hands a
//! step the slot its component used last, reset in place: its pages are handed back with
//! `madvise` and the component's memory image stays mapped, so no mapping changes between
//! steps. Nothing is kept resident (`linear_memory_keep_resident` stays 0): resetting kept
//! pages by copy cost a Python step ~90 µs more than it saved, and a trivial Rust step
//! gained nothing measurable (docs/performance.md).
//!
//! The pool is sized so the per-step caps of [`StepLimiter`](super::limits::StepLimiter)
//! are always what a guest meets first: its totals hold two steps at those caps (a step and
//! the one whose store is being dropped), every slot can hold a memory of 4 GiB (the most a
//! 32-bit memory can be; `limits.memory_mb` is enforced by the limiter below that), and a
//! table of [`MAX_TABLE_ELEMENTS`]. That is a large *reservation* of address space (about
//! 2 TiB of the 128 TiB a process has, none of it committed); where the system refuses it
//! (`ulimit -v`), the engine falls back to the on-demand allocator.
//!
//! `PROMETHEUS_WASM_ALLOCATOR=on-demand` selects the on-demand allocator: an escape hatch
//! for hosts with little address space, and the baseline the benchmarks compare with.

use wasmtime::{InstanceAllocationStrategy, PoolingAllocationConfig};

use super::limits::{MAX_INSTANCES, MAX_TABLE_ELEMENTS, MAX_TABLES_AND_MEMORIES};

/// The environment variable that selects the allocator (`pooling`, the default, or
/// `on-demand`).
pub const ALLOCATOR_ENV: &str = "PROMETHEUS_WASM_ALLOCATOR";

/// Steps whose instances can be alive at once: the running step and the previous one while
/// its store is dropped.
const STEPS_IN_FLIGHT: u32 = 2;

/// Async stacks alive at once: one per step call in progress, with room for host calls that
/// re-enter the guest.
const TOTAL_STACKS: u32 = 64;

/// Largest per-instance metadata wasmtime may allocate for one component (its own and its
/// core instances' `VMContext`s): a Python component's ~40 core instances fit well below.
const MAX_COMPONENT_INSTANCE_BYTES: usize = 64 << 20;

/// Largest `VMContext` of one core instance (a module with tens of thousands of functions).
const MAX_CORE_INSTANCE_BYTES: usize = 16 << 20;

/// Memories and tables one core module may define: wasm has no fixed limit; the limiter
/// caps a step's total at [`MAX_TABLES_AND_MEMORIES`] anyway.
const MAX_PER_MODULE: u32 = 16;

/// Which instance allocator an engine uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allocator {
    /// Slots reserved once, reused per step (the default).
    Pooling,
    /// Memory mapped per instance, unmapped when its store is dropped.
    OnDemand,
}

impl Allocator {
    /// The allocator `PROMETHEUS_WASM_ALLOCATOR` selects: pooling unless it says
    /// `on-demand`. An unknown value is reported once and means pooling.
    pub fn from_env() -> Self {
        match std::env::var(ALLOCATOR_ENV) {
            Ok(v) => Self::parse(&v).unwrap_or_else(|| {
                tracing::warn!(
                    "{ALLOCATOR_ENV}={v:?} is not `pooling` or `on-demand`; using pooling"
                );
                Self::Pooling
            }),
            Err(_) => Self::Pooling,
        }
    }

    /// `pooling` or `on-demand` (also `ondemand`), any case.
    pub fn parse(value: &str) -> Option<Self> {
        match value.trim().to_ascii_lowercase().as_str() {
            "pooling" | "" => Some(Self::Pooling),
            "on-demand" | "ondemand" => Some(Self::OnDemand),
            _ => None,
        }
    }

    /// The wasmtime strategy for this allocator.
    pub(crate) fn strategy(self) -> InstanceAllocationStrategy {
        match self {
            Self::Pooling => InstanceAllocationStrategy::Pooling(pool()),
            Self::OnDemand => InstanceAllocationStrategy::OnDemand,
        }
    }
}

/// The pool: totals for [`STEPS_IN_FLIGHT`] steps at the limiter's caps.
fn pool() -> PoolingAllocationConfig {
    let instances = STEPS_IN_FLIGHT * MAX_INSTANCES as u32;
    let memories_and_tables = STEPS_IN_FLIGHT * MAX_TABLES_AND_MEMORIES as u32;
    let mut pool = PoolingAllocationConfig::new();
    pool.total_component_instances(instances)
        .total_core_instances(instances)
        .total_memories(memories_and_tables)
        .total_tables(memories_and_tables)
        .total_stacks(TOTAL_STACKS)
        .max_component_instance_size(MAX_COMPONENT_INSTANCE_BYTES)
        .max_core_instance_size(MAX_CORE_INSTANCE_BYTES)
        .max_memories_per_module(MAX_PER_MODULE)
        .max_tables_per_module(MAX_PER_MODULE)
        .max_memory_size(1 << 32)
        .table_elements(MAX_TABLE_ELEMENTS);
    pool
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_variable_selects_the_allocator_and_defaults_to_pooling() {
        assert_eq!(Allocator::parse("on-demand"), Some(Allocator::OnDemand));
        assert_eq!(Allocator::parse(" OnDemand "), Some(Allocator::OnDemand));
        assert_eq!(Allocator::parse("pooling"), Some(Allocator::Pooling));
        assert_eq!(Allocator::parse(""), Some(Allocator::Pooling));
        assert_eq!(Allocator::parse("mmap"), None);
    }

    #[test]
    fn an_engine_reserves_the_pool_where_the_address_space_allows() {
        let engine = crate::plugin::StepEngine::with_allocator(true, false, Allocator::Pooling)
            .expect("engine");
        assert_eq!(engine.allocator(), Allocator::Pooling);
        let engine = crate::plugin::StepEngine::with_allocator(true, false, Allocator::OnDemand)
            .expect("engine");
        assert_eq!(engine.allocator(), Allocator::OnDemand);
    }
}
