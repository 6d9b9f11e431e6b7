//! `analyse` and `write` on small folders made on the spot.

use std::path::{Path, PathBuf};

use super::{StepsSource, analyse, entry_module, write};

fn project(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for (path, text) in files {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    }
    dir
}

#[test]
fn follows_project_imports_and_lists_what_cannot_run() {
    let dir = project(&[
        (
            "tests/steps.py",
            "from prometheus_test import TestStep\nfrom .stages import a, b\nsteps = []\n",
        ),
        (
            "tests/stages/a.py",
            "import json\nimport nacl.signing\nfrom . import helper\n",
        ),
        (
            "tests/stages/b.py",
            "from stages.helper import f\nx = \"open(\"  # open(\n",
        ),
        (
            "tests/stages/helper.py",
            "def f():\n    return open('x').read()\n",
        ),
        (
            "tests/e2e.py",
            "import dotenv\nconfig_overrides={\"post_load_callback\": cb}\ndef cb(db): pass\n",
        ),
        ("tests/unused.py", "import socket\n"),
    ]);
    let suite = analyse(&dir.path().join("tests")).expect("analyse");
    let modules: Vec<PathBuf> = suite.modules.clone();
    assert_eq!(
        modules,
        [
            "tests/steps.py",
            "tests/stages/a.py",
            "tests/stages/helper.py",
            "tests/stages/b.py"
        ]
        .map(PathBuf::from)
    );
    assert_eq!(suite.steps_module, "tests.steps");
    assert_eq!(suite.steps_source, StepsSource::Variable);
    let found: Vec<(String, usize, String)> = suite
        .findings
        .iter()
        .map(|f| (f.file.display().to_string(), f.line, f.what.clone()))
        .collect();
    assert_eq!(
        found,
        [
            (
                "tests/e2e.py".to_owned(),
                2,
                "post_load_callback `cb`".to_owned()
            ),
            (
                "tests/stages/a.py".to_owned(),
                2,
                "import of `nacl.signing`".to_owned()
            ),
            ("tests/stages/helper.py".to_owned(), 2, "`open`".to_owned()),
        ]
    );
    assert!(suite.stubs.contains_key("nacl"));
    assert!(suite.post_load.is_none());
}

#[test]
fn writes_the_package_and_refuses_to_overwrite_it() {
    let dir = project(&[
        (
            "tests/steps.py",
            "from .stages import s\ndef build():\n    return [TestStep('a')]\n",
        ),
        ("tests/stages/s.py", "import pymongo\n"),
        ("tests/post.py", "def cb(db):\n    pass\n"),
        (
            "tests/e2e.py",
            "from .post import cb\nTestRunner(steps, config_overrides={'post_load_callback': cb})\n",
        ),
    ]);
    let tests = dir.path().join("tests");
    let suite = analyse(&tests).expect("analyse");
    assert_eq!(suite.steps_source, StepsSource::Function("build".into()));
    let written = write(&suite, false).expect("write");
    let wasm = tests.join("wasm");
    assert_eq!(written.dir, wasm);
    for file in [
        "src/tests/steps.py",
        "src/tests/__init__.py",
        "src/tests/stages/__init__.py",
        "helpers/prometheus_test/__init__.py",
        "helpers/requests/__init__.py",
        "wit/step.wit",
        "build.sh",
        "plan.yaml",
        "MIGRATION.txt",
    ] {
        assert!(wasm.join(file).is_file(), "{file}");
    }
    let entry = entry_module(&suite);
    assert!(
        entry.contains("from tests.steps import build\n\nsteps = build()"),
        "{entry}"
    );
    assert!(
        entry.contains("from tests.post import cb as post_load_callback"),
        "{entry}"
    );
    assert!(
        entry.contains("\"pymongo\": \"the runner owns the database connection"),
        "{entry}"
    );
    let report = std::fs::read_to_string(wasm.join("MIGRATION.txt")).expect("report");
    assert!(
        report.contains("tests/stages/s.py:1: import of `pymongo`"),
        "{report}"
    );
    let err = write(&suite, false).expect_err("wasm/ exists");
    assert!(err.to_string().ends_with("wasm already exists"), "{err}");
    std::fs::write(wasm.join("steps.wasm"), b"built").expect("fake build");
    write(&suite, true).expect("--force");
    assert!(wasm.join("steps.wasm").exists(), "--force keeps the build");
}

#[test]
fn build_script_pins_the_componentize_py_the_repository_tests_with() {
    let requirements =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/requirements-dev.txt");
    let text = std::fs::read_to_string(requirements).expect("requirements-dev.txt");
    let pin = format!("componentize-py=={}", super::COMPONENTIZE_PY_VERSION);
    assert!(
        text.lines().any(|l| l.trim() == pin),
        "{pin} not in requirements-dev.txt"
    );
}

#[test]
fn steps_from_a_variable_or_a_function() {
    let var = super::lexer::logical_lines("steps = [\n  TestStep(...),\n]\n");
    assert_eq!(
        super::suite::steps_source(&var),
        Some(StepsSource::Variable)
    );
    let typed = super::lexer::logical_lines("steps: list = []\n");
    assert_eq!(
        super::suite::steps_source(&typed),
        Some(StepsSource::Variable)
    );
    let func = super::lexer::logical_lines(
        "def helper():\n    return 1\ndef build_steps():\n    return [TestStep('a')]\n",
    );
    assert_eq!(
        super::suite::steps_source(&func),
        Some(StepsSource::Function("build_steps".into()))
    );
    assert_eq!(
        super::suite::steps_source(&super::lexer::logical_lines("x = 1\n")),
        None
    );
}

#[test]
fn dotted_names() {
    assert_eq!(
        super::suite::dotted(Path::new("tests/stages/a.py")),
        "tests.stages.a"
    );
    assert_eq!(
        super::suite::dotted(Path::new("tests/stages/__init__.py")),
        "tests.stages"
    );
}

#[test]
fn state_listings_are_findings_with_file_and_line_and_the_report_says_what_was_checked() {
    let dir = project(&[
        (
            "tests/steps.py",
            "from prometheus_test import TestStep\nfrom .stages import audit\nsteps = []\n",
        ),
        (
            "tests/stages/audit.py",
            "import json\n\ndef execute(runner, worker, data):\n    round_state = runner.state[\"rounds\"].setdefault(str(runner.current_round), {})\n    round_state[\"pr_urls\"] = {}\n    for key in round_state:\n        print(key, json.dumps(round_state[\"pr_urls\"]))\n    return len(runner.state['global'])\n",
        ),
    ]);
    let suite = analyse(&dir.path().join("tests")).expect("analyse");
    let found: Vec<(String, usize, String)> = suite
        .findings
        .iter()
        .map(|f| (f.file.display().to_string(), f.line, f.what.clone()))
        .collect();
    assert_eq!(
        found,
        [
            (
                "tests/stages/audit.py".to_owned(),
                6,
                "iteration (`for ... in`) of runner.state['rounds'][round] (`round_state`)"
                    .to_owned()
            ),
            (
                "tests/stages/audit.py".to_owned(),
                8,
                "`len()` of runner.state['global']".to_owned()
            ),
        ]
    );
    assert!(
        suite.findings[0]
            .why
            .contains("raises SandboxError at run time")
    );
    let written = write(&suite, false).expect("write");
    let report = std::fs::read_to_string(written.dir.join("MIGRATION.txt")).expect("report");
    assert!(
        report.contains("tests/stages/audit.py:6: iteration (`for ... in`) of runner.state"),
        "{report}"
    );
    assert!(report.contains(super::CHECKED), "{report}");
    assert!(!report.to_lowercase().contains("everything"), "{report}");
}

#[test]
fn a_suite_with_nothing_to_list_says_what_was_checked_not_that_everything_was_carried_over() {
    let dir = project(&[(
        "tests/steps.py",
        "from prometheus_test import TestStep\nsteps = []\n",
    )]);
    let suite = analyse(&dir.path().join("tests")).expect("analyse");
    assert!(suite.findings.is_empty(), "{:?}", suite.findings);
    let written = write(&suite, false).expect("write");
    let report = std::fs::read_to_string(written.dir.join("MIGRATION.txt")).expect("report");
    assert!(report.contains(super::NOTHING_FOUND), "{report}");
    assert!(report.contains(super::CHECKED), "{report}");
    assert!(!report.to_lowercase().contains("everything"), "{report}");
}
