//! Per-step budgets: wall-clock time, guest memory, HTTP sizes and timeouts.

use std::time::Duration;

use wasmtime::{StoreLimits, StoreLimitsBuilder};

/// Default wall-clock limit of one step (`prepare` + `execute`): long enough for slow
/// services, short enough that a looping guest does not hang CI for an hour.
pub const DEFAULT_STEP_TIMEOUT: Duration = Duration::from_secs(300);
/// Default cap on one instance's linear memory: protects the runner's machine from a
/// guest that allocates without bound. Python and JS guests need tens of MiB.
pub const DEFAULT_MEMORY_BYTES: usize = 512 << 20;
/// Default HTTP timeout for one request, when the request sets none.
pub const DEFAULT_HTTP_TIMEOUT: Duration = Duration::from_secs(30);
/// Default cap on an HTTP response body the host reads into guest memory.
pub const DEFAULT_HTTP_BODY_BYTES: usize = 16 << 20;
/// Default cap on what a step may write to stdout/stderr (each); beyond it writes fail.
pub const DEFAULT_OUTPUT_BYTES: usize = 1 << 20;
/// How often the epoch ticker advances: the resolution of the step timeout.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// The limits each step runs under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Budgets {
    /// Wall-clock limit for the guest's own code in one step (host calls are bounded by
    /// their own timeouts).
    pub step_timeout: Duration,
    /// Linear memory cap per instance.
    pub memory_bytes: usize,
    /// HTTP timeout per request (a request may ask for less or more).
    pub http_timeout: Duration,
    /// Maximum HTTP request and response body size.
    pub http_body_bytes: usize,
    /// Maximum captured stdout and stderr per step, each.
    pub output_bytes: usize,
}

impl Default for Budgets {
    fn default() -> Self {
        Self {
            step_timeout: DEFAULT_STEP_TIMEOUT,
            memory_bytes: DEFAULT_MEMORY_BYTES,
            http_timeout: DEFAULT_HTTP_TIMEOUT,
            http_body_bytes: DEFAULT_HTTP_BODY_BYTES,
            output_bytes: DEFAULT_OUTPUT_BYTES,
        }
    }
}

impl Budgets {
    /// The wasmtime limiter for one instance: memory growth beyond the cap traps, so every
    /// guest language fails the same way.
    pub fn store_limits(&self) -> StoreLimits {
        StoreLimitsBuilder::new()
            .memory_size(self.memory_bytes)
            .instances(64)
            .tables(64)
            .memories(16)
            .trap_on_grow_failure(true)
            .build()
    }

    /// The step timeout in epoch ticks.
    pub fn deadline_ticks(&self) -> u64 {
        (self.step_timeout.as_millis() / EPOCH_TICK.as_millis()).max(1) as u64
    }
}
