//! `preflight`: every refusal that needs no process, each naming the worker, and the
//! programs it must accept (found on the worker's own PATH, relative to its cwd).

use crate::error::UserFacing;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::support::{free_port, new_tag, sh, spec};
use crate::workers::{WorkerErrorKind, preflight};

fn write_program(path: &Path, mode: u32) {
    std::fs::write(path, "#!/bin/sh\nexec sleep 1000\n").expect("write the program");
    let mut permissions = std::fs::metadata(path).expect("metadata").permissions();
    permissions.set_mode(mode);
    std::fs::set_permissions(path, permissions).expect("chmod");
}

#[test]
fn a_missing_cwd_is_refused_naming_the_worker() {
    let tag = new_tag();
    let mut bad = sh(&tag, "lost", free_port(), "exec sleep 1000");
    bad.cwd = std::env::temp_dir().join(format!("prometheus-wasm-no-such-dir-{tag}"));
    let specs = vec![sh(&tag, "fine", free_port(), "exec sleep 1000"), bad];
    let error = preflight(&specs).expect_err("the cwd is missing");
    assert_eq!(error.worker(), "lost");
    assert!(
        matches!(error.kind(), WorkerErrorKind::BadCwd { .. }),
        "{error}"
    );
    assert!(error.to_string().contains("no-such-dir"), "{error}");
    assert!(error.hint().is_some());
}

#[test]
fn a_file_as_cwd_is_refused() {
    let tag = new_tag();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, "").expect("write a file");
    let mut bad = sh(&tag, "filed", free_port(), "exec sleep 1000");
    bad.cwd = file;
    let error = preflight(&[bad]).expect_err("the cwd is a file");
    assert!(
        matches!(error.kind(), WorkerErrorKind::BadCwd { .. }),
        "{error}"
    );
}

#[test]
fn a_program_missing_from_the_workers_path_is_refused() {
    let tag = new_tag();
    let dir = tempfile::tempdir().expect("a temporary directory");
    write_program(&dir.path().join("only-here"), 0o755);
    // On the runner's PATH it does not matter: the worker's own PATH is searched.
    let mut bad = spec(&tag, "pathless", free_port(), "only-here", &[]);
    bad.env.insert("PATH".to_owned(), "/nonexistent".to_owned());
    let error = preflight(&[bad.clone()]).expect_err("not on the worker's PATH");
    assert!(
        matches!(error.kind(), WorkerErrorKind::ProgramNotFound { searched: Some(p), .. } if p == "/nonexistent"),
        "{error}"
    );
    bad.env
        .insert("PATH".to_owned(), dir.path().display().to_string());
    preflight(&[bad]).expect("found on the worker's PATH");
}

#[test]
fn a_program_without_execute_permission_is_refused() {
    let tag = new_tag();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let program = dir.path().join("server.sh");
    write_program(&program, 0o644);
    let bad = spec(
        &tag,
        "plain",
        free_port(),
        &program.display().to_string(),
        &[],
    );
    let error = preflight(&[bad]).expect_err("not executable");
    assert_eq!(error.worker(), "plain");
    assert!(
        matches!(error.kind(), WorkerErrorKind::ProgramNotExecutable { path } if path == &program),
        "{error}"
    );
    assert!(error.hint().expect("a hint").contains("chmod +x"));
}

#[test]
fn a_relative_program_is_looked_up_in_the_workers_cwd() {
    let tag = new_tag();
    let dir = tempfile::tempdir().expect("a temporary directory");
    write_program(&dir.path().join("srv"), 0o755);
    let mut relative = spec(&tag, "local", free_port(), "./srv", &[]);
    relative.cwd = dir.path().to_path_buf();
    preflight(&[relative.clone()]).expect("./srv exists in the cwd");
    relative.program = "./missing".to_owned();
    let error = preflight(&[relative]).expect_err("./missing does not");
    assert!(
        matches!(
            error.kind(),
            WorkerErrorKind::ProgramNotFound { searched: None, .. }
        ),
        "{error}"
    );
}

#[test]
fn ports_are_checked_before_programs() {
    let tag = new_tag();
    let port = free_port();
    let specs = vec![
        spec(
            &tag,
            "ghost",
            free_port(),
            "prometheus-wasm-no-such-program",
            &[],
        ),
        sh(&tag, "one", port, "exec sleep 1000"),
        sh(&tag, "two", port, "exec sleep 1000"),
    ];
    let error = preflight(&specs).expect_err("ports clash");
    assert!(
        matches!(error.kind(), WorkerErrorKind::DuplicatePort { .. }),
        "{error}"
    );
}
