//! Host bindings for the `prometheus:step` WIT package: every `bindgen!` option lives here.
//!
//! Imports are async (HTTP and, later, MongoDB calls await I/O without blocking the
//! runtime) and trappable (a broken host invariant ends the step instead of panicking).

// The generated items carry no doc comments of their own: their documentation is the WIT
// (`wit/step.wit`, every item documented), which `bindgen!` does not copy onto all of them.
#![allow(missing_docs)]

wasmtime::component::bindgen!({
    path: "../wit",
    world: "steps",
    imports: { default: async | trappable },
    exports: { default: async },
    // Recordings store every argument and answer of a host call as JSON (`plugin/record`).
    additional_derives: [serde::Serialize, serde::Deserialize],
});
