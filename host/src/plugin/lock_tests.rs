//! Tests of the capability lock: comparison rules and the file round trip.

use super::*;

fn lock(entries: &[(&str, &str, &[&str])]) -> LockFile {
    LockFile {
        version: LOCK_VERSION,
        packages: entries
            .iter()
            .map(|(name, sha, imports)| {
                let imports: Vec<String> = imports.iter().map(|s| s.to_string()).collect();
                (
                    name.to_string(),
                    LockedPackage {
                        sha256: sha.to_string(),
                        wit: wit_of(&imports),
                        imports,
                        identity: None,
                    },
                )
            })
            .collect(),
    }
}

const LOG: &str = "prometheus:step/log@0.1.0";
const HTTP: &str = "prometheus:step/http@0.1.0";

#[test]
fn a_new_import_is_a_violation_naming_it() {
    let locked = lock(&[("audit", "aa", &[LOG])]);
    let now = lock(&[("audit", "bb", &[LOG, HTTP])]);
    let diff = compare(&locked, &now);
    assert!(diff.is_violation());
    let text = diff.render_grown();
    assert!(text.contains("package `audit`"), "{text}");
    assert!(
        text.contains("+ prometheus:step/http@0.1.0  (HTTP requests"),
        "{text}"
    );
}

#[test]
fn a_rebuild_within_the_lock_is_not_a_violation() {
    let locked = lock(&[("audit", "aa", &[LOG, HTTP])]);
    let now = lock(&[("audit", "bb", &[LOG])]);
    let diff = compare(&locked, &now);
    assert!(!diff.is_violation());
    assert_eq!(diff.shrunk, vec![("audit".into(), vec![HTTP.to_string()])]);
    assert_eq!(diff.rebuilt.len(), 1);
    assert!(!diff.is_unchanged());
    assert!(compare(&locked, &locked).is_unchanged());
}

#[test]
fn wasi_patch_versions_are_one_capability_but_wit_versions_are_not() {
    let locked = lock(&[("a", "aa", &["wasi:io/streams@0.2.3", LOG])]);
    let now = lock(&[("a", "aa", &["wasi:io/streams@0.2.6", LOG])]);
    assert!(compare(&locked, &now).is_unchanged());
    let newer = lock(&[("a", "aa", &["prometheus:step/log@0.2.0"])]);
    let diff = compare(&locked, &newer);
    assert!(diff.is_violation());
    assert!(
        diff.render_grown()
            .contains("WIT target prometheus:step@0.1.0 -> prometheus:step@0.2.0")
    );
}

#[test]
fn added_and_removed_packages_are_changes_not_violations() {
    let locked = lock(&[("old", "aa", &[LOG])]);
    let now = lock(&[("new", "bb", &[LOG])]);
    let diff = compare(&locked, &now);
    assert!(!diff.is_violation());
    assert_eq!(diff.added, ["new"]);
    assert_eq!(diff.removed, ["old"]);
}

#[test]
fn the_file_round_trips_and_refuses_other_versions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = LockFile::path_for(&dir.path().join("plan.yaml"));
    assert_eq!(path.file_name().and_then(|n| n.to_str()), Some("plan.lock"));
    assert_eq!(LockFile::read(&path).expect("no file is fine"), None);
    let l = lock(&[("a", "aa", &[LOG, HTTP])]);
    l.write(&path).expect("write");
    assert_eq!(LockFile::read(&path).expect("read"), Some(l));
    std::fs::write(&path, r#"{"version": 9, "packages": {}}"#).expect("write");
    let err = LockFile::read(&path).unwrap_err().to_string();
    assert!(err.contains("format version 9"), "{err}");
}
