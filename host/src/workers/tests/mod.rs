//! Tests of the supervisor against real processes (`sh`, `python3`, `sleep`) on loopback
//! ports: readiness, prefixed output, early exits, TERM then KILL, no pid survives.
//! They assert on behaviour only; every wait is bounded generously and never measured.

mod output;
mod preflight;
mod start;
mod stop;
mod support;
