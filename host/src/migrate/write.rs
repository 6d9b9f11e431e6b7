//! Writes `TESTS_DIR/wasm/`: the user's modules copied unchanged under `src/`, a generated
//! entry module, the compatibility layer and the WIT under `helpers/` and `wit/` (so the
//! folder builds on its own), `build.sh`, `plan.yaml`, and `MIGRATION.txt` listing what
//! could not be carried over.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::MigrateError;
use super::suite::{Finding, StepsSource, Suite};

/// The folder `migrate` writes, inside the tests folder.
pub const OUTPUT_DIR: &str = "wasm";
/// The generated module componentize-py builds the package from.
pub const ENTRY_MODULE: &str = "prometheus_wasm_entry";
/// The componentize-py that build.sh installs when none is found: the version this
/// repository builds and tests its Python packages with (scripts/requirements-dev.txt).
pub const COMPONENTIZE_PY_VERSION: &str = "0.25.0";

/// What `wasm/` gets besides the user's modules: (path in wasm/, contents).
const HELPERS: [(&str, &str); 12] = [
    ("wit/step.wit", include_str!("../../../wit/step.wit")),
    (
        "helpers/prometheus_step.py",
        include_str!("../../../guest-python/prometheus_step.py"),
    ),
    (
        "helpers/prometheus_test/__init__.py",
        include_str!("../../../guest-python/prometheus_test/__init__.py"),
    ),
    (
        "helpers/prometheus_test/_db.py",
        include_str!("../../../guest-python/prometheus_test/_db.py"),
    ),
    (
        "helpers/prometheus_test/_runner.py",
        include_str!("../../../guest-python/prometheus_test/_runner.py"),
    ),
    (
        "helpers/prometheus_test/_sandbox.py",
        include_str!("../../../guest-python/prometheus_test/_sandbox.py"),
    ),
    (
        "helpers/prometheus_test/_steps.py",
        include_str!("../../../guest-python/prometheus_test/_steps.py"),
    ),
    (
        "helpers/prometheus_test/_worker.py",
        include_str!("../../../guest-python/prometheus_test/_worker.py"),
    ),
    (
        "helpers/prometheus_test/utils.py",
        include_str!("../../../guest-python/prometheus_test/utils.py"),
    ),
    (
        "helpers/requests/__init__.py",
        include_str!("../../../guest-python/requests/__init__.py"),
    ),
    (
        "helpers/requests/exceptions.py",
        include_str!("../../../guest-python/requests/exceptions.py"),
    ),
    (
        "helpers/dotenv/__init__.py",
        include_str!("../../../guest-python/dotenv/__init__.py"),
    ),
];

/// What [`write`] wrote.
#[derive(Debug)]
pub struct Written {
    /// The wasm/ folder.
    pub dir: PathBuf,
    /// The user's modules copied (relative to the project).
    pub copied: Vec<PathBuf>,
    /// `__init__.py` files generated for folders that had none.
    pub generated_inits: Vec<PathBuf>,
}

/// Writes the package folder for `suite`; refuses an existing one unless `force`, which
/// rewrites what `migrate` writes and keeps the rest (build.sh's `.venv`, `steps.wasm`).
pub fn write(suite: &Suite, force: bool) -> Result<Written, MigrateError> {
    let dir = suite.tests_dir.join(OUTPUT_DIR);
    if dir.exists() {
        if !force {
            return Err(MigrateError::OutputExists { dir });
        }
        for owned in ["src", "helpers", "wit"] {
            let path = dir.join(owned);
            if path.exists() {
                std::fs::remove_dir_all(&path).map_err(|e| MigrateError::io("remove", &path, e))?;
            }
        }
    }
    let src = dir.join("src");
    let mut generated_inits = Vec::new();
    for module in &suite.modules {
        let from = suite.project_dir.join(module);
        let bytes = std::fs::read(&from).map_err(|e| MigrateError::io("read", &from, e))?;
        put(&src.join(module), &bytes)?;
        // Every folder on the way is a package, so `from .stages import x` resolves.
        let mut parent = module.parent();
        while let Some(p) = parent.filter(|p| !p.as_os_str().is_empty()) {
            let init = p.join("__init__.py");
            if !src.join(&init).exists() && !suite.modules.contains(&init) {
                generated_inits.push(init.clone());
                put(&src.join(&init), b"")?;
            }
            parent = p.parent();
        }
    }
    for (path, text) in HELPERS {
        put(&dir.join(path), text.as_bytes())?;
    }
    put(
        &src.join(format!("{ENTRY_MODULE}.py")),
        entry_module(suite).as_bytes(),
    )?;
    put(&dir.join("build.sh"), build_script(suite).as_bytes())?;
    set_executable(&dir.join("build.sh"))?;
    put(&dir.join("plan.yaml"), plan(suite).as_bytes())?;
    put(&dir.join("MIGRATION.txt"), report(suite).as_bytes())?;
    Ok(Written {
        dir,
        copied: suite.modules.clone(),
        generated_inits,
    })
}

fn put(path: &Path, bytes: &[u8]) -> Result<(), MigrateError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| MigrateError::io("create", parent, e))?;
    }
    std::fs::write(path, bytes).map_err(|e| MigrateError::io("write", path, e))
}

fn set_executable(path: &Path) -> Result<(), MigrateError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| MigrateError::io("write", path, e))
}

/// A Python string literal (the JSON spelling is one).
fn py_str(text: &str) -> String {
    serde_json::to_string(text).expect("a string serialises")
}

/// The module componentize-py builds: stubs for what is not in the sandbox, the steps, the
/// post-load callback, and the exports.
pub fn entry_module(suite: &Suite) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\"\"\"Generated by `prometheus-wasm migrate`: the step package of {}.",
        suite.steps_module
    );
    let _ = writeln!(
        out,
        "\nRegenerate it with `prometheus-wasm migrate --force`; edit the copied modules instead.\n\"\"\"\n"
    );
    let _ = writeln!(out, "import prometheus_test\n");
    if !suite.stubs.is_empty() {
        let _ = writeln!(
            out,
            "# Not in the sandbox: importing works, using them raises SandboxError with this text."
        );
        let _ = writeln!(out, "prometheus_test.stub_modules({{");
        for (module, why) in &suite.stubs {
            let _ = writeln!(out, "    {}: {},", py_str(module), py_str(why));
        }
        let _ = writeln!(out, "}})\n");
    }
    match &suite.steps_source {
        StepsSource::Variable => {
            let _ = writeln!(out, "from {} import steps", suite.steps_module);
        }
        StepsSource::Function(name) => {
            let _ = writeln!(
                out,
                "from {} import {name}\n\nsteps = {name}()",
                suite.steps_module
            );
        }
    }
    let post_load = match &suite.post_load {
        Some(p) => {
            let _ = writeln!(
                out,
                "from {} import {} as post_load_callback",
                p.module, p.name
            );
            "post_load_callback"
        }
        None => "None",
    };
    let _ = writeln!(
        out,
        "\nWitWorld = prometheus_test.export_steps(steps, post_load={post_load})"
    );
    out
}

fn build_script(suite: &Suite) -> String {
    let tests_pkg = suite
        .tests_dir
        .strip_prefix(&suite.project_dir)
        .unwrap_or(Path::new("tests"))
        .display()
        .to_string();
    format!(
        r#"#!/usr/bin/env bash
# Generated by `prometheus-wasm migrate`: builds steps.wasm from src/ with componentize-py.
# Uses $COMPONENTIZE_PY, else componentize-py on PATH, else installs
# componentize-py=={version} into .venv here (once).
set -euo pipefail
cd "$(dirname "$0")"
tool=${{COMPONENTIZE_PY:-}}
if [ -z "$tool" ]; then
    if command -v componentize-py >/dev/null 2>&1; then
        tool=componentize-py
    else
        if [ ! -x .venv/bin/componentize-py ]; then
            python3 -m venv .venv
            .venv/bin/pip install --quiet --disable-pip-version-check componentize-py=={version}
        fi
        tool=.venv/bin/componentize-py
    fi
fi
# -p src: the project's modules as packages (tests.steps); -p src/{tests_pkg}: as run from
# inside {tests_pkg}/ (from stages import x); -p helpers: prometheus_test and requests.
export PYTHONDONTWRITEBYTECODE=1
"$tool" -d wit -w steps componentize {entry} -p src -p src/{tests_pkg} -p helpers -o steps.wasm
echo "built $(pwd)/steps.wasm"
"#,
        version = COMPONENTIZE_PY_VERSION,
        entry = ENTRY_MODULE,
    )
}

fn plan(suite: &Suite) -> String {
    let _ = suite;
    "# Generated by `prometheus-wasm migrate`: runs the migrated steps with this folder's\n\
     # config.yaml (and so its workers.json, data_dir and .env files).\n\
     #   ./build.sh && prometheus-wasm run plan.yaml [--reset]\n\
     config: ../config.yaml\n\
     packages:\n  steps:\n    path: steps.wasm    # built by ./build.sh\n\
     steps:\n  - use: steps        # every step, in the order of steps.py\n"
        .to_owned()
}

/// The findings as `file:line: what: why` lines.
pub fn finding_lines(findings: &[Finding]) -> Vec<String> {
    findings
        .iter()
        .map(|f| format!("{}:{}: {}: {}", f.file.display(), f.line, f.what, f.why))
        .collect()
}

fn report(suite: &Suite) -> String {
    let mut out = String::from("Generated by `prometheus-wasm migrate`.\n\n");
    if suite.findings.is_empty() {
        out.push_str("Everything was carried over.\n");
    } else {
        let _ = writeln!(out, "Could not be carried over ({}):", suite.findings.len());
        for line in finding_lines(&suite.findings) {
            let _ = writeln!(out, "  {line}");
        }
    }
    out
}
