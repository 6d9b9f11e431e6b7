//! The `state` interface: the run state that is checkpointed after every step.

use wasmtime::component::HasData;

use crate::plugin::bindings::prometheus::step::state::{Host, Json, Scope};
use crate::plugin::ctx::{HostState, RunCtx};
use crate::plugin::json::{lookup_dotted, parse_guest_json};
use crate::store::state::{RunState, Scope as StoreScope};

/// What a guest's `state` calls see: the run state of this step, and the configuration as
/// the last place `get` looks (the Python framework copied config.yaml into the global
/// state, so `runner.get("task_id")` worked; we look it up instead of copying it).
pub struct StateView<'a> {
    state: &'a mut RunState,
    run: &'a RunCtx,
}

impl<'a> StateView<'a> {
    /// A view of `state`, falling back to `run`'s configuration on reads.
    pub fn new(state: &'a mut RunState, run: &'a RunCtx) -> Self {
        Self { state, run }
    }
}

impl Host for StateView<'_> {
    async fn get(&mut self, key: String) -> wasmtime::Result<Option<Json>> {
        if let Some(v) = self.state.get(&key) {
            return Ok(Some(v.to_string()));
        }
        Ok(lookup_dotted(&self.run.config, &key).map(|v| v.to_string()))
    }

    async fn set(
        &mut self,
        key: String,
        value: Json,
        scope: Scope,
    ) -> wasmtime::Result<Result<(), String>> {
        let value = match parse_guest_json(&value, &format!("the value of state.set(\"{key}\")")) {
            Ok(v) => v,
            Err(e) => return Ok(Err(e)),
        };
        let scope = match scope {
            Scope::Round => StoreScope::Round,
            Scope::Global => StoreScope::Global,
        };
        Ok(self
            .state
            .set(&key, value, scope)
            .map_err(|e| e.to_string()))
    }

    async fn current_round(&mut self) -> wasmtime::Result<u32> {
        Ok(self.state.current_round)
    }
}

/// Links `state` into the store's host state.
pub(crate) struct StateData;

impl HasData for StateData {
    type Data<'a> = StateView<'a>;
}

pub(crate) fn view(state: &mut HostState) -> StateView<'_> {
    StateView::new(&mut state.state, &state.run)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[tokio::test]
    async fn set_then_get_round_then_global_then_config() {
        let run = RunCtx {
            config: json!({"task_id": "t9", "base_port": 5000}),
            ..RunCtx::empty()
        };
        let mut state = RunState::default();
        let mut v = StateView::new(&mut state, &run);
        v.set("x".into(), "1".into(), Scope::Global)
            .await
            .unwrap()
            .unwrap();
        v.set("x".into(), "2".into(), Scope::Round)
            .await
            .unwrap()
            .unwrap();
        v.set("urls.worker1".into(), "\"u\"".into(), Scope::Round)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(v.get("x".into()).await.unwrap().as_deref(), Some("2"));
        assert_eq!(
            v.get("urls.worker1".into()).await.unwrap().as_deref(),
            Some("\"u\"")
        );
        assert_eq!(
            v.get("task_id".into()).await.unwrap().as_deref(),
            Some("\"t9\"")
        );
        assert_eq!(v.current_round().await.unwrap(), 1);
        assert_eq!(state.global.get("x"), Some(&json!(1)));
    }

    #[tokio::test]
    async fn invalid_json_is_an_error_value_not_a_trap() {
        let run = RunCtx::empty();
        let mut state = RunState::default();
        let mut v = StateView::new(&mut state, &run);
        let err = v
            .set("k".into(), "not json".into(), Scope::Round)
            .await
            .unwrap()
            .unwrap_err();
        assert!(err.contains("state.set(\"k\")"), "{err}");
        assert_eq!(state, RunState::default());
    }
}
