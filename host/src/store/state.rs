//! [`RunState`]: the runner variables a test keeps between steps and between runs, in the
//! shape of the Python runner's `test_state.json`.
//!
//! Steps read it with [`RunState::get`] (execution keys, then the current round, then
//! global; dot notation walks nested objects) and write it with [`RunState::set`]. The file
//! side lives in [`super::StateFile`].

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::StateError;
use super::limits::{MAX_NESTING, json_depth};

/// The key under which [`RunState::get`] returns [`RunState::current_round`].
pub const CURRENT_ROUND_KEY: &str = "current_round";
/// The key under which [`RunState::get`] returns [`RunState::last_completed_step`].
pub const LAST_COMPLETED_STEP_KEY: &str = "last_completed_step";

/// Everything persisted in `test_state.json`.
///
/// The serialized shape is the Python runner's:
/// `{"rounds": {"1": {..}}, "global": {..}, "current_round": 1, "last_completed_step": null}`.
/// Keys this version does not know are kept in [`RunState::extra`] and written back, so a
/// file shared with other tools loses nothing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunState {
    /// Per-round variables: the round number as a decimal string -> an object.
    #[serde(default)]
    pub rounds: Map<String, Value>,
    /// Variables shared by every round (the reference also stored its config here).
    #[serde(default)]
    pub global: Map<String, Value>,
    /// The round being run, from 1.
    pub current_round: u32,
    /// The last step of `current_round` that completed (passed or skipped); `None` when
    /// the round has not started.
    #[serde(default)]
    pub last_completed_step: Option<String>,
    /// Top-level keys this version does not know, kept as they were.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
    /// The keys set since the last [`RunState::take_changes`], for the checkpoint journal.
    #[serde(skip)]
    pub changes: ChangeLog,
    /// The variables' size as last measured for the state budget (see
    /// [`RunState::variables_size`]); forgotten by every change made through this type.
    #[serde(skip)]
    pub(crate) measured: MeasuredSize,
}

/// A remembered measurement of a [`RunState`]'s variables, so that the state budget costs
/// O(1) per step instead of a walk over a state that grows with the run.
///
/// Bookkeeping, not part of the state's value: never serialized, ignored by `==`.
#[derive(Debug, Clone, Copy, Default)]
pub struct MeasuredSize(Option<usize>);

impl PartialEq for MeasuredSize {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

/// One successful [`RunState::set`]: where it wrote. The journal records it with the value
/// the key holds when the step completes (so a value is never copied at `set` time).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangedKey {
    /// Round or global.
    pub scope: Scope,
    /// The round a [`Scope::Round`] key was set in (the current round at the time).
    pub round: u32,
    /// The key as the step wrote it, dots included.
    pub key: String,
}

/// The keys set since the last [`RunState::take_changes`], in call order.
///
/// Bookkeeping for the checkpoint journal, not part of the state's value: never serialized,
/// and ignored by `==` (two states with the same variables are equal however they got them).
#[derive(Debug, Clone, Default)]
pub struct ChangeLog(Vec<ChangedKey>);

impl PartialEq for ChangeLog {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Default for RunState {
    /// A fresh run: round 1, nothing completed, no variables.
    fn default() -> Self {
        RunState {
            rounds: Map::new(),
            global: Map::new(),
            current_round: 1,
            last_completed_step: None,
            extra: Map::new(),
            changes: ChangeLog::default(),
            measured: MeasuredSize::default(),
        }
    }
}

/// Where [`RunState::set`] stores a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// In the current round's object (`rounds."N"`); the next round starts without it.
    Round,
    /// In `global`, seen by every round.
    Global,
}

impl RunState {
    /// Looks `key` up the way the reference's `runner.get` does.
    ///
    /// `current_round` and `last_completed_step` return those fields (`null` when no step
    /// completed). Otherwise the current round's object is searched first, then `global`.
    /// A dotted key (`post_urls.worker1`) walks nested objects, in the round and then, if
    /// the whole path is not there, in `global` (the reference gave up after the round).
    /// A value stored as `null` is found (`Some(Value::Null)`), as in the reference.
    pub fn get(&self, key: &str) -> Option<Cow<'_, Value>> {
        match key {
            CURRENT_ROUND_KEY => return Some(Cow::Owned(Value::from(self.current_round))),
            LAST_COMPLETED_STEP_KEY => {
                let step = self.last_completed_step.clone();
                return Some(Cow::Owned(step.map_or(Value::Null, Value::String)));
            }
            _ => {}
        }
        let parts: Vec<&str> = key.split('.').collect();
        let in_round = self.round_data().and_then(|round| walk(round, &parts));
        in_round
            .or_else(|| walk(&self.global, &parts))
            .map(Cow::Borrowed)
    }

    /// Stores `value` under `key` in `scope`, creating the nested objects a dotted key
    /// names.
    ///
    /// Errors, leaving the state unchanged, when the key is empty or has an empty segment,
    /// when it is an execution key (the runner owns those), or when a value on the way is
    /// not an object (the reference replaced nothing there either: it crashed), or when
    /// the key's parts and the value's nesting together exceed [`MAX_NESTING`] (the state
    /// file would not be readable by the next run).
    pub fn set(&mut self, key: &str, value: Value, scope: Scope) -> Result<(), StateError> {
        // Counted before splitting: a 300 000-part key is refused without building it.
        let parts = key.split('.').count();
        let depth = json_depth(&value);
        if parts + depth > MAX_NESTING {
            return Err(StateError::TooDeep {
                key: shorten(key),
                parts,
                depth,
                max: MAX_NESTING,
            });
        }
        if key == CURRENT_ROUND_KEY || key == LAST_COMPLETED_STEP_KEY {
            return Err(StateError::ReservedKey {
                key: key.to_owned(),
            });
        }
        let round = self.current_round;
        self.measured = MeasuredSize::default();
        self.set_in(scope, round, key, value)?;
        self.changes.0.push(ChangedKey {
            scope,
            round,
            key: key.to_owned(),
        });
        Ok(())
    }

    /// Sets `key` in `scope` of `round` without recording a change: the journal's replay,
    /// which writes what a completed step set.
    pub fn replay_set(
        &mut self,
        scope: Scope,
        round: u32,
        key: &str,
        value: Value,
    ) -> Result<(), StateError> {
        self.measured = MeasuredSize::default();
        self.set_in(scope, round, key, value)
    }

    /// The size of the variables (`rounds`, `global` and unknown keys) that
    /// [`RunState::remember_variables_size`] recorded, if nothing changed them since
    /// through this type's methods.
    ///
    /// The fields are public, so code that edits them directly must not rely on this; the
    /// runner only moves `current_round` and `last_completed_step`, which it never covers.
    pub fn variables_size(&self) -> Option<usize> {
        self.measured.0
    }

    /// Records `size` as the variables' size, for the next [`RunState::variables_size`].
    pub fn remember_variables_size(&mut self, size: usize) {
        self.measured = MeasuredSize(Some(size));
    }

    /// The keys set since the last call, in call order; the log starts empty again.
    pub fn take_changes(&mut self) -> Vec<ChangedKey> {
        std::mem::take(&mut self.changes.0)
    }

    /// The value a changed key holds now, `None` when a later `set` of a parent replaced
    /// the object it was in (that parent's own change then carries the value).
    pub fn changed_value(&self, change: &ChangedKey) -> Option<&Value> {
        let parts: Vec<&str> = change.key.split('.').collect();
        match change.scope {
            Scope::Global => walk(&self.global, &parts),
            Scope::Round => self
                .rounds
                .get(&change.round.to_string())
                .and_then(Value::as_object)
                .and_then(|round| walk(round, &parts)),
        }
    }

    fn set_in(
        &mut self,
        scope: Scope,
        round: u32,
        key: &str,
        value: Value,
    ) -> Result<(), StateError> {
        let parts = split_key(key)?;
        let (root, root_name) = match scope {
            Scope::Global => (&mut self.global, "global".to_owned()),
            Scope::Round => {
                let round_key = round.to_string();
                let root_name = format!("rounds.{round_key}");
                let round = self
                    .rounds
                    .entry(round_key)
                    .or_insert_with(|| Value::Object(Map::new()));
                match round {
                    Value::Object(map) => (map, root_name),
                    other => {
                        return Err(StateError::NotAnObject {
                            key: key.to_owned(),
                            at: root_name,
                            found: type_name(other),
                        });
                    }
                }
            }
        };
        insert_path(root, &parts, value).map_err(|(depth, found)| StateError::NotAnObject {
            key: key.to_owned(),
            at: format!("{root_name}.{}", parts[..=depth].join(".")),
            found,
        })
    }

    /// The value stored under dotted `key` in `scope` exactly (no fallback to the other
    /// scope, no execution keys): what [`RunState::set`] with the same arguments replaces.
    pub fn value_in(&self, scope: Scope, key: &str) -> Option<&Value> {
        let parts: Vec<&str> = key.split('.').collect();
        match scope {
            Scope::Global => walk(&self.global, &parts),
            Scope::Round => self.round_data().and_then(|round| walk(round, &parts)),
        }
    }

    /// The current round's object, if that round stored anything (and it is an object).
    pub fn round_data(&self) -> Option<&Map<String, Value>> {
        self.rounds
            .get(&self.current_round.to_string())
            .and_then(Value::as_object)
    }
}

/// Splits a dotted key, refusing empty keys and empty segments (which would create
/// objects under `""` that no one means).
fn split_key(key: &str) -> Result<Vec<&str>, StateError> {
    let invalid = |reason| StateError::InvalidKey {
        key: key.to_owned(),
        reason,
    };
    if key.is_empty() {
        return Err(invalid("the key is empty"));
    }
    let parts: Vec<&str> = key.split('.').collect();
    if parts.iter().any(|part| part.is_empty()) {
        return Err(invalid("a part between dots is empty"));
    }
    Ok(parts)
}

/// The first characters of a key, for messages about keys too long to print whole.
fn shorten(key: &str) -> String {
    const MAX_CHARS: usize = 80;
    match key.char_indices().nth(MAX_CHARS) {
        Some((end, _)) => format!("{}…", &key[..end]),
        None => key.to_owned(),
    }
}

/// Follows `parts` through nested objects from `root`.
fn walk<'a>(root: &'a Map<String, Value>, parts: &[&str]) -> Option<&'a Value> {
    let (last, init) = parts.split_last()?;
    let mut current = root;
    for part in init {
        current = current.get(*part)?.as_object()?;
    }
    current.get(*last)
}

/// Inserts `value` at `parts` under `root`, creating missing objects. On a non-object in
/// the way, returns its depth in `parts` and its type; nothing was changed then, because
/// objects are only created past the last existing value.
fn insert_path(
    root: &mut Map<String, Value>,
    parts: &[&str],
    value: Value,
) -> Result<(), (usize, &'static str)> {
    let (last, init) = parts
        .split_last()
        .expect("split_key returns at least one part");
    let mut current = root;
    for (depth, part) in init.iter().enumerate() {
        let next = current
            .entry(*part)
            .or_insert_with(|| Value::Object(Map::new()));
        current = match next {
            Value::Object(map) => map,
            other => return Err((depth, type_name(other))),
        };
    }
    current.insert((*last).to_owned(), value);
    Ok(())
}

/// The JSON type of `value`, for error messages.
fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    //! Tests of `RunState::get` / `set`: the reference's lookup order, dot notation, and the
    //! errors where the reference crashed or overwrote.

    use crate::error::UserFacing;
    use serde_json::{Value, json};

    use super::*;

    fn state_from(value: Value) -> RunState {
        serde_json::from_value(value).expect("test state has the state's shape")
    }

    fn get(state: &RunState, key: &str) -> Option<Value> {
        state.get(key).map(|value| value.into_owned())
    }

    #[test]
    fn fresh_state_starts_at_round_one() {
        let state = RunState::default();
        assert_eq!(state.current_round, 1);
        assert_eq!(state.last_completed_step, None);
        assert!(state.rounds.is_empty() && state.global.is_empty() && state.extra.is_empty());
    }

    #[test]
    fn get_prefers_current_round_over_global() {
        let state = state_from(json!({
            "rounds": {"1": {"pr": "round-1"}, "2": {"pr": "round-2"}},
            "global": {"pr": "global", "only_global": 7},
            "current_round": 2,
            "last_completed_step": null
        }));
        assert_eq!(get(&state, "pr"), Some(json!("round-2")));
        assert_eq!(get(&state, "only_global"), Some(json!(7)));
        assert_eq!(get(&state, "missing"), None);
    }

    #[test]
    fn get_finds_null_stored_in_round_before_global() {
        let state = state_from(json!({
            "rounds": {"1": {"x": null}}, "global": {"x": 1}, "current_round": 1
        }));
        assert_eq!(get(&state, "x"), Some(Value::Null));
    }

    #[test]
    fn get_returns_execution_keys() {
        let mut state = RunState::default();
        state
            .global
            .insert("current_round".into(), json!("shadowed"));
        assert_eq!(get(&state, "current_round"), Some(json!(1)));
        assert_eq!(get(&state, "last_completed_step"), Some(Value::Null));
        state.current_round = 3;
        state.last_completed_step = Some("submit".into());
        assert_eq!(get(&state, "current_round"), Some(json!(3)));
        assert_eq!(get(&state, "last_completed_step"), Some(json!("submit")));
    }

    #[test]
    fn dotted_get_walks_round_then_global() {
        let state = state_from(json!({
            "rounds": {"1": {"urls": {"w1": "round-url"}}},
            "global": {"urls": {"w1": "global-url", "w2": "global-w2"}, "deep": {"a": {"b": 3}}},
            "current_round": 1
        }));
        assert_eq!(get(&state, "urls.w1"), Some(json!("round-url")));
        // Not in the round's `urls`: found in global (the reference returned None here).
        assert_eq!(get(&state, "urls.w2"), Some(json!("global-w2")));
        assert_eq!(get(&state, "deep.a.b"), Some(json!(3)));
        assert_eq!(get(&state, "deep.a.b.c"), None);
        assert_eq!(get(&state, "urls.w3"), None);
    }

    #[test]
    fn set_round_goes_to_current_round_only() {
        let mut state = RunState::default();
        state.set("pr", json!("one"), Scope::Round).unwrap();
        state.current_round = 2;
        assert_eq!(get(&state, "pr"), None);
        state.set("pr", json!("two"), Scope::Round).unwrap();
        assert_eq!(
            serde_json::to_value(&state.rounds).unwrap(),
            json!({"1": {"pr": "one"}, "2": {"pr": "two"}})
        );
    }

    #[test]
    fn set_global_is_seen_by_every_round() {
        let mut state = RunState::default();
        state.set("task", json!("t-1"), Scope::Global).unwrap();
        state.current_round = 5;
        assert_eq!(get(&state, "task"), Some(json!("t-1")));
        assert!(state.rounds.is_empty());
    }

    #[test]
    fn dotted_set_creates_nested_objects_and_keeps_siblings() {
        let mut state = RunState::default();
        state
            .set("pr_urls.worker1", json!("u1"), Scope::Round)
            .unwrap();
        state
            .set("pr_urls.worker2", json!("u2"), Scope::Round)
            .unwrap();
        state.set("a.b.c", json!(1), Scope::Global).unwrap();
        assert_eq!(
            Value::Object(state.round_data().unwrap().clone()),
            json!({"pr_urls": {"worker1": "u1", "worker2": "u2"}})
        );
        assert_eq!(
            Value::Object(state.global.clone()),
            json!({"a": {"b": {"c": 1}}})
        );
        assert_eq!(get(&state, "pr_urls.worker2"), Some(json!("u2")));
    }

    #[test]
    fn set_through_non_object_is_an_error_and_changes_nothing() {
        let mut state = RunState::default();
        state.set("url", json!("http://x"), Scope::Global).unwrap();
        let before = state.clone();
        let err = state
            .set("url.worker1", json!(1), Scope::Global)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"cannot set state key "url.worker1": "global.url" holds a string, not an object"#
        );
        assert!(err.hint().is_some());
        assert_eq!(state, before);

        state.set("list", json!([1]), Scope::Round).unwrap();
        let err = state.set("list.x.y", json!(1), Scope::Round).unwrap_err();
        assert!(matches!(
            &err,
            StateError::NotAnObject { at, found: "an array", .. } if at == "rounds.1.list"
        ));
    }

    #[test]
    fn set_in_a_round_that_is_not_an_object_is_an_error() {
        let mut state = state_from(json!({"rounds": {"1": 5}, "current_round": 1}));
        let err = state.set("x", json!(1), Scope::Round).unwrap_err();
        assert!(matches!(&err, StateError::NotAnObject { at, .. } if at == "rounds.1"));
        assert_eq!(state.round_data(), None);
        assert_eq!(get(&state, "x"), None);
    }

    #[test]
    fn set_refuses_empty_keys_and_segments() {
        let mut state = RunState::default();
        for key in ["", "a..b", ".a", "a."] {
            let err = state.set(key, json!(1), Scope::Global).unwrap_err();
            assert!(
                matches!(err, StateError::InvalidKey { .. }),
                "{key:?}: {err}"
            );
        }
        assert_eq!(state, RunState::default());
    }

    #[test]
    fn set_refuses_execution_keys() {
        let mut state = RunState::default();
        for key in ["current_round", "last_completed_step"] {
            let err = state.set(key, json!(9), Scope::Round).unwrap_err();
            assert!(
                matches!(err, StateError::ReservedKey { .. }),
                "{key}: {err}"
            );
        }
        assert_eq!(state, RunState::default());
        // A nested key under the same name is an ordinary key.
        state
            .set("current_round.note", json!("x"), Scope::Round)
            .unwrap();
        assert_eq!(get(&state, "current_round.note"), Some(json!("x")));
    }

    #[test]
    fn set_overwrites_a_leaf() {
        let mut state = RunState::default();
        state.set("a.b", json!(1), Scope::Round).unwrap();
        state.set("a.b", json!({"c": 2}), Scope::Round).unwrap();
        state.set("a", json!("flat"), Scope::Round).unwrap();
        assert_eq!(get(&state, "a"), Some(json!("flat")));
    }
}
