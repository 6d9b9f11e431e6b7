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
