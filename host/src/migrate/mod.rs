//! `prometheus-wasm migrate`: turns a prometheus-test `tests/` folder into a Python step
//! package that runs in the sandbox with the user's modules unchanged, on the
//! `prometheus_test` compatibility layer (guest-python/).
//!
//! [`analyse`] reads the folder (steps.py, the project modules it imports, e2e.py's
//! post-load callback) and finds every place that cannot run in the sandbox; [`write`]
//! writes `wasm/`. Reads and writes files only; imports no other module of this crate.

mod error;
mod imports;
mod lexer;
mod rules;
mod suite;
mod write;

#[cfg(test)]
mod tests;

pub use error::MigrateError;
pub use suite::{Finding, PostLoad, StepsSource, Suite, analyse};
pub use write::{COMPONENTIZE_PY_VERSION, OUTPUT_DIR, Written, entry_module, finding_lines, write};
