//! Tests of the plan parser: shape, references and the line:column of errors.

use std::path::Path;

use super::*;

const PIN: &str = "3f1c0000000000000000000000000000000000000000000000000000000000ab";

fn plan(text: &str) -> Result<PlanFile, PlanError> {
    parse_plan(text, Path::new("tests/plan.yaml"))
}

#[test]
fn too_many_packages_or_steps_are_refused_at_their_key() {
    let packages: String = (0..=MAX_PLAN_PACKAGES)
        .map(|i| format!("  p{i}:\n    path: p.wasm\n"))
        .collect();
    let err = plan(&format!("packages:\n{packages}steps:\n  - use: p0\n")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "tests/plan.yaml:1:1: the plan lists 65 packages; at most 64 are allowed"
    );
    let steps = "  - use: p\n".repeat(MAX_PLAN_STEPS + 1);
    let err = plan(&format!(
        "packages:\n  p:\n    path: p.wasm\nsteps:\n{steps}"
    ))
    .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("tests/plan.yaml:4:1: the plan lists 1001 steps"),
        "{err}"
    );
    let ok = "  - use: p\n".repeat(MAX_PLAN_STEPS);
    let started = std::time::Instant::now();
    let p = plan(&format!("packages:\n  p:\n    path: p.wasm\nsteps:\n{ok}")).expect("at the cap");
    assert_eq!(p.steps.len(), MAX_PLAN_STEPS);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(30),
        "did not hang"
    );
}

#[test]
fn deep_nesting_in_a_plan_is_refused_at_its_line() {
    let deep = format!(
        "packages:\n  p:\n    path: p.wasm\nsteps:\n  - use: p\n    params: {}{}\n",
        "{a: ".repeat(100_000),
        "}".repeat(100_000)
    );
    let err = plan(&deep).unwrap_err();
    assert!(err.to_string().starts_with("tests/plan.yaml:6:"), "{err}");
    assert!(err.to_string().contains("nested more than 128"), "{err}");
}

#[test]
fn a_plan_that_is_a_fifo_is_refused_naming_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("plan.yaml");
    nix::unistd::mkfifo(&path, nix::sys::stat::Mode::from_bits_truncate(0o600)).expect("mkfifo");
    let err = load_plan(&path).unwrap_err();
    assert!(
        err.to_string()
            .ends_with("plan.yaml: cannot read the plan: is a FIFO, not a regular file"),
        "{err}"
    );
    assert_eq!(err.hint().as_deref(), Some("name a regular file"));
}

#[test]
fn a_plan_resolves_paths_against_its_directory_and_keeps_order() {
    let text = format!(
        "packages:\n  audit:\n    path: ../shared/audit.wasm\n    sha256: {}\n  hello:\n    path: hello.wasm\nsteps:\n  - use: hello\n  - use: audit/audit-health\n    name: audit-2\n    worker: worker2\n    params: {{target: worker1, retries: 2}}\n",
        PIN.to_uppercase()
    );
    let p = plan(&text).expect("valid plan");
    assert_eq!(p.packages.len(), 2);
    assert_eq!(p.packages[0].name, "audit");
    assert_eq!(
        p.packages[0].source,
        crate::config::PackageSource::Path("tests/../shared/audit.wasm".into())
    );
    assert_eq!(p.packages[0].sha256.as_deref(), Some(PIN), "lowercased");
    assert_eq!(p.packages[1].sha256, None);
    assert_eq!(p.steps[0].step, None, "whole package");
    assert_eq!(p.steps[1].step.as_deref(), Some("audit-health"));
    assert_eq!(p.steps[1].name.as_deref(), Some("audit-2"));
    assert_eq!(
        p.steps[1].params,
        Some(serde_json::json!({"target": "worker1", "retries": 2}))
    );
    assert_eq!(p.steps[1].use_at, Some(Location::new(9, 10)));
    assert_eq!(p.steps[1].worker_at, Some(Location::new(11, 13)));
    assert_eq!(p.config, None);
}

#[test]
fn an_unknown_package_is_reported_at_its_use() {
    let err = plan("packages:\n  a:\n    path: a.wasm\nsteps:\n  - use: a/one\n  - use: b/two\n")
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "tests/plan.yaml:6:10: step 2 uses unknown package `b`"
    );
    assert!(err.hint().expect("hint").contains("packages are: a"));
}

#[test]
fn an_unknown_key_is_reported_with_its_position() {
    let err = plan("packages:\n  a:\n    path: a.wasm\nsteps:\n  - use: a/one\n    wroker: w\n")
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with("tests/plan.yaml:6:5: steps[0]: unknown field `wroker`"),
        "{text}"
    );
    assert!(text.contains("expected one of"), "{text}");
}

#[test]
fn a_malformed_pin_is_refused_at_its_value() {
    let err = plan("packages:\n  a:\n    path: a.wasm\n    sha256: abc\nsteps:\n  - use: a\n")
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "tests/plan.yaml:4:13: the sha256 pin of package `a` is not 64 hex digits"
    );
}

#[test]
fn params_must_be_a_mapping() {
    let err = plan("packages:\n  a:\n    path: a.wasm\nsteps:\n  - use: a/x\n    params: [1]\n")
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "tests/plan.yaml:6:13: the params of step 1 are not a mapping"
    );
}

#[test]
fn a_whole_package_use_cannot_be_renamed() {
    let err =
        plan("packages:\n  a:\n    path: a.wasm\nsteps:\n  - use: a\n    name: b\n").unwrap_err();
    assert!(err.to_string().contains("cannot share one `name`"), "{err}");
}

#[test]
fn empty_lists_are_refused() {
    let err = plan("packages: {}\nsteps: []\n").unwrap_err();
    assert!(err.to_string().contains("lists no packages"), "{err}");
    let err = plan("packages:\n  a:\n    path: a.wasm\nsteps: []\n").unwrap_err();
    assert_eq!(
        err.to_string(),
        "tests/plan.yaml:4:1: the plan lists no steps"
    );
}

#[test]
fn config_is_resolved_against_the_plan() {
    let p = plan("config: other.yaml\npackages:\n  a:\n    path: a.wasm\nsteps:\n  - use: a\n")
        .expect("valid");
    assert_eq!(p.config.as_deref(), Some(Path::new("tests/other.yaml")));
}

#[test]
fn faults_are_read_with_the_plan_as_their_origin_and_refused_at_its_key() {
    let p = plan(
        "packages:\n  a:\n    path: a.wasm\nsteps:\n  - use: a/x\n    name: y\nfaults:\n  - at: {round: 1, after: y}\n    kill: w1\n",
    )
    .expect("valid");
    assert_eq!(p.faults.len(), 1);
    assert_eq!(
        p.faults[0].origin,
        super::super::faults::FaultOrigin::Plan("tests/plan.yaml".into())
    );
    assert_eq!(
        p.faults[0].describe(),
        "plan.yaml faults[0] (round 1, after y): kill w1"
    );
    assert_eq!(p.faults_at.map(|l| (l.line, l.column)), Some((7, 1)));

    let err = plan(
        "packages:\n  a:\n    path: a.wasm\nsteps:\n  - use: a\nfaults:\n  - at: {round: 0}\n    kill: w1\n",
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "tests/plan.yaml:6:1: invalid `faults[0].at.round`: rounds count from 1"
    );
    let err = plan(
        "packages:\n  a:\n    path: a.wasm\nsteps:\n  - use: a\nfaults:\n  - at: {round: 1}\n    kil: w1\n",
    )
    .unwrap_err();
    assert!(err.to_string().contains("unknown field `kil`"), "{err}");
}
