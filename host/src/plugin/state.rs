//! The `state` interface: the run state that is checkpointed after every step. What
//! `set` stores counts against the run state budget ([`StateBudget`],
//! `limits.state_max_mb`); past it `set` returns an error value naming the budget.

use wasmtime::component::HasData;

use crate::error::UserFacing;
use crate::model::CallKind;
use crate::plugin::bindings::prometheus::step::state::{Host, Json, Scope};
use crate::plugin::ctx::{HostState, RunCtx};
use crate::plugin::json::{lookup_dotted, parse_guest_json, preview};
use crate::plugin::limits::{Budget, BudgetExceeded, MAX_DOCUMENT_BYTES};
use crate::plugin::record::show::shown_part;
use crate::plugin::record::{Args, Recorder, Shown, no_args};
use crate::store::limits::{
    JSON_VALUE_COST, json_cost, json_text_bytes, json_value_count, json_values,
};
use crate::store::state::{RunState, Scope as StoreScope};

/// The run state's size (about [`json_cost`] of it) against `limits.state_max_mb`.
/// Measured when a step's instance is built, then kept up to date by every `set`.
///
/// The variables' part is remembered in the state between steps
/// ([`RunState::remember_variables_size`]), so a step pays for a walk over the whole state
/// only when something other than a guest's `set` changed it (a resume, the journal's
/// replay): per-step cost stays flat however long the run.
#[derive(Debug, Clone, Copy)]
pub struct StateBudget {
    used: usize,
    limit: usize,
    /// The part of `used` that is not the variables (round number, last step, keys).
    fixed: usize,
}

impl StateBudget {
    /// The budget of `limit` bytes, `state` already counted.
    pub fn measure(state: &RunState, limit: usize) -> Self {
        let variables = state
            .variables_size()
            .unwrap_or_else(|| variables_size(state));
        let fixed = fixed_size(state);
        Self {
            used: variables + fixed,
            limit,
            fixed,
        }
    }

    /// Leaves the variables' size, as `set` kept it, in `state` for the next step.
    pub fn remember_in(&self, state: &mut RunState) {
        state.remember_variables_size(self.used.saturating_sub(self.fixed));
    }

    fn refused(&self, key: &str, needed: usize) -> String {
        let exceeded = BudgetExceeded {
            budget: Budget::State,
            value: format!("{} MiB", self.limit >> 20),
        };
        format!(
            "state.set(\"{}\") refused: the run state would take {} KiB; {exceeded}",
            preview(key),
            needed.div_ceil(1024)
        )
    }
}

/// What a guest's `state` calls see: the run state of this step, and the configuration as
/// the last place `get` looks (the Python framework copied config.yaml into the global
/// state, so `runner.get("task_id")` worked; we look it up instead of copying it).
pub struct StateView<'a> {
    state: &'a mut RunState,
    run: &'a RunCtx,
    budget: &'a mut StateBudget,
    rec: &'a Recorder,
}

impl<'a> StateView<'a> {
    /// A view of `state`, falling back to `run`'s configuration on reads, counting what
    /// `set` stores against `budget`, its calls going through `rec`.
    pub fn new(
        state: &'a mut RunState,
        run: &'a RunCtx,
        budget: &'a mut StateBudget,
        rec: &'a Recorder,
    ) -> Self {
        Self {
            state,
            run,
            budget,
            rec,
        }
    }
}

impl Host for StateView<'_> {
    async fn get(&mut self, key: String) -> wasmtime::Result<Option<Json>> {
        let args = Args::new(key.len(), || serde_json::json!({ "key": &key }));
        let live = async {
            if let Some(v) = self.state.get(&key) {
                return Some(v.to_string());
            }
            lookup_dotted(&self.run.config, &key).map(|v| v.to_string())
        };
        // Shown like every call (-vv, a failure's call list): what a step read explains
        // what it did next.
        let show = |value: &Option<String>| {
            let summary = format!("state.get {}", shown_part(&key));
            Some(
                Shown::new(CallKind::State, summary)
                    .response(value.as_deref().unwrap_or("(none)"), false),
            )
        };
        self.rec.call("state.get", args, live, show).await
    }

    async fn set(
        &mut self,
        key: String,
        value: Json,
        scope: Scope,
    ) -> wasmtime::Result<Result<(), String>> {
        // Nothing here copies the value whole: the recording builds its arguments only
        // when it keeps the call (charged first), the trace takes what it shows.
        let args = Args::new(
            key.len() + value.len(),
            || serde_json::json!({ "key": &key, "value": &value, "scope": scope }),
        );
        let scope_name = match scope {
            Scope::Round => "round",
            Scope::Global => "global",
        };
        let summary = format!("state.set {scope_name} {}", shown_part(&key));
        let shown = Shown::new(CallKind::State, summary).request(&value);
        let rec = self.rec;
        let show = |result: &Result<(), String>| {
            Some(match result {
                Ok(()) => shown,
                Err(e) => shown.response(e, true),
            })
        };
        let live = self.set_live(&key, &value, scope);
        rec.call("state.set", args, live, show).await
    }

    async fn current_round(&mut self) -> wasmtime::Result<u32> {
        let round = self.state.current_round;
        self.rec
            .call("state.current_round", no_args(), async { round }, |_| None)
            .await
    }
}

impl StateView<'_> {
    /// `set` as it changes the state: budget checks, then the write.
    async fn set_live(&mut self, key: &str, value: &str, scope: Scope) -> Result<(), String> {
        // Refused before parsing: the parsed form takes more memory than the text, and one
        // value obeys the same 16 MiB as a document.
        let room = self.budget.limit.saturating_sub(self.budget.used);
        if value.len() > MAX_DOCUMENT_BYTES.min(self.budget.limit) {
            return Err(format!(
                "the value of state.set(\"{}\") is {} KiB of JSON, more than one value may be ({} KiB); \
                 store large data elsewhere (a worker, the database) and keep a reference in the state",
                preview(key),
                value.len().div_ceil(1024),
                MAX_DOCUMENT_BYTES.min(self.budget.limit) >> 10
            ));
        }
        let replaced = self.replaced(key, scope);
        // The value's cost, estimated from the text: refused before the parsed form exists.
        let estimate = value.len() + json_value_count(value) * JSON_VALUE_COST;
        if estimate > room.saturating_add(replaced) {
            let needed = self.budget.used.saturating_sub(replaced) + estimate;
            return Err(self.budget.refused(key, needed));
        }
        let what = format!("the value of state.set(\"{}\")", preview(key));
        let value = parse_guest_json(value, &what)?;
        // The key's last part and its quotes, colon and comma.
        let added = json_cost(&value) + key.rsplit('.').next().map_or(0, str::len) + 4;
        let needed = self
            .budget
            .used
            .saturating_sub(replaced)
            .saturating_add(added);
        if added > replaced && needed > self.budget.limit {
            return Err(self.budget.refused(key, needed));
        }
        match self.state.set(key, value, store_scope(scope)) {
            Ok(()) => {
                self.budget.used = needed;
                Ok(())
            }
            Err(e) => Err(match e.hint() {
                Some(hint) => format!("{e}; {hint}"),
                None => e.to_string(),
            }),
        }
    }

    /// What the value `set(key, _, scope)` would replace counts now (0 when there is none).
    fn replaced(&self, key: &str, scope: Scope) -> usize {
        self.state
            .value_in(store_scope(scope), key)
            .map_or(0, |old| {
                json_cost(old) + key.rsplit('.').next().map_or(0, str::len) + 4
            })
    }
}

/// What the variables cost: their JSON text and [`JSON_VALUE_COST`] per value.
fn variables_size(state: &RunState) -> usize {
    let maps = [&state.rounds, &state.global, &state.extra];
    let values: usize = maps
        .iter()
        .flat_map(|map| map.values())
        .map(json_values)
        .sum();
    let text: usize = maps.iter().map(json_text_bytes).sum();
    text + values * JSON_VALUE_COST
}

/// What the rest of the state file costs: the execution keys and the top-level syntax.
fn fixed_size(state: &RunState) -> usize {
    /// `{"rounds":,"global":,"current_round":,"last_completed_step":}`
    const KEYS_AND_PUNCTUATION: usize = 64;
    json_text_bytes(&state.current_round)
        + json_text_bytes(&state.last_completed_step)
        + KEYS_AND_PUNCTUATION
}

fn store_scope(scope: Scope) -> StoreScope {
    match scope {
        Scope::Round => StoreScope::Round,
        Scope::Global => StoreScope::Global,
    }
}

/// Links `state` into the store's host state.
pub(crate) struct StateData;

impl HasData for StateData {
    type Data<'a> = StateView<'a>;
}

pub(crate) fn view(state: &mut HostState) -> StateView<'_> {
    StateView::new(
        &mut state.state,
        &state.run,
        &mut state.state_budget,
        &state.recorder,
    )
}

#[cfg(test)]
mod tests {
    //! Unit tests of the `state` interface: reads, writes, the state budget and the size
    //! carried between steps.

    use super::*;
    use serde_json::json;

    #[tokio::test]
    async fn set_then_get_round_then_global_then_config() {
        let run = RunCtx {
            config: json!({"task_id": "t9", "base_port": 5000}),
            ..RunCtx::empty()
        };
        let mut state = RunState::default();
        let mut budget = StateBudget::measure(&RunState::default(), 1 << 20);
        let rec = Recorder::quiet();
        let mut v = StateView::new(&mut state, &run, &mut budget, &rec);
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
        let mut budget = StateBudget::measure(&RunState::default(), 1 << 20);
        let rec = Recorder::quiet();
        let mut v = StateView::new(&mut state, &run, &mut budget, &rec);
        let err = v
            .set("k".into(), "not json".into(), Scope::Round)
            .await
            .unwrap()
            .unwrap_err();
        assert!(err.contains("state.set(\"k\")"), "{err}");
        assert_eq!(state, RunState::default());
    }

    #[tokio::test]
    async fn the_state_budget_refuses_growth_with_an_error_value_naming_it() {
        let run = RunCtx::empty();
        let mut state = RunState::default();
        let mut budget = StateBudget::measure(&state, 1 << 20);
        let start = budget.used;
        let rec = Recorder::quiet();
        let mut v = StateView::new(&mut state, &run, &mut budget, &rec);
        let big = format!("\"{}\"", "x".repeat(400 << 10));
        v.set("a".into(), big.clone(), Scope::Round)
            .await
            .unwrap()
            .unwrap();
        v.set("b".into(), big.clone(), Scope::Global)
            .await
            .unwrap()
            .unwrap();
        let err = v
            .set("c".into(), big.clone(), Scope::Round)
            .await
            .unwrap()
            .unwrap_err();
        assert!(
        err.contains("exceeded the run state limit of 1 MiB (raise limits.state_max_mb in config.yaml or pass --state-max-mb)"),
        "{err}"
    );
        // Replacing a value frees what it counted: the same key can be set again, and a
        // small value in its place makes room for another large one.
        v.set("a".into(), big.clone(), Scope::Round)
            .await
            .unwrap()
            .unwrap();
        v.set("a".into(), "1".into(), Scope::Round)
            .await
            .unwrap()
            .unwrap();
        v.set("c".into(), big, Scope::Round).await.unwrap().unwrap();
        // Many tiny values count for more than their text.
        let tiny = format!("[{}0]", "0,".repeat(200 << 10));
        let err = v
            .set("d".into(), tiny, Scope::Round)
            .await
            .unwrap()
            .unwrap_err();
        assert!(err.contains("run state limit"), "{err}");
        assert!(state.get("d").is_none());
        // The count matches a fresh measure of what is stored.
        let fresh = StateBudget::measure(&state, 1 << 20).used;
        assert!(
            fresh.abs_diff(budget.used) < 64,
            "{fresh} vs {}",
            budget.used
        );
        assert!(budget.used > start);
    }

    #[tokio::test]
    async fn a_value_past_the_document_limit_is_refused_before_parsing() {
        let run = RunCtx::empty();
        let mut state = RunState::default();
        let mut budget = StateBudget::measure(&state, 1 << 30);
        let rec = Recorder::quiet();
        let mut v = StateView::new(&mut state, &run, &mut budget, &rec);
        // Not even valid JSON: refused for its size before the parser sees it.
        let err = v
            .set("k".into(), "[".repeat(MAX_DOCUMENT_BYTES + 1), Scope::Round)
            .await
            .unwrap()
            .unwrap_err();
        assert!(
            err.contains("more than one value may be (16384 KiB)"),
            "{err}"
        );
        let err = v
            .set(vec!["k"; 300_000].join("."), "1".into(), Scope::Round)
            .await
            .unwrap()
            .unwrap_err();
        assert!(err.contains("more than 100") && err.len() < 600, "{err}");
    }

    /// Steps of a long run reuse the remembered size instead of walking the state; what
    /// they carry forward stays close to a fresh measurement, and any change made outside
    /// a step (a resume, the journal's replay) makes the next step measure again.
    #[tokio::test]
    async fn the_measured_size_is_carried_between_steps_and_forgotten_on_other_changes() {
        let run = RunCtx::empty();
        let mut state = RunState::default();
        let rec = Recorder::quiet();
        for step in 0..50 {
            assert_eq!(state.variables_size().is_some(), step > 0, "step {step}");
            let mut budget = StateBudget::measure(&state, 64 << 20);
            let mut v = StateView::new(&mut state, &run, &mut budget, &rec);
            v.set(
                format!("k{step}"),
                format!("{{\"n\": {step}, \"s\": \"v\"}}"),
                Scope::Round,
            )
            .await
            .unwrap()
            .unwrap();
            v.set("seen.last".into(), format!("{step}"), Scope::Global)
                .await
                .unwrap()
                .unwrap();
            budget.remember_in(&mut state);
        }
        let carried = StateBudget::measure(&state, 64 << 20).used;
        let remembered = state.variables_size().unwrap();
        state.measured = Default::default();
        let fresh = StateBudget::measure(&state, 64 << 20).used;
        assert!(
            carried.abs_diff(fresh) * 20 <= fresh,
            "carried {carried} vs fresh {fresh}"
        );
        state.remember_variables_size(remembered);
        state
            .replay_set(StoreScope::Global, 1, "other", serde_json::json!(1))
            .unwrap();
        assert_eq!(state.variables_size(), None);
    }
}
