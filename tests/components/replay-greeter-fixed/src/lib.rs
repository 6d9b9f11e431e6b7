//! replay-greeter, `fixed` build: see `replay-greeter/src/steps.rs`.

const VARIANT: &str = "fixed";

include!("../../replay-greeter/src/steps.rs");
