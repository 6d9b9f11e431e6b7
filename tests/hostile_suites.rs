//! `prometheus-wasm migrate` (the real binary) on suites written to attack it: folder
//! names that are shell and Python code (the generated build.sh is run with a fake
//! componentize-py to prove nothing executes), symbolic links into and out of the suite,
//! a 3.5 MiB steps.py and a 30 000-module import chain.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use system_tests::{RunOutput, run_in, runner_bin, wait_output};

/// A marker file named in the hostile names: it exists only if one of them ran.
const MARKER: &str = "PWNED";

/// Every path under `dir` named [`MARKER`].
fn markers(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read folder") {
            let entry = entry.expect("entry");
            let kind = entry.file_type().expect("type");
            if entry.file_name() == MARKER {
                found.push(entry.path());
            }
            if kind.is_dir() {
                stack.push(entry.path());
            }
        }
    }
    found
}

/// Runs `migrate` with `args` (any bytes) in `dir`.
fn migrate(dir: &Path, args: &[&OsStr]) -> RunOutput {
    let child = Command::new(runner_bin())
        .arg("migrate")
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the runner");
    wait_output(child)
}

/// A componentize-py stand-in that writes its arguments, one per line with NULs between,
/// to $FAKE_ARGS and an empty steps.wasm.
fn fake_toolchain(dir: &Path) -> PathBuf {
    let tool = dir.join("fake-componentize-py");
    std::fs::write(
        &tool,
        "#!/bin/sh\nprintf '%s\\0' \"$@\" > \"$FAKE_ARGS\"\n: > steps.wasm\n",
    )
    .expect("fake tool");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    tool
}

#[test]
fn hostile_folder_names_run_nothing_when_build_sh_runs() {
    let names = [
        "t$(touch PWNED)",
        "t`touch PWNED`",
        "t;touch PWNED",
        "t' ; touch PWNED ; '",
        "t\" ; touch PWNED ; \"",
        "t\ntouch PWNED\n",
        "my tests && touch PWNED",
        "-t",
        "t\u{1b}]52;c;cHduZWQ=\u{7}\u{202e}",
    ];
    for name in names {
        let root = tempfile::tempdir().expect("temp dir");
        let project = root.path().join("project");
        let tests = project.join(name);
        std::fs::create_dir_all(&tests).expect("tests");
        std::fs::write(
            tests.join("steps.py"),
            "from . import helper\nsteps = helper.STEPS\n",
        )
        .expect("steps.py");
        std::fs::write(tests.join("helper.py"), "STEPS = []\n").expect("helper.py");

        // `--`: a folder named `-t` is a path, not an option.
        let out = migrate(&project, &[OsStr::new("--"), OsStr::new(name)]);
        assert_eq!(out.code(), 0, "{name:?}: {out}");
        assert!(
            !out.stdout.contains('\u{1b}') && !out.stdout.contains('\u{202e}'),
            "{name:?}: raw control characters printed: {out}"
        );
        let wasm = tests.join("wasm");
        let check = Command::new("bash")
            .arg("-n")
            .arg(wasm.join("build.sh"))
            .status()
            .expect("bash -n");
        assert!(check.success(), "{name:?}: build.sh does not parse");

        let tool = fake_toolchain(root.path());
        let args_file = root.path().join("args");
        let status = Command::new(wasm.join("build.sh"))
            .current_dir(root.path())
            .env("COMPONENTIZE_PY", &tool)
            .env("FAKE_ARGS", &args_file)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .status()
            .expect("run build.sh");
        assert!(status.success(), "{name:?}: build.sh failed");
        let args = std::fs::read(&args_file).expect("the fake tool ran");
        let args: Vec<&[u8]> = args.split(|&b| b == 0).collect();
        let inside = format!("src/{name}");
        assert!(
            args.windows(2)
                .any(|w| w[0] == b"-p" && w[1] == inside.as_bytes()),
            "{name:?}: -p {inside:?} not passed as one argument: {args:?}"
        );
        assert!(
            wasm.join("steps.wasm").exists(),
            "{name:?}: build.sh ran in wasm/"
        );

        // The entry module is valid Python, and the steps module imports by the folder's
        // name from a string literal.
        let entry = wasm.join("src/prometheus_wasm_entry.py");
        let compiled = Command::new("python3")
            .args([
                "-c",
                "import sys; compile(open(sys.argv[1]).read(), 'entry', 'exec')",
            ])
            .arg(&entry)
            .status()
            .expect("python3");
        assert!(
            compiled.success(),
            "{name:?}: the entry module does not compile"
        );
        let imported = Command::new("python3")
            .args([
                "-c",
                "import importlib, sys; sys.path[:0] = ['src']; \
                 assert importlib.import_module(sys.argv[1]).steps == []",
            ])
            .arg(format!("{name}.steps"))
            .current_dir(&wasm)
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .status()
            .expect("python3");
        assert!(
            imported.success(),
            "{name:?}: the steps module does not import"
        );
        assert_eq!(markers(root.path()), Vec::<PathBuf>::new(), "{name:?}");
    }
}

#[test]
fn a_folder_name_that_is_not_utf8_is_refused() {
    let root = tempfile::tempdir().expect("temp dir");
    let name = OsStr::from_bytes(b"t\xff\xfe");
    let tests = root.path().join(name);
    std::fs::create_dir_all(&tests).expect("tests");
    std::fs::write(tests.join("steps.py"), "steps = []\n").expect("steps.py");
    let out = migrate(root.path(), &[name]);
    assert_eq!(out.code(), 2, "{out}");
    assert!(out.stderr.contains("is not UTF-8"), "{out}");
    assert!(out.stderr.contains("rename the folder"), "{out}");
    assert!(!tests.join("wasm").exists());
}

/// `root/project/tests/steps.py` and `root/outside/secret.py`.
fn suite_beside_a_secret(steps: &str) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let root = tempfile::tempdir().expect("temp dir");
    let project = root.path().join("project");
    std::fs::create_dir_all(project.join("tests")).expect("tests");
    std::fs::write(project.join("tests/steps.py"), steps).expect("steps.py");
    let outside = root.path().join("outside");
    std::fs::create_dir_all(&outside).expect("outside");
    std::fs::write(outside.join("secret.py"), "TOKEN = 'secret'\n").expect("secret");
    (root, project, outside)
}

fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("read")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn force_on_a_linked_wasm_folder_is_refused_and_nothing_outside_changes() {
    let (_root, project, outside) = suite_beside_a_secret("steps = []\n");
    // What a suite could ship: wasm/ pointing at a folder of the user's.
    std::fs::create_dir_all(outside.join("src")).expect("outside/src");
    std::fs::write(outside.join("src/keep.txt"), "keep").expect("keep");
    symlink(&outside, project.join("tests/wasm")).expect("link");
    for args in [&["migrate", "tests"][..], &["migrate", "tests", "--force"]] {
        let out = run_in(&project, args);
        assert_eq!(out.code(), 2, "{out}");
        assert!(out.stderr.contains("wasm is a symbolic link"), "{out}");
        assert!(out.stderr.contains("hint:"), "{out}");
    }
    assert_eq!(listing(&outside), ["secret.py", "src"]);
    assert_eq!(listing(&outside.join("src")), ["keep.txt"]);
}

#[test]
fn a_module_linked_outside_the_project_is_refused_naming_link_and_target() {
    let (_root, project, outside) = suite_beside_a_secret("from . import helper\nsteps = []\n");
    symlink(outside.join("secret.py"), project.join("tests/helper.py")).expect("link");
    let out = run_in(&project, &["migrate", "tests"]);
    assert_eq!(out.code(), 2, "{out}");
    assert!(out.stderr.contains("tests/helper.py resolves to"), "{out}");
    assert!(out.stderr.contains("outside/secret.py"), "{out}");
    assert!(!project.join("tests/wasm").exists(), "nothing written");
}

#[test]
fn a_3_5_mib_steps_py_migrates_quickly() {
    let mut text = String::from("steps = [\n");
    while text.len() < 3_500_000 {
        text.push_str("    TestStep(name='s', execute=lambda r: open('f').read()),\n");
    }
    text.push_str("]\n");
    let (_root, project, _) = suite_beside_a_secret(&text);
    let started = Instant::now();
    let out = run_in(&project, &["migrate", "tests"]);
    let took = started.elapsed();
    assert_eq!(out.code(), 0, "{out}");
    assert!(
        out.stdout.contains("tests/steps.py:2: `open`"),
        "{}",
        &out.stdout[..500]
    );
    assert!(took < Duration::from_secs(60), "took {took:?}");
}

#[test]
fn a_30000_module_import_chain_migrates_without_a_crash() {
    let (_root, project, _) = suite_beside_a_secret("import m1\nsteps = []\n");
    let tests = project.join("tests");
    for i in 1..30_000 {
        std::fs::write(
            tests.join(format!("m{i}.py")),
            format!("import m{}\n", i + 1),
        )
        .expect("module");
    }
    // The last closes a cycle: cycles are fine.
    std::fs::write(tests.join("m30000.py"), "import m1\nimport steps\n").expect("module");
    let out = run_in(&project, &["migrate", "tests"]);
    assert_eq!(out.code(), 0, "{}", &out.stderr);
    assert!(out.stdout.contains("wrote "), "{}", &out.stderr);
    let copied = std::fs::read_dir(tests.join("wasm/src/tests"))
        .expect("src/tests")
        .count();
    // 30 000 modules, steps.py, the generated __init__.py.
    assert_eq!(copied, 30_002);
}
