//! `prometheus-wasm migrate`: turns a prometheus-test `tests/` folder into a Python step
//! package that runs in the sandbox with the user's modules unchanged, on the
//! `prometheus_test` compatibility layer (guest-python/).
//!
//! [`analyse`] reads the folder (steps.py, the project modules it imports, e2e.py's
//! post-load callback) and finds every place that cannot run in the sandbox; [`write()`]
//! writes `wasm/`. Reads and writes files only; of this crate it imports only the leaf
//! `bounded_read`.
//!
//! The suite comes from someone else, so migrate is a pure translator: it reads only files
//! inside the project (a link out of it is refused, naming link and target), each through
//! `bounded_read` with a cap; it writes and removes only inside `TESTS_DIR/wasm`, through a
//! `cap-std` directory handle, refusing any symbolic link on the way; and every string
//! from the suite that reaches generated code is quoted by a library (shlex for build.sh,
//! serde_yaml for plan.yaml, a JSON string literal or `importlib` for Python).

mod error;
mod imports;
mod lexer;
mod rules;
mod state_uses;
mod suite;
mod write;

#[cfg(test)]
mod hostile_tests;
#[cfg(test)]
mod tests;

pub use error::MigrateError;
pub use suite::{
    FILE_LIMIT, Finding, Limits, MODULE_LIMIT, PostLoad, StepsSource, Suite, TOTAL_LIMIT, analyse,
    analyse_with,
};
pub use write::{
    CHECKED, COMPONENTIZE_PY_VERSION, NOTHING_FOUND, OUTPUT_DIR, Written, entry_module,
    finding_lines, write,
};
