//! The `prometheus-wasm` binary: parses the command line and hands over to [`cli`].

use std::process::ExitCode;

use clap::Parser;
use prometheus_wasm::cli::{self, Cli};

fn main() -> ExitCode {
    cli::main_with(Cli::parse())
}
