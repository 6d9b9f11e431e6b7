//! replay-greeter, `broken` build: see `replay-greeter/src/steps.rs`.

const VARIANT: &str = "broken";

include!("steps.rs");
