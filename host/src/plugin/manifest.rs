//! Checks a package's manifest (the WIT `list<step-info>` its `manifest` export returned)
//! and turns it into [`StepInfo`]s: names present and unique, params a JSON object, and
//! every count and length under a cap, so that a hostile or broken manifest is refused
//! with a message naming the limit instead of costing minutes of CPU or breaking a report.
//!
//! The checks are linear in the size of the manifest (a hash set finds duplicates), and
//! the count is checked before anything else. Imports only plugin modules.

use std::collections::HashSet;

use crate::model::{MAX_STEP_NAME_BYTES, MAX_WORKER_NAME_BYTES};
use crate::plugin::bindings::prometheus::step::types::StepInfo as RawStep;
use crate::plugin::json::parse_guest_json;
use crate::plugin::steps::StepInfo;

/// Most steps one package may list. Real suites have tens; a plan round, the summary
/// table and the state file grow with it, so 10 000 keeps each of them small.
pub const MAX_STEPS: usize = 10_000;
/// Longest step description, in bytes: it is one line of the step banner.
pub const MAX_DESCRIPTION_BYTES: usize = 4096;
/// Longest default params of one step, in bytes of JSON: they are parsed here and sent to
/// every call of the step.
pub const MAX_PARAMS_BYTES: usize = 64 << 10;

/// The checked steps, or what is wrong (a lowercase fragment naming the step and limit).
pub(crate) fn check_manifest(raw: Vec<RawStep>) -> Result<Vec<StepInfo>, String> {
    if raw.len() > MAX_STEPS {
        return Err(format!(
            "it lists {} steps, more than the most a package may list ({MAX_STEPS}); \
             split it into several packages and combine them in a plan",
            raw.len()
        ));
    }
    if raw.is_empty() {
        return Err("the package lists no steps".into());
    }
    let mut seen: HashSet<String> = HashSet::with_capacity(raw.len());
    let mut steps = Vec::with_capacity(raw.len());
    for (index, s) in raw.into_iter().enumerate() {
        let n = index + 1;
        too_long(n, "name", &s.name, MAX_STEP_NAME_BYTES)?;
        if s.name.trim().is_empty() {
            return Err(format!("step {n} has an empty name"));
        }
        too_long(n, "worker name", &s.worker, MAX_WORKER_NAME_BYTES)?;
        too_long(n, "description", &s.description, MAX_DESCRIPTION_BYTES)?;
        too_long(n, "params", &s.params, MAX_PARAMS_BYTES)?;
        if !seen.insert(s.name.clone()) {
            return Err(format!("step `{}` is listed twice", s.name));
        }
        let params = if s.params.trim().is_empty() {
            serde_json::Value::Object(Default::default())
        } else {
            parse_guest_json(&s.params, &format!("params of step `{}`", s.name))?
        };
        steps.push(StepInfo {
            name: s.name,
            description: s.description,
            worker: s.worker,
            params,
        });
    }
    Ok(steps)
}

/// Refuses a field over its cap; the message quotes only the start of it.
fn too_long(step: usize, what: &str, value: &str, max: usize) -> Result<(), String> {
    if value.len() <= max {
        return Ok(());
    }
    let start: String = value.chars().take(32).collect();
    Err(format!(
        "the {what} of step {step} (`{start}…`) is {} bytes long, more than the most allowed \
         ({max} bytes)",
        value.len()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(name: &str) -> RawStep {
        RawStep {
            name: name.into(),
            description: "d".into(),
            worker: "worker1".into(),
            params: String::new(),
        }
    }

    #[test]
    fn names_are_checked_for_duplicates_in_linear_time() {
        let many: Vec<RawStep> = (0..MAX_STEPS).map(|i| raw(&format!("s{i}"))).collect();
        let started = std::time::Instant::now();
        assert_eq!(check_manifest(many).unwrap().len(), MAX_STEPS);
        // A quadratic check of 10 000 names takes seconds in a debug build.
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
        let err = check_manifest(vec![raw("a"), raw("b"), raw("a")]).unwrap_err();
        assert_eq!(err, "step `a` is listed twice");
    }

    #[test]
    fn counts_and_lengths_over_their_caps_are_refused_by_name() {
        let too_many: Vec<RawStep> = (0..=MAX_STEPS).map(|i| raw(&format!("s{i}"))).collect();
        let err = check_manifest(too_many).unwrap_err();
        assert!(
            err.starts_with("it lists 10001 steps, more than the most"),
            "{err}"
        );
        let err = check_manifest(vec![raw(&"x".repeat(65_536))]).unwrap_err();
        assert!(err.starts_with("the name of step 1 (`xxxx"), "{err}");
        assert!(err.contains("65536 bytes long, more than the most allowed (256 bytes)"));
        let mut long_params = raw("p");
        long_params.params = format!("{{\"a\": \"{}\"}}", "y".repeat(MAX_PARAMS_BYTES));
        assert!(
            check_manifest(vec![long_params])
                .unwrap_err()
                .contains("the params of step 1")
        );
        assert_eq!(
            check_manifest(vec![]).unwrap_err(),
            "the package lists no steps"
        );
        assert_eq!(
            check_manifest(vec![raw(" ")]).unwrap_err(),
            "step 1 has an empty name"
        );
    }
}
