//! Host bindings for the `prometheus:step` WIT package: every `bindgen!` option lives here.
//!
//! Imports are async (HTTP and, later, MongoDB calls await I/O without blocking the
//! runtime) and trappable (a broken host invariant ends the step instead of panicking).

// The generated items carry no doc comments of their own: their documentation is the WIT
// (`wit/step.wit`, every item documented), which `bindgen!` does not copy onto all of them.
#![allow(missing_docs)]

wasmtime::component::bindgen!({
    path: "../wit",
    // The widest world the runner provides: `steps` plus the optional `faults` import.
    world: "steps-with-faults",
    imports: { default: async | trappable },
    exports: { default: async },
    // Recordings store every argument and answer of a host call as JSON (`plugin/record`).
    additional_derives: [serde::Serialize, serde::Deserialize],
});

// The rest of the host names the package's exports as the `steps` world does.
pub use self::{StepsWithFaults as Steps, StepsWithFaultsPre as StepsPre};
