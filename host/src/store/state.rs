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
        self.set_in(scope, round, key, value)
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
#[path = "state_tests.rs"]
mod tests;
