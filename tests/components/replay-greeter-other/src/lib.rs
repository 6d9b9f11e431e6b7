//! replay-greeter, `other` build: see `replay-greeter/src/steps.rs`.

const VARIANT: &str = "other";

include!("../../replay-greeter/src/steps.rs");
