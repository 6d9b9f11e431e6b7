//! Writes `TESTS_DIR/wasm/`: the user's modules copied unchanged under `src/`, a generated
//! entry module, the compatibility layer and the WIT under `helpers/` and `wit/` (so the
//! folder builds on its own), `build.sh`, `plan.yaml`, and `MIGRATION.txt` listing what
//! could not be carried over.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::io::Write as _;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

use cap_fs_ext::{DirExt, FollowSymlinks, OpenOptionsFollowExt};
use cap_std::ambient_authority;
use cap_std::fs::{Dir, OpenOptions, OpenOptionsExt, Permissions};

use super::MigrateError;
use super::suite::{
    FILE_LIMIT, Finding, StepsSource, Suite, is_identifier, read_module, tests_folder_name,
};

/// The folder `migrate` writes, inside the tests folder.
pub const OUTPUT_DIR: &str = "wasm";
/// The generated module componentize-py builds the package from.
pub const ENTRY_MODULE: &str = "prometheus_wasm_entry";
/// The componentize-py that build.sh installs when none is found: the version this
/// repository builds and tests its Python packages with (scripts/requirements-dev.txt).
pub const COMPONENTIZE_PY_VERSION: &str = "0.25.0";

/// What `wasm/` gets besides the user's modules: (path in wasm/, contents).
const HELPERS: [(&str, &str); 13] = [
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
        "helpers/prometheus_test/_state.py",
        include_str!("../../../guest-python/prometheus_test/_state.py"),
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

/// What [`write()`] wrote.
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
///
/// Every create and remove goes through a [`cap_std::fs::Dir`] of `TESTS_DIR/wasm`, opened
/// without following a link: `..`, absolute paths and links that leave it are refused by
/// construction, and a symbolic link anywhere on the way to what is written or removed is
/// refused outright ([`MigrateError::UnsafeOutput`]), `--force` included.
pub fn write(suite: &Suite, force: bool) -> Result<Written, MigrateError> {
    let dir = suite.tests_dir.join(OUTPUT_DIR);
    let tests = Dir::open_ambient_dir(&suite.tests_dir, ambient_authority())
        .map_err(|e| MigrateError::io("open", &suite.tests_dir, e))?;
    match tests.symlink_metadata(OUTPUT_DIR) {
        Ok(meta) if meta.file_type().is_symlink() => {
            return Err(unsafe_output(&dir, "a symbolic link"));
        }
        Ok(meta) if !meta.is_dir() => return Err(unsafe_output(&dir, "not a folder")),
        Ok(_) if !force => return Err(MigrateError::OutputExists { dir }),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => tests
            .create_dir(OUTPUT_DIR)
            .map_err(|e| MigrateError::io("create", &dir, e))?,
        Err(e) => return Err(MigrateError::io("read", &dir, e)),
    }
    let out = Out {
        dir: tests
            .open_dir_nofollow(OUTPUT_DIR)
            .map_err(|e| MigrateError::io("open", &dir, e))?,
        path: dir.clone(),
    };
    if force {
        for owned in ["src", "helpers", "wit"] {
            out.remove(Path::new(owned))?;
        }
    }
    let src = Path::new("src");
    let modules: HashSet<&PathBuf> = suite.modules.iter().collect();
    let mut inits_done: HashSet<PathBuf> = HashSet::new();
    let mut generated_inits = Vec::new();
    for module in &suite.modules {
        let bytes = read_module(&suite.project_dir, module, FILE_LIMIT)?;
        out.put(&src.join(module), &bytes, false)?;
        // Every folder on the way is a package, so `from .stages import x` resolves.
        let mut parent = module.parent();
        while let Some(p) = parent.filter(|p| !p.as_os_str().is_empty()) {
            let init = p.join("__init__.py");
            if !modules.contains(&init) && inits_done.insert(init.clone()) {
                generated_inits.push(init.clone());
                out.put(&src.join(&init), b"", false)?;
            }
            parent = p.parent();
        }
    }
    for (path, text) in HELPERS {
        out.put(Path::new(path), text.as_bytes(), false)?;
    }
    out.put(
        &src.join(format!("{ENTRY_MODULE}.py")),
        entry_module(suite).as_bytes(),
        false,
    )?;
    out.put(Path::new("build.sh"), build_script(suite)?.as_bytes(), true)?;
    out.put(Path::new("plan.yaml"), plan()?.as_bytes(), false)?;
    out.put(Path::new("MIGRATION.txt"), report(suite).as_bytes(), false)?;
    Ok(Written {
        dir,
        copied: suite.modules.clone(),
        generated_inits,
    })
}

fn unsafe_output(path: &Path, what: &'static str) -> MigrateError {
    MigrateError::UnsafeOutput {
        path: path.to_path_buf(),
        what,
    }
}

/// `TESTS_DIR/wasm`, opened once; every path below is relative to it.
struct Out {
    dir: Dir,
    /// Its path, for messages.
    path: PathBuf,
}

impl Out {
    /// The folder `rel` (relative to wasm/), created when missing, each component opened
    /// without following a link and refused when it is one.
    fn folder(&self, rel: &Path) -> Result<Dir, MigrateError> {
        let mut dir = self
            .dir
            .try_clone()
            .map_err(|e| MigrateError::io("open", &self.path, e))?;
        let mut shown = self.path.clone();
        for part in rel.components() {
            let Component::Normal(part) = part else {
                return Err(unsafe_output(
                    &self.path.join(rel),
                    "not a plain relative path",
                ));
            };
            shown.push(part);
            match dir.symlink_metadata(part) {
                Ok(meta) if meta.file_type().is_symlink() => {
                    return Err(unsafe_output(&shown, "a symbolic link"));
                }
                Ok(meta) if !meta.is_dir() => return Err(unsafe_output(&shown, "not a folder")),
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => dir
                    .create_dir(part)
                    .map_err(|e| MigrateError::io("create", &shown, e))?,
                Err(e) => return Err(MigrateError::io("read", &shown, e)),
            }
            dir = dir
                .open_dir_nofollow(part)
                .map_err(|e| MigrateError::io("open", &shown, e))?;
        }
        Ok(dir)
    }

    /// Writes `bytes` to `rel` as a new file: one already there is removed first (never
    /// written through, so a hard link to a file elsewhere is not changed) and a link
    /// there is refused.
    fn put(&self, rel: &Path, bytes: &[u8], executable: bool) -> Result<(), MigrateError> {
        let shown = self.path.join(rel);
        let (Some(parent), Some(name)) = (rel.parent(), rel.file_name()) else {
            return Err(unsafe_output(&shown, "not a plain relative path"));
        };
        let dir = self.folder(parent)?;
        match dir.symlink_metadata(name) {
            Ok(meta) if meta.file_type().is_symlink() => {
                return Err(unsafe_output(&shown, "a symbolic link"));
            }
            Ok(meta) if meta.is_dir() => return Err(unsafe_output(&shown, "a folder")),
            Ok(_) => dir
                .remove_file(name)
                .map_err(|e| MigrateError::io("remove", &shown, e))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(MigrateError::io("read", &shown, e)),
        }
        let mut options = OpenOptions::new();
        options
            .write(true)
            .create_new(true)
            .follow(FollowSymlinks::No)
            .mode(if executable { 0o755 } else { 0o644 });
        let mut file = dir
            .open_with(name, &options)
            .map_err(|e| MigrateError::io("create", &shown, e))?;
        file.write_all(bytes)
            .map_err(|e| MigrateError::io("write", &shown, e))?;
        if executable {
            // The mode given at creation is masked by the umask; build.sh must run.
            file.set_permissions(Permissions::from_std(std::fs::Permissions::from_mode(
                0o755,
            )))
            .map_err(|e| MigrateError::io("write", &shown, e))?;
        }
        Ok(())
    }

    /// Removes `rel` (a folder `migrate` owns, with everything in it) when it is there; a
    /// link there is refused rather than removed or followed.
    fn remove(&self, rel: &Path) -> Result<(), MigrateError> {
        let shown = self.path.join(rel);
        match self.dir.symlink_metadata(rel) {
            Ok(meta) if meta.file_type().is_symlink() => {
                Err(unsafe_output(&shown, "a symbolic link"))
            }
            // cap-std removes the folder's contents without following links in it.
            Ok(meta) if meta.is_dir() => self
                .dir
                .remove_dir_all(rel)
                .map_err(|e| MigrateError::io("remove", &shown, e)),
            Ok(_) => self
                .dir
                .remove_file(rel)
                .map_err(|e| MigrateError::io("remove", &shown, e)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(MigrateError::io("read", &shown, e)),
        }
    }
}

/// A Python string literal (the JSON spelling is one).
fn py_str(text: &str) -> String {
    serde_json::to_string(text).expect("a string serialises")
}

/// `from {module} import {name}` (`as {alias}`), or, when the module's name is not made of
/// Python identifiers (a tests folder named `e2e-tests` or ``t$(x)``), the same through
/// `importlib.import_module` with the name as a string literal, so the folder's name is
/// never spelt as code.
fn import_line(out: &mut String, module: &str, name: &str, alias: Option<&str>) {
    if module.split('.').all(is_identifier) {
        let _ = write!(out, "from {module} import {name}");
        if let Some(alias) = alias {
            let _ = write!(out, " as {alias}");
        }
        let _ = writeln!(out);
    } else {
        let _ = writeln!(
            out,
            "{} = importlib.import_module({}).{name}",
            alias.unwrap_or(name),
            py_str(module)
        );
    }
}

/// The module componentize-py builds: stubs for what is not in the sandbox, the steps, the
/// post-load callback, and the exports.
pub fn entry_module(suite: &Suite) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\"\"\"Generated by `prometheus-wasm migrate`: the step package of the suite's steps.py."
    );
    let _ = writeln!(
        out,
        "\nRegenerate it with `prometheus-wasm migrate --force`; edit the copied modules instead.\n\"\"\"\n"
    );
    let _ = writeln!(out, "import importlib\n\nimport prometheus_test\n");
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
        StepsSource::Variable => import_line(&mut out, &suite.steps_module, "steps", None),
        StepsSource::Function(name) => {
            import_line(&mut out, &suite.steps_module, name, None);
            let _ = writeln!(out, "\nsteps = {name}()");
        }
    }
    let post_load = match &suite.post_load {
        Some(p) => {
            import_line(&mut out, &p.module, &p.name, Some("post_load_callback"));
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

/// build.sh. The one string in it that comes from the suite, the tests folder's name, is
/// quoted by `shlex` (a name like ``t$(touch x)``, with a newline or a `'` stays one
/// word and runs nothing); the rest is fixed text.
fn build_script(suite: &Suite) -> Result<String, MigrateError> {
    let tests_pkg = tests_folder_name(&suite.tests_dir)?;
    let inside = shlex::try_quote(&format!("src/{tests_pkg}"))
        .map_err(|_| MigrateError::UnusableFolderName {
            dir: suite.tests_dir.clone(),
            why: "has a NUL byte, which no shell word can hold",
        })?
        .into_owned();
    let version = shlex::try_quote(COMPONENTIZE_PY_VERSION).expect("a version quotes");
    let entry = shlex::try_quote(ENTRY_MODULE).expect("a module name quotes");
    Ok(format!(
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
# -p src: the project's modules as packages (tests.steps); -p src/<tests folder>: as run
# from inside the tests folder (from stages import x); -p helpers: prometheus_test and
# requests.
export PYTHONDONTWRITEBYTECODE=1
"$tool" -d wit -w steps componentize {entry} -p src -p {inside} -p helpers -o steps.wasm
echo "built $(pwd)/steps.wasm"
"#,
    ))
}

/// plan.yaml, written by the YAML serialiser (its values are fixed today; a value taken
/// from the suite later is quoted by construction).
fn plan() -> Result<String, MigrateError> {
    #[derive(serde::Serialize)]
    struct Plan {
        config: &'static str,
        packages: std::collections::BTreeMap<&'static str, Package>,
        steps: Vec<Use>,
    }
    #[derive(serde::Serialize)]
    struct Package {
        path: &'static str,
    }
    #[derive(serde::Serialize)]
    struct Use {
        #[serde(rename = "use")]
        package: &'static str,
    }
    let plan = Plan {
        config: "../config.yaml",
        packages: [("steps", Package { path: "steps.wasm" })].into(),
        steps: vec![Use { package: "steps" }],
    };
    let yaml = serde_yaml::to_string(&plan).map_err(|e| MigrateError::Io {
        action: "write",
        path: PathBuf::from("plan.yaml"),
        source: std::io::Error::other(e),
    })?;
    Ok(format!(
        "# Generated by `prometheus-wasm migrate`: runs the migrated steps (steps.wasm, built by\n\
         # ./build.sh; every step, in the order of steps.py) with this folder's config.yaml (and\n\
         # so its workers.json, data_dir and .env files).\n\
         #   ./build.sh && prometheus-wasm run plan.yaml [--reset]\n{yaml}"
    ))
}

/// The findings as `file:line: what: why` lines.
pub fn finding_lines(findings: &[Finding]) -> Vec<String> {
    findings
        .iter()
        .map(|f| {
            format!(
                "{}:{}: {}: {}",
                visible(&f.file.display().to_string()),
                f.line,
                f.what,
                f.why
            )
        })
        .collect()
}

/// What `migrate` looked at, said under its list (or in place of one): the check reads the
/// source without running it, so an empty list never claims more than that.
pub const CHECKED: &str = "checked without running the code: imports, file, process and environment calls, and uses of runner.state that list a scope; what such a check cannot see fails at run time with SandboxError saying what to use instead";

/// Said instead of the list when the check found nothing.
pub const NOTHING_FOUND: &str = "found nothing that cannot run in the sandbox";

fn report(suite: &Suite) -> String {
    let mut out = String::from("Generated by `prometheus-wasm migrate`.\n\n");
    if suite.findings.is_empty() {
        let _ = writeln!(out, "{NOTHING_FOUND}");
    } else {
        let _ = writeln!(out, "Could not be carried over ({}):", suite.findings.len());
        for line in finding_lines(&suite.findings) {
            let _ = writeln!(out, "  {line}");
        }
    }
    let _ = writeln!(out, "\n{CHECKED}");
    out
}

/// `text` with control, invisible and bidi characters written as escapes (`\n`,
/// `\u{202e}`), so a file name from the suite cannot forge a line of MIGRATION.txt or drive
/// the terminal of whoever reads it.
fn visible(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let hidden = c.is_control()
            || matches!(c, '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2060}'..='\u{2069}' | '\u{feff}' | '\u{061c}');
        if hidden {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}
