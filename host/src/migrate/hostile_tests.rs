//! `analyse` and `write` on suites written to attack them: symbolic links out of the
//! project and into wasm/, names that are shell or Python code, paths smuggled in import
//! names, oversized and deeply chained suites. Real folders, real links, real FIFOs.

use crate::error::UserFacing;

use std::os::unix::fs::symlink;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::{Limits, MigrateError, analyse, analyse_with, entry_module, write};

/// A temp root holding `project/` (the files given, relative to it) and `outside/` with
/// `secret.py`, which nothing may read, copy, change or delete.
struct Fixture {
    root: tempfile::TempDir,
}

impl Fixture {
    fn new(files: &[(&str, &str)]) -> Self {
        let root = tempfile::tempdir().expect("temp dir");
        let fixture = Fixture { root };
        for (path, text) in files {
            fixture.file(path, text);
        }
        std::fs::create_dir_all(fixture.outside()).expect("outside");
        std::fs::write(fixture.outside().join("secret.py"), "TOKEN = 'secret'\n").expect("secret");
        fixture
    }

    fn file(&self, path: &str, text: &str) {
        let path = self.project().join(path);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    }

    fn project(&self) -> PathBuf {
        self.root.path().join("project")
    }

    fn tests(&self) -> PathBuf {
        self.project().join("tests")
    }

    fn outside(&self) -> PathBuf {
        self.root.path().join("outside")
    }

    /// The names in outside/, sorted: what a write through a link would change.
    fn outside_listing(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.outside())
            .expect("read outside")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

const STEPS: &str = "from prometheus_test import TestStep\nsteps = []\n";

#[test]
fn a_wasm_link_is_refused_even_with_force_and_nothing_outside_changes() {
    let f = Fixture::new(&[("tests/steps.py", STEPS)]);
    symlink(f.outside(), f.tests().join("wasm")).expect("link");
    let suite = analyse(&f.tests()).expect("analyse");
    for force in [false, true] {
        let err = write(&suite, force).expect_err("a linked wasm/ is refused");
        assert!(
            matches!(err, MigrateError::UnsafeOutput { .. }),
            "force={force}: {err}"
        );
        assert!(err.to_string().contains("is a symbolic link"), "{err}");
        assert!(err.to_string().contains("wasm"), "{err}");
    }
    assert_eq!(f.outside_listing(), ["secret.py"]);
}

#[test]
fn force_refuses_a_linked_owned_folder_instead_of_deleting_through_it() {
    let f = Fixture::new(&[("tests/steps.py", STEPS)]);
    std::fs::create_dir(f.tests().join("wasm")).expect("wasm");
    symlink(f.outside(), f.tests().join("wasm/src")).expect("link");
    let suite = analyse(&f.tests()).expect("analyse");
    let err = write(&suite, true).expect_err("a linked wasm/src is refused");
    assert!(
        err.to_string().contains("wasm/src is a symbolic link"),
        "{err}"
    );
    assert_eq!(f.outside_listing(), ["secret.py"]);
}

#[test]
fn force_removes_a_link_inside_src_without_following_it() {
    let f = Fixture::new(&[("tests/steps.py", STEPS)]);
    let suite = analyse(&f.tests()).expect("analyse");
    write(&suite, false).expect("first write");
    symlink(f.outside(), f.tests().join("wasm/src/tests/planted")).expect("link");
    write(&suite, true).expect("--force rewrites src/");
    assert!(
        std::fs::symlink_metadata(f.tests().join("wasm/src/tests/planted")).is_err(),
        "the planted link went with src/"
    );
    assert_eq!(f.outside_listing(), ["secret.py"]);
}

#[test]
fn a_link_where_a_file_is_written_is_refused_and_its_target_kept() {
    let f = Fixture::new(&[("tests/steps.py", STEPS)]);
    let suite = analyse(&f.tests()).expect("analyse");
    write(&suite, false).expect("first write");
    for planted in ["build.sh", "plan.yaml", "MIGRATION.txt"] {
        let at = f.tests().join("wasm").join(planted);
        std::fs::remove_file(&at).expect("remove");
        symlink(f.outside().join("secret.py"), &at).expect("link");
        let err = write(&suite, true).expect_err("a linked output file is refused");
        assert!(
            err.to_string()
                .contains(&format!("{planted} is a symbolic link")),
            "{err}"
        );
        std::fs::remove_file(&at).expect("remove link");
    }
    let secret = std::fs::read_to_string(f.outside().join("secret.py")).expect("secret");
    assert_eq!(secret, "TOKEN = 'secret'\n");
}

#[test]
fn an_existing_output_file_is_replaced_not_written_through() {
    let f = Fixture::new(&[("tests/steps.py", STEPS)]);
    let suite = analyse(&f.tests()).expect("analyse");
    write(&suite, false).expect("first write");
    // A hard link to a file elsewhere: writing through it would change that file.
    let at = f.tests().join("wasm/plan.yaml");
    std::fs::remove_file(&at).expect("remove");
    std::fs::hard_link(f.outside().join("secret.py"), &at).expect("hard link");
    write(&suite, true).expect("--force");
    let secret = std::fs::read_to_string(f.outside().join("secret.py")).expect("secret");
    assert_eq!(secret, "TOKEN = 'secret'\n");
    let plan = std::fs::read_to_string(&at).expect("plan");
    assert!(plan.contains("config: ../config.yaml"), "{plan}");
}

#[test]
fn a_module_linked_outside_the_project_is_refused_naming_link_and_target() {
    let f = Fixture::new(&[("tests/steps.py", "from . import helper\nsteps = []\n")]);
    let link = f.tests().join("helper.py");
    symlink(f.outside().join("secret.py"), &link).expect("link");
    let err = analyse(&f.tests()).expect_err("refused");
    let text = err.to_string();
    assert!(matches!(err, MigrateError::OutsideProject { .. }), "{text}");
    assert!(text.contains("tests/helper.py"), "{text}");
    assert!(text.contains("outside/secret.py"), "{text}");
    assert!(err.hint().is_some_and(|h| h.contains("copy the file")));
}

#[test]
fn a_folder_linked_outside_the_project_is_refused() {
    let f = Fixture::new(&[("tests/steps.py", "from .lib import secret\nsteps = []\n")]);
    symlink(f.outside(), f.tests().join("lib")).expect("link");
    let err = analyse(&f.tests()).expect_err("refused");
    assert!(err.to_string().contains("outside/secret.py"), "{err}");
}

#[test]
fn steps_and_e2e_linked_outside_are_refused() {
    let f = Fixture::new(&[]);
    std::fs::create_dir_all(f.tests()).expect("tests");
    std::fs::write(f.outside().join("steps.py"), STEPS).expect("steps");
    symlink(f.outside().join("steps.py"), f.tests().join("steps.py")).expect("link");
    let err = analyse(&f.tests()).expect_err("refused");
    assert!(err.to_string().contains("outside/steps.py"), "{err}");

    let g = Fixture::new(&[("tests/steps.py", STEPS)]);
    symlink(g.outside().join("secret.py"), g.tests().join("e2e.py")).expect("link");
    let err = analyse(&g.tests()).expect_err("refused");
    assert!(err.to_string().contains("tests/e2e.py"), "{err}");
}

#[test]
fn a_link_inside_the_project_is_followed() {
    let f = Fixture::new(&[
        ("tests/steps.py", "from . import helper\nsteps = []\n"),
        ("shared/helper.py", "X = 1\n"),
    ]);
    symlink(
        f.project().join("shared/helper.py"),
        f.tests().join("helper.py"),
    )
    .expect("link");
    let suite = analyse(&f.tests()).expect("analyse");
    assert!(suite.modules.contains(&PathBuf::from("tests/helper.py")));
    write(&suite, false).expect("write");
    let copied = std::fs::read_to_string(f.tests().join("wasm/src/tests/helper.py")).expect("copy");
    assert_eq!(copied, "X = 1\n");
}

#[test]
fn import_names_never_become_paths() {
    // `..` is no Python name; the loose import reader still reads it as one.
    let f = Fixture::new(&[(
        "tests/steps.py",
        "from . import (../../outside/secret)\nfrom . import *\nsteps = []\n",
    )]);
    std::fs::create_dir_all(f.root.path().join("outside")).expect("outside");
    let suite = analyse(&f.tests()).expect("analyse");
    assert_eq!(suite.modules, [PathBuf::from("tests/steps.py")]);
    write(&suite, false).expect("write");
    assert!(!f.tests().join("wasm/secret.py").exists());
    assert!(!f.tests().join("outside").exists());
}

#[test]
fn a_fifo_as_steps_py_is_refused_without_blocking() {
    let f = Fixture::new(&[]);
    std::fs::create_dir_all(f.tests()).expect("tests");
    nix::unistd::mkfifo(&f.tests().join("steps.py"), nix::sys::stat::Mode::S_IRWXU)
        .expect("mkfifo");
    let started = Instant::now();
    let err = analyse(&f.tests()).expect_err("a FIFO is no steps.py");
    assert!(err.to_string().contains("steps.py"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(30), "did not hang");
}

#[test]
fn a_fifo_module_is_not_read() {
    let f = Fixture::new(&[("tests/steps.py", "from . import pipe\nsteps = []\n")]);
    nix::unistd::mkfifo(&f.tests().join("pipe.py"), nix::sys::stat::Mode::S_IRWXU).expect("mkfifo");
    let started = Instant::now();
    let suite = analyse(&f.tests()).expect("analyse");
    assert_eq!(suite.modules, [PathBuf::from("tests/steps.py")]);
    assert!(started.elapsed() < Duration::from_secs(30), "did not hang");
}

fn small(file_bytes: u64, total_bytes: u64, modules: usize) -> Limits {
    Limits {
        file_bytes,
        total_bytes,
        modules,
    }
}

#[test]
fn caps_on_a_file_all_files_and_the_module_count() {
    let f = Fixture::new(&[
        ("tests/steps.py", "from . import a, b\nsteps = []\n"),
        ("tests/a.py", &"x = 1\n".repeat(100)),
        ("tests/b.py", &"y = 2\n".repeat(100)),
    ]);
    let err = analyse_with(&f.tests(), small(500, 1 << 20, 100)).expect_err("a.py is 600 bytes");
    assert!(err.to_string().contains("tests/a.py"), "{err}");
    assert!(err.to_string().contains("larger than"), "{err}");
    let err = analyse_with(&f.tests(), small(1000, 1000, 100)).expect_err("1.2 KiB in all");
    assert!(matches!(err, MigrateError::SuiteTooLarge { .. }), "{err}");
    let err = analyse_with(&f.tests(), small(1000, 1 << 20, 2)).expect_err("3 modules");
    assert!(err.to_string().contains("more than 2 modules"), "{err}");
    analyse_with(&f.tests(), small(1000, 1 << 20, 3)).expect("within the caps");
}

#[test]
fn a_long_import_chain_is_walked_on_a_small_stack() {
    // 3 000 modules on a 256 KiB stack: the recursive walk needed a frame per module.
    let f = Fixture::new(&[("tests/steps.py", "import m1\nsteps = []\n")]);
    for i in 1..3000 {
        f.file(&format!("tests/m{i}.py"), &format!("import m{}\n", i + 1));
    }
    f.file("tests/m3000.py", "import m1\n");
    let tests = f.tests();
    let suite = std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(move || analyse(&tests).map(|s| s.modules.len()))
        .expect("thread")
        .join()
        .expect("no stack overflow")
        .expect("analyse");
    assert_eq!(suite, 3001);
}

#[test]
fn a_3_5_mib_steps_py_is_analysed_in_linear_time() {
    // One `steps = [...]` of 80 000 lines, each with a finding: each finding's line was
    // found by counting line breaks from the start of the statement.
    let mut text = String::from("steps = [\n");
    while text.len() < 3_500_000 {
        text.push_str("    TestStep(name='s', execute=lambda r: open('f').read()),\n");
    }
    text.push_str("]\n");
    let f = Fixture::new(&[("tests/steps.py", &text)]);
    let started = Instant::now();
    let suite = analyse(&f.tests()).expect("analyse");
    let took = started.elapsed();
    assert_eq!(suite.findings.len(), text.lines().count() - 2);
    assert_eq!(
        suite.findings.last().map(|f| f.line),
        Some(text.lines().count() - 1)
    );
    assert!(took < Duration::from_secs(60), "took {took:?}");
}

#[test]
fn a_folder_name_that_is_code_stays_a_string() {
    for name in [
        "t$(touch PWNED)",
        "t`touch PWNED`",
        "t'x",
        "t\"\"\"x",
        "t\nimport os",
        "-rf",
        "my tests",
        "class",
    ] {
        let root = tempfile::tempdir().expect("temp dir");
        let tests = root.path().join(name);
        std::fs::create_dir_all(&tests).expect("tests");
        std::fs::write(
            tests.join("steps.py"),
            "from . import helper\ndef build():\n    return [TestStep('a')]\n",
        )
        .expect("steps");
        std::fs::write(tests.join("helper.py"), "def cb(db):\n    pass\n").expect("helper");
        std::fs::write(
            tests.join("e2e.py"),
            "from .helper import cb\nx = {\"post_load_callback\": cb}\n",
        )
        .expect("e2e");
        let suite = analyse(&tests).expect("analyse");
        let entry = entry_module(&suite);
        let literal = serde_json::to_string(&format!("{name}.steps")).expect("json");
        assert!(
            entry.contains(&format!("build = importlib.import_module({literal}).build")),
            "{name:?}: {entry}"
        );
        assert!(
            !entry.contains(&format!("from {name}")),
            "{name:?}: {entry}"
        );
        write(&suite, false).expect("write");
        let build = std::fs::read_to_string(tests.join("wasm/build.sh")).expect("build.sh");
        let quoted = shlex::try_quote(&format!("src/{name}"))
            .expect("quote")
            .into_owned();
        assert!(
            build.contains(&format!(" -p {quoted} ")),
            "{name:?}: {build}"
        );
        // Only as that one quoted word: not in a comment, where a newline would end it.
        assert_eq!(build.matches(name).count(), 1, "{name:?}: {build}");
    }
}

#[test]
fn a_folder_name_python_cannot_import_is_refused() {
    use std::os::unix::ffi::OsStrExt;
    let root = tempfile::tempdir().expect("temp dir");
    for name in [&b"my.tests"[..], &b"t\xff"[..]] {
        let tests = root.path().join(std::ffi::OsStr::from_bytes(name));
        std::fs::create_dir_all(&tests).expect("tests");
        std::fs::write(tests.join("steps.py"), STEPS).expect("steps");
        let err = analyse(&tests).expect_err("refused");
        assert!(
            matches!(err, MigrateError::UnusableFolderName { .. }),
            "{err}"
        );
        assert!(err.hint().is_some_and(|h| h.contains("rename the folder")));
    }
}

#[test]
fn migration_report_escapes_control_characters_in_paths() {
    let root = tempfile::tempdir().expect("temp dir");
    let tests = root.path().join("t\u{1b}[2J\u{202e}x");
    std::fs::create_dir_all(&tests).expect("tests");
    std::fs::write(tests.join("steps.py"), "import subprocess\nsteps = []\n").expect("steps");
    let suite = analyse(&tests).expect("analyse");
    write(&suite, false).expect("write");
    let report = std::fs::read_to_string(tests.join("wasm/MIGRATION.txt")).expect("report");
    assert!(
        !report.contains('\u{1b}') && !report.contains('\u{202e}'),
        "{report:?}"
    );
    assert!(
        report.contains("t\\u{1b}[2J\\u{202e}x/steps.py:1:"),
        "{report}"
    );
}
