//! The step registry: [`Steps`] lists a package's steps with their typed functions and
//! dispatches the WIT exports to them by name. Dispatch is pure (JSON text in and out),
//! so it is tested on the host target.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::__private::bindings::prometheus::step::types as wit;
use crate::{Ctx, Error, Outcome, codec};

/// A `prepare` function for steps that need none: it returns `()`, so the step's
/// `execute` takes `_: ()` as its prepared data.
///
/// ```
/// use prometheus_step::{Ctx, Error, Outcome, Steps, no_prepare};
///
/// fn execute(_ctx: &Ctx, _params: (), _prepared: ()) -> Result<Outcome, Error> {
///     Ok(Outcome::skip("nothing to do"))
/// }
/// let steps = Steps::new().step("noop", "Does nothing", "worker1", no_prepare, execute);
/// assert_eq!(steps.names().collect::<Vec<_>>(), ["noop"]);
/// ```
pub fn no_prepare<P>(_ctx: &Ctx, _params: P) -> Result<(), Error> {
    Ok(())
}

type PrepareFn = Box<dyn Fn(&Ctx, &str) -> Result<String, Error> + Send + Sync>;
type ExecuteFn = Box<dyn Fn(&Ctx, &str, &str) -> Result<Outcome, Error> + Send + Sync>;
type PostLoadFn = Box<dyn Fn(&Ctx) -> Result<(), Error> + Send + Sync>;

struct Step {
    name: String,
    description: String,
    worker: String,
    params: String,
    prepare: PrepareFn,
    execute: ExecuteFn,
}

/// The steps of a package, in the order they run in a round, and an optional post-load
/// callback. Build it in a function and pass that to [`export_steps!`](crate::export_steps).
///
/// Each step has a `prepare` function `Fn(&Ctx, P) -> Result<R, Error>` and an `execute`
/// function `Fn(&Ctx, P, Q) -> Result<Outcome, Error>`: `P` (the params) and `Q` (the
/// prepared data) are any `Deserialize` types, `R` any `Serialize` type; `prepare`'s result
/// reaches `execute` as JSON, so `R` and `Q` need only agree on the JSON shape. A value
/// that does not decode fails the step with an error naming the step and the value.
/// Closures work too; annotate their argument types (`|ctx: &Ctx, _: (), _: ()| ...`),
/// since `P` and `Q` cannot be inferred from an unannotated closure.
///
/// Building panics on a programming error: an empty or repeated step name, or params that
/// are not a JSON object.
#[derive(Default)]
pub struct Steps {
    steps: Vec<Step>,
    post_load: Option<PostLoadFn>,
}

impl std::fmt::Debug for Steps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Steps")
            .field("steps", &self.names().collect::<Vec<_>>())
            .field("post_load", &self.post_load.is_some())
            .finish()
    }
}

impl Steps {
    /// No steps and no post-load callback.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a step without parameters (its params are `{}`; `P` may be `()`).
    pub fn step<P, R, Q>(
        self,
        name: impl Into<String>,
        description: impl Into<String>,
        worker: impl Into<String>,
        prepare: impl Fn(&Ctx, P) -> Result<R, Error> + Send + Sync + 'static,
        execute: impl Fn(&Ctx, P, Q) -> Result<Outcome, Error> + Send + Sync + 'static,
    ) -> Self
    where
        P: DeserializeOwned,
        R: Serialize,
        Q: DeserializeOwned,
    {
        self.step_with_params(
            name,
            description,
            worker,
            Value::Object(Default::default()),
            prepare,
            execute,
        )
    }

    /// Adds a step whose default params are `params` (a JSON object, e.g. from
    /// [`json!`](crate::json), or a struct that serialises to one). The runner may override
    /// them (plan files); the step's functions receive them decoded into `P`.
    pub fn step_with_params<P, R, Q>(
        mut self,
        name: impl Into<String>,
        description: impl Into<String>,
        worker: impl Into<String>,
        params: impl Serialize,
        prepare: impl Fn(&Ctx, P) -> Result<R, Error> + Send + Sync + 'static,
        execute: impl Fn(&Ctx, P, Q) -> Result<Outcome, Error> + Send + Sync + 'static,
    ) -> Self
    where
        P: DeserializeOwned,
        R: Serialize,
        Q: DeserializeOwned,
    {
        let name = name.into();
        assert!(!name.is_empty(), "a step needs a name");
        assert!(
            self.find(&name).is_none(),
            "step `{name}` is declared twice in Steps"
        );
        let params = match serde_json::to_value(params) {
            Ok(value @ Value::Object(_)) => value.to_string(),
            Ok(other) => panic!("params of step `{name}` must be a JSON object, got {other}"),
            Err(error) => panic!("params of step `{name}` do not serialise: {error}"),
        };

        let step = name.clone();
        let prepare: PrepareFn = Box::new(move |ctx, params| {
            let params: P = codec::decode_params(params, &|| format!("step `{step}`: params"))?;
            let prepared = prepare(ctx, params)?;
            codec::encode(&prepared, &|| format!("step `{step}`: prepared data"))
        });
        let step = name.clone();
        let execute: ExecuteFn = Box::new(move |ctx, params, prepared| {
            let params: P = codec::decode_params(params, &|| format!("step `{step}`: params"))?;
            let prepared: Q = codec::decode(prepared, &|| format!("step `{step}`: prepared data"))?;
            execute(ctx, params, prepared)
        });

        self.steps.push(Step {
            name,
            description: description.into(),
            worker: worker.into(),
            params,
            prepare,
            execute,
        });
        self
    }

    /// Sets the callback run once after a fresh start, after the test data was loaded and
    /// before the first step (the Python framework's `post_load_callback`).
    pub fn post_load(
        mut self,
        callback: impl Fn(&Ctx) -> Result<(), Error> + Send + Sync + 'static,
    ) -> Self {
        self.post_load = Some(Box::new(callback));
        self
    }

    /// The step names, in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.steps.iter().map(|step| step.name.as_str())
    }

    /// The number of steps.
    pub fn len(&self) -> usize {
        self.steps.len()
    }

    /// `true` when no step was added.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    fn find(&self, name: &str) -> Option<&Step> {
        self.steps.iter().find(|step| step.name == name)
    }

    fn get(&self, name: &str) -> Result<&Step, Error> {
        self.find(name).ok_or_else(|| {
            let known = self.names().collect::<Vec<_>>().join(", ");
            Error::msg(format!("unknown step `{name}` (this package has: {known})"))
        })
    }

    /// The WIT `manifest` export.
    pub(crate) fn manifest(&self) -> Vec<wit::StepInfo> {
        self.steps
            .iter()
            .map(|step| wit::StepInfo {
                name: step.name.clone(),
                description: step.description.clone(),
                worker: step.worker.clone(),
                params: step.params.clone(),
            })
            .collect()
    }

    /// The WIT `prepare` export: the prepared data as JSON text.
    pub(crate) fn prepare(&self, step: &str, params: &str) -> Result<String, Error> {
        let found = self.get(step)?;
        (found.prepare)(&Ctx::for_step(&found.name), params)
    }

    /// The WIT `execute` export.
    pub(crate) fn execute(
        &self,
        step: &str,
        params: &str,
        prepared: &str,
    ) -> Result<Outcome, Error> {
        let found = self.get(step)?;
        (found.execute)(&Ctx::for_step(&found.name), params, prepared)
    }

    /// The WIT `post-load` export: `Ok` when there is no callback.
    pub(crate) fn run_post_load(&self) -> Result<(), Error> {
        match &self.post_load {
            Some(callback) => callback(&Ctx::for_post_load()),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Deserialize)]
    struct Greet {
        text: String,
    }

    #[derive(Serialize, Deserialize)]
    struct Prepared {
        line: String,
        step: String,
    }

    fn greet_prepare(ctx: &Ctx, params: Greet) -> Result<Prepared, Error> {
        Ok(Prepared {
            line: format!("{}!", params.text),
            step: ctx.step().unwrap_or_default().to_owned(),
        })
    }

    fn greet_execute(_ctx: &Ctx, params: Greet, prepared: Prepared) -> Result<Outcome, Error> {
        if params.text == "skip" {
            return Ok(Outcome::skip("asked to skip"));
        }
        Ok(Outcome::done(
            json!({"line": prepared.line, "step": prepared.step}),
        ))
    }

    fn failing(_ctx: &Ctx, _params: ()) -> Result<(), Error> {
        crate::fail!("cannot prepare")
    }

    fn steps() -> Steps {
        Steps::new()
            .step_with_params(
                "greet",
                "Greets",
                "worker1",
                json!({"text": "hi"}),
                greet_prepare,
                greet_execute,
            )
            .step(
                "noop",
                "Does nothing",
                "worker2",
                no_prepare,
                |_: &Ctx, _: (), _: ()| Ok(Outcome::done(true)),
            )
            .step(
                "broken",
                "Fails",
                "worker1",
                failing,
                |_: &Ctx, _: (), _: ()| Ok(Outcome::done(1)),
            )
    }

    #[test]
    fn manifest_lists_steps_in_order_with_params() {
        let manifest = steps().manifest();
        let names: Vec<_> = manifest.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["greet", "noop", "broken"]);
        assert_eq!(manifest[0].params, r#"{"text":"hi"}"#);
        assert_eq!(manifest[0].worker, "worker1");
        assert_eq!(manifest[1].params, "{}");
        assert_eq!(manifest[1].description, "Does nothing");
    }

    #[test]
    fn prepare_output_feeds_execute() {
        let steps = steps();
        let prepared = steps.prepare("greet", r#"{"text":"hi"}"#).unwrap();
        assert_eq!(prepared, r#"{"line":"hi!","step":"greet"}"#);
        let outcome = steps
            .execute("greet", r#"{"text":"hi"}"#, &prepared)
            .unwrap();
        assert_eq!(
            outcome,
            Outcome::done(json!({"line": "hi!", "step": "greet"}))
        );
        let outcome = steps
            .execute("greet", r#"{"text":"skip"}"#, &prepared)
            .unwrap();
        assert!(
            matches!(wit::Outcome::from(outcome), wit::Outcome::Skip(reason) if reason == "asked to skip")
        );
    }

    #[test]
    fn steps_without_params_take_unit() {
        let steps = steps();
        assert_eq!(steps.prepare("noop", "{}").unwrap(), "null");
        let outcome = steps.execute("noop", "{}", "null").unwrap();
        assert!(matches!(wit::Outcome::from(outcome), wit::Outcome::Done(json) if json == "true"));
    }

    #[test]
    fn unknown_step_names_the_known_ones() {
        let err = steps().prepare("nope", "{}").unwrap_err();
        assert_eq!(
            err.message(),
            "unknown step `nope` (this package has: greet, noop, broken)"
        );
        assert!(steps().execute("nope", "{}", "null").is_err());
    }

    #[test]
    fn decode_errors_name_the_step_and_the_value() {
        let err = steps().prepare("greet", r#"{"text": 3}"#).unwrap_err();
        assert!(
            err.message()
                .starts_with("step `greet`: params: invalid type: integer `3`"),
            "{err}"
        );
        let err = steps()
            .execute("greet", r#"{"text":"hi"}"#, r#"{"line":"x"}"#)
            .unwrap_err();
        assert!(
            err.message()
                .starts_with("step `greet`: prepared data: missing field `step`"),
            "{err}"
        );
    }

    #[test]
    fn step_errors_pass_through_unchanged() {
        assert_eq!(
            steps().prepare("broken", "{}").unwrap_err().message(),
            "cannot prepare"
        );
    }

    #[test]
    fn post_load_is_optional() {
        assert!(steps().run_post_load().is_ok());
        let with = steps().post_load(|ctx| {
            assert_eq!(ctx.step(), None);
            Err(Error::msg("seed missing"))
        });
        assert_eq!(with.run_post_load().unwrap_err().message(), "seed missing");
    }

    #[test]
    #[should_panic(expected = "step `greet` is declared twice")]
    fn duplicate_names_panic() {
        let _ = steps().step(
            "greet",
            "again",
            "worker1",
            no_prepare,
            |_: &Ctx, _: (), _: ()| Ok(Outcome::done(0)),
        );
    }

    #[test]
    #[should_panic(expected = "params of step `x` must be a JSON object, got [1]")]
    fn non_object_params_panic() {
        let _ = Steps::new().step_with_params(
            "x",
            "",
            "w",
            json!([1]),
            no_prepare,
            |_: &Ctx, _: (), _: ()| Ok(Outcome::done(0)),
        );
    }
}
