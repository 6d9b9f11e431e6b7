//! Tests of `RunState::get` / `set`: the reference's lookup order, dot notation, and the
//! errors where the reference crashed or overwrote.

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
