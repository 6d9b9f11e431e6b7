//! prometheus-wasm: end-to-end tests of multi-worker services, with steps written as
//! WebAssembly components.
//!
//! Data flows one way: [`config`] → [`koii`] → [`workers`] → [`store`] → [`plugin`] → [`runner`] →
//! [`report`], wired together by [`cli`]. A module imports only modules to its left.

pub mod atomic_file;
pub mod bounded_read;
pub mod check;
pub mod cli;
pub mod config;
pub mod crash_point;
pub mod error_text;
pub mod fetch;
pub mod koii;
pub mod migrate;
pub mod plugin;
pub mod report;
pub mod runner;
pub mod store;
pub mod timings;
pub mod workers;
