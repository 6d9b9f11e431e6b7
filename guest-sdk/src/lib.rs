//! Write [prometheus-wasm] end-to-end test steps in Rust.
//!
//! A step package is a WebAssembly component exporting the `prometheus:step/steps` world
//! (`wit/step.wit`). This crate hides the generated bindings behind a small API: list the
//! steps with [`Steps`] (the Python framework's `TestStep(name, description, prepare,
//! execute, worker)` list), export them with [`export_steps!`], and reach the test through
//! the [`Ctx`] each step function receives.
//!
//! ```
//! use prometheus_step::{Context, Ctx, Error, Outcome, Steps, json};
//! use serde::{Deserialize, Serialize};
//!
//! /// Parameters of `submit-greeting` (defaults in the manifest, overridable by the runner).
//! #[derive(Deserialize)]
//! struct GreetingParams {
//!     text: String,
//! }
//!
//! /// What `prepare` hands to `execute`.
//! #[derive(Serialize, Deserialize)]
//! struct Greeting {
//!     round: u32,
//!     from: String,
//!     text: String,
//! }
//!
//! fn steps() -> Steps {
//!     Steps::new()
//!         .step("check-health", "The worker answers /health", "worker1", health_prepare, health_execute)
//!         .step_with_params(
//!             "submit-greeting",
//!             "Posts a greeting",
//!             "worker1",
//!             json!({"text": "hello"}),
//!             submit_prepare,
//!             submit_execute,
//!         )
//!         .post_load(|ctx| {
//!             ctx.info("post-load ran");
//!             ctx.set_global("post_load_ran", &true)
//!         })
//! }
//!
//! prometheus_step::export_steps!(steps);
//!
//! fn health_prepare(ctx: &Ctx, _params: ()) -> Result<String, Error> {
//!     ctx.worker_endpoint(None, "/health")
//! }
//!
//! fn health_execute(ctx: &Ctx, _params: (), url: String) -> Result<Outcome, Error> {
//!     let health: serde_json::Value = prometheus_step::get(&url)?.error_for_status()?.json()?;
//!     if health["status"] != "ok" {
//!         prometheus_step::fail!("{} is not healthy: {health}", ctx.worker());
//!     }
//!     Ok(Outcome::done(json!({"healthy": ctx.worker()})))
//! }
//!
//! fn submit_prepare(ctx: &Ctx, params: GreetingParams) -> Result<Greeting, Error> {
//!     Ok(Greeting { round: ctx.round(), from: ctx.worker(), text: params.text })
//! }
//!
//! fn submit_execute(ctx: &Ctx, _params: GreetingParams, greeting: Greeting) -> Result<Outcome, Error> {
//!     if greeting.round % 2 == 1 {
//!         return Ok(Outcome::skip("greetings are posted in even rounds only"));
//!     }
//!     let url = ctx.worker_endpoint(None, "/greetings")?;
//!     let created: serde_json::Value = prometheus_step::post_json(&url, &greeting)?
//!         .expect_status(201)?
//!         .json()?;
//!     let id = created["id"].as_str().context("the answer has no id")?;
//!     ctx.set("greeting_id", id)?;
//!     Ok(Outcome::done(created))
//! }
//! # fn main() {}
//! ```
//!
//! Build the package as a `cdylib` for `wasm32-wasip2`; the result is a component:
//! `cargo build --target wasm32-wasip2 --release`.
//!
//! ## How a step runs
//! The runner calls `prepare` then `execute` of each step, each time in a fresh instance of
//! the component: whatever a later step needs must go through the state ([`Ctx::set`],
//! [`Ctx::set_global`]), not through Rust statics. `prepare`'s result reaches `execute` as
//! JSON. An `Err` fails the run with its message; [`Outcome::skip`] records the step as
//! skipped and the run goes on. A panic is logged at error level (with the step name and
//! location) and then traps, which also fails the run.
//!
//! ## Modules
//! The [`Ctx`] methods delegate to free functions usable from any helper:
//! [`config`], [`state`], [`worker`], [`log`], [`mongo`] and [`http`] (its main items are re-exported
//! at the root: [`get`], [`post_json`], [`Request`], [`Response`]).
//!
//! [prometheus-wasm]: https://example.invalid/prometheus-wasm

#![deny(missing_docs)]

// The generated bindings name this crate by its path (`runtime_path`), also from inside it.
extern crate self as prometheus_step;

mod codec;
pub mod config;
mod ctx;
mod error;
pub mod faults;
pub mod http;
pub mod log;
pub mod mongo;
mod outcome;
pub mod signing;
pub mod state;
mod steps;
pub mod worker;

pub use ctx::Ctx;
pub use error::{Context, Error};
pub use http::{Request, Response, get, post_json};
pub use outcome::Outcome;
pub use serde_json::{Value, json};
pub use signing::KeyKind;
pub use steps::{Steps, no_prepare};

/// Exports the steps built by `build` (a `fn() -> Steps`) as the package's component
/// exports. Use it once, at the top level of the package's `cdylib` crate.
///
/// `build` runs at most once per instance, at the first export call.
///
/// ```
/// use prometheus_step::{Ctx, Error, Outcome, Steps, no_prepare};
///
/// fn steps() -> Steps {
///     Steps::new().step("noop", "Does nothing", "worker1", no_prepare, noop)
/// }
/// fn noop(_ctx: &Ctx, _params: (), _prepared: ()) -> Result<Outcome, Error> {
///     Ok(Outcome::done(true))
/// }
/// prometheus_step::export_steps!(steps);
/// # fn main() {}
/// ```
#[macro_export]
macro_rules! export_steps {
    ($build:expr) => {
        /// The component's exports, generated by `prometheus_step::export_steps!`.
        #[doc(hidden)]
        pub struct __PrometheusStepExports;

        impl $crate::__private::bindings::Guest for __PrometheusStepExports {
            fn manifest() -> ::std::vec::Vec<$crate::__private::bindings::StepInfo> {
                $crate::__private::manifest($build)
            }

            fn prepare(
                step: ::std::string::String,
                params: ::std::string::String,
            ) -> ::core::result::Result<::std::string::String, ::std::string::String> {
                $crate::__private::prepare($build, step, params)
            }

            fn execute(
                step: ::std::string::String,
                params: ::std::string::String,
                prepared: ::std::string::String,
            ) -> ::core::result::Result<$crate::__private::bindings::Outcome, ::std::string::String> {
                $crate::__private::execute($build, step, params, prepared)
            }

            fn post_load() -> ::core::result::Result<(), ::std::string::String> {
                $crate::__private::post_load($build)
            }
        }

        $crate::__private::bindings::__export_steps!(
            __PrometheusStepExports with_types_in $crate::__private::bindings
        );
    };
}

/// Glue for [`export_steps!`]; not a public API.
#[doc(hidden)]
pub mod __private {
    use std::cell::RefCell;
    use std::sync::OnceLock;

    use crate::Steps;

    /// The wit-bindgen bindings of `wit/step.wit`.
    #[allow(missing_docs)]
    pub mod bindings {
        wit_bindgen::generate!({
            path: "wit",
            // `steps` plus `faults`: a Rust package imports `faults` only if it calls it.
            world: "steps-with-faults",
            pub_export_macro: true,
            export_macro_name: "__export_steps",
            default_bindings_module: "prometheus_step::__private::bindings",
            runtime_path: "prometheus_step::__private::wit_bindgen::rt",
        });
    }

    pub use wit_bindgen;

    thread_local! {
        /// The step being prepared or executed, named by the panic hook.
        static CURRENT_STEP: RefCell<Option<String>> = const { RefCell::new(None) };
    }

    fn registry(build: fn() -> Steps) -> &'static Steps {
        static REGISTRY: OnceLock<Steps> = OnceLock::new();
        REGISTRY.get_or_init(build)
    }

    /// Runs at the start of every export: remembers the step, installs the panic hook once.
    fn enter(step: Option<&str>) {
        CURRENT_STEP.with(|current| {
            if let Ok(mut current) = current.try_borrow_mut() {
                *current = step.map(str::to_owned);
            }
        });
        install_panic_hook();
    }

    /// Sends panic messages to the step log, where the runner shows them; the default hook
    /// writes to a stderr the runner may not grant. The panic then traps as usual.
    fn install_panic_hook() {
        // On the host target (unit tests, doctests) the imports do not exist.
        #[cfg(target_arch = "wasm32")]
        {
            static INSTALL: std::sync::Once = std::sync::Once::new();
            INSTALL.call_once(|| {
                std::panic::set_hook(Box::new(|info| crate::log::error(panic_message(info))))
            });
        }
    }

    #[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
    fn panic_message(info: &std::panic::PanicHookInfo<'_>) -> String {
        let payload = info.payload();
        let text = payload
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("(no message)");
        let step = CURRENT_STEP
            .with(|current| current.try_borrow().ok().and_then(|step| step.clone()))
            .map_or_else(
                || "step package".to_owned(),
                |step| format!("step `{step}`"),
            );
        match info.location() {
            Some(location) => format!("{step} panicked at {location}: {text}"),
            None => format!("{step} panicked: {text}"),
        }
    }

    /// The `manifest` export.
    pub fn manifest(build: fn() -> Steps) -> Vec<bindings::StepInfo> {
        enter(None);
        registry(build).manifest()
    }

    /// The `prepare` export.
    pub fn prepare(build: fn() -> Steps, step: String, params: String) -> Result<String, String> {
        enter(Some(&step));
        registry(build)
            .prepare(&step, &params)
            .map_err(String::from)
    }

    /// The `execute` export.
    pub fn execute(
        build: fn() -> Steps,
        step: String,
        params: String,
        prepared: String,
    ) -> Result<bindings::Outcome, String> {
        enter(Some(&step));
        registry(build)
            .execute(&step, &params, &prepared)
            .map(Into::into)
            .map_err(String::from)
    }

    /// The `post-load` export.
    pub fn post_load(build: fn() -> Steps) -> Result<(), String> {
        enter(None);
        registry(build).run_post_load().map_err(String::from)
    }
}

#[cfg(test)]
mod wit_version_tests {
    /// The crate is versioned with the WIT package it carries (`wit/step.wit`, inside the
    /// crate so that the published crate is self-contained): a new WIT version is a new
    /// SDK version, and the scaffolds' `prometheus-step = "X.Y"` picks the matching one.
    #[test]
    fn the_crate_version_is_the_wit_package_version() {
        let wit = include_str!("../wit/step.wit");
        let wanted = format!("package prometheus:step@{};", env!("CARGO_PKG_VERSION"));
        assert!(
            wit.contains(&wanted),
            "wit/step.wit must declare `{wanted}`"
        );
    }
}
