//! A new test folder that runs right away (`prometheus-wasm new [DIR] [--lang
//! rust|python|js]`): config, a trivial worker (Python's static file server), a step
//! package with one working step, a plan and a .gitignore. Templates live in
//! `templates/{common,rust,python,js}/`; the Python and JavaScript folders also get the
//! helper module and the WIT contract this binary was built with, and the Rust one the
//! guest SDK, so they build on their own.

use std::path::{Path, PathBuf};

use crate::error::UserError;

/// The language of a scaffolded step package.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// Rust, with the prometheus-step guest SDK.
    Rust,
    /// Python, with componentize-py.
    Python,
    /// JavaScript, with componentize-qjs.
    Js,
}

impl Lang {
    /// The language's name, as said to the user.
    pub fn name(self) -> &'static str {
        match self {
            Lang::Rust => "Rust",
            Lang::Python => "Python",
            Lang::Js => "JavaScript",
        }
    }
}

/// What to create.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Scaffold {
    /// The folder; it must not exist or be empty.
    pub dir: PathBuf,
    /// The step package's language.
    pub lang: Lang,
    /// The test's name (`task_id`, the package's name); `None`: the folder's name.
    pub name: Option<String>,
    /// A guest-sdk folder of a checkout for the Rust package to depend on, instead of the
    /// copy written into the scaffold.
    pub sdk_path: Option<PathBuf>,
}

/// The Rust guest SDK, written into every Rust scaffold (`sdk/prometheus-step/`) so the
/// scaffold builds with nothing but cargo: the crate is not on crates.io, and a scaffold
/// should not depend on a checkout. (path in the SDK folder, content)
const RUST_SDK: [(&str, &str); 18] = [
    ("Cargo.toml", include_str!("../../../guest-sdk/Cargo.toml")),
    (
        "wit/step.wit",
        include_str!("../../../guest-sdk/wit/step.wit"),
    ),
    ("src/lib.rs", include_str!("../../../guest-sdk/src/lib.rs")),
    (
        "src/codec.rs",
        include_str!("../../../guest-sdk/src/codec.rs"),
    ),
    (
        "src/config.rs",
        include_str!("../../../guest-sdk/src/config.rs"),
    ),
    ("src/ctx.rs", include_str!("../../../guest-sdk/src/ctx.rs")),
    (
        "src/error.rs",
        include_str!("../../../guest-sdk/src/error.rs"),
    ),
    (
        "src/http/mod.rs",
        include_str!("../../../guest-sdk/src/http/mod.rs"),
    ),
    (
        "src/http/request.rs",
        include_str!("../../../guest-sdk/src/http/request.rs"),
    ),
    (
        "src/http/response.rs",
        include_str!("../../../guest-sdk/src/http/response.rs"),
    ),
    (
        "src/faults.rs",
        include_str!("../../../guest-sdk/src/faults.rs"),
    ),
    ("src/log.rs", include_str!("../../../guest-sdk/src/log.rs")),
    (
        "src/mongo.rs",
        include_str!("../../../guest-sdk/src/mongo.rs"),
    ),
    (
        "src/outcome.rs",
        include_str!("../../../guest-sdk/src/outcome.rs"),
    ),
    (
        "src/signing.rs",
        include_str!("../../../guest-sdk/src/signing.rs"),
    ),
    (
        "src/state.rs",
        include_str!("../../../guest-sdk/src/state.rs"),
    ),
    (
        "src/steps.rs",
        include_str!("../../../guest-sdk/src/steps.rs"),
    ),
    (
        "src/worker.rs",
        include_str!("../../../guest-sdk/src/worker.rs"),
    ),
];

/// Where a Rust scaffold keeps its copy of the SDK, relative to the folder.
const RUST_SDK_DIR: &str = "sdk/prometheus-step";

/// The WIT contract, copied into Python and JavaScript scaffolds (their tools bind it).
const WIT: &str = include_str!("../../../wit/step.wit");

/// Files every scaffold has: (path in the folder, template).
const COMMON_FILES: [(&str, &str); 2] = [
    (
        "config.yaml",
        include_str!("templates/common/config.yaml.txt"),
    ),
    (
        "workers.json",
        include_str!("templates/common/workers.json.txt"),
    ),
];

/// The Rust scaffold (its SDK comes from [`RUST_SDK`]).
const RUST_FILES: [(&str, &str); 6] = [
    ("README.md", include_str!("templates/rust/README.md.txt")),
    (".gitignore", include_str!("templates/rust/gitignore.txt")),
    (
        "plan.yaml",
        include_str!("templates/common/plan_wasm.yaml.txt"),
    ),
    ("build.sh", include_str!("templates/rust/build.sh.txt")),
    (
        "steps/Cargo.toml",
        include_str!("templates/rust/Cargo.toml.txt"),
    ),
    (
        "steps/src/lib.rs",
        include_str!("templates/rust/lib.rs.txt"),
    ),
];

/// Files of the Python and JavaScript scaffolds besides their own.
const GUEST_FILES: [(&str, &str); 4] = [
    (
        "README.md",
        include_str!("templates/common/README_guest.md.txt"),
    ),
    (
        ".gitignore",
        include_str!("templates/common/gitignore_guest.txt"),
    ),
    (
        "plan.yaml",
        include_str!("templates/common/plan_wasm.yaml.txt"),
    ),
    ("wit/step.wit", WIT),
];

/// The Python scaffold (componentize-py).
const PYTHON_FILES: [(&str, &str); 4] = [
    (
        "steps/steps.py",
        include_str!("templates/python/steps.py.txt"),
    ),
    (
        "steps/prometheus_step.py",
        include_str!("../../../guest-python/prometheus_step.py"),
    ),
    (
        "steps/prometheus_faults.py",
        include_str!("../../../guest-python/prometheus_faults.py"),
    ),
    ("build.sh", include_str!("templates/python/build.sh.txt")),
];

/// The JavaScript scaffold (componentize-qjs).
const JS_FILES: [(&str, &str); 5] = [
    ("steps/steps.js", include_str!("templates/js/steps.js.txt")),
    (
        "steps/prometheus-step.js",
        include_str!("../../../guest-js/prometheus-step.js"),
    ),
    (
        "steps/prometheus-faults.js",
        include_str!("../../../guest-js/prometheus-faults.js"),
    ),
    ("build.sh", include_str!("templates/js/build.sh.txt")),
    (
        "package.json",
        include_str!("templates/js/package.json.txt"),
    ),
];

/// Creates the folder; returns the exit code.
impl Scaffold {
    /// A Rust scaffold in `dir`, named after it.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            lang: Lang::Rust,
            name: None,
            sdk_path: None,
        }
    }

    /// Writes the folder; returns the files to run next: its `build.sh` and `plan.yaml`.
    pub fn create(&self) -> Result<[PathBuf; 2], UserError> {
        create(self)
    }
}

fn create(args: &Scaffold) -> Result<[PathBuf; 2], UserError> {
    let dir = &args.dir;
    if std::fs::read_dir(dir).is_ok_and(|mut entries| entries.next().is_some()) {
        return Err(UserError::usage(
            format!("{} already exists and is not empty", dir.display()),
            Some("choose a new folder: `prometheus-wasm new DIR`".into()),
        ));
    }
    // The Rust package depends on the SDK by path: the copy written below, or the
    // checkout's guest-sdk named by --sdk-path.
    let sdk = match &args.sdk_path {
        Some(p) => p
            .canonicalize()
            .map_err(|e| {
                UserError::usage(
                    format!("--sdk-path {}: {e}", p.display()),
                    Some("pass the guest-sdk folder of a prometheus-wasm checkout".into()),
                )
            })?
            .display()
            .to_string(),
        None => format!("../{RUST_SDK_DIR}"),
    };
    let folder_name = dir
        .canonicalize()
        .unwrap_or_else(|_| dir.clone())
        .file_name()
        .map_or_else(|| "tests".into(), |n| n.to_string_lossy().into_owned());
    let name = args.name.clone().unwrap_or(folder_name);
    let crate_name = crate_name(&name);
    let lang = args.lang.name();
    let (tool, own): (&str, Vec<(&str, &str)>) = match args.lang {
        Lang::Rust => ("cargo", RUST_FILES.to_vec()),
        Lang::Python => (
            "componentize-py",
            [&GUEST_FILES[..], &PYTHON_FILES[..]].concat(),
        ),
        Lang::Js => (
            "componentize-qjs",
            [&GUEST_FILES[..], &JS_FILES[..]].concat(),
        ),
    };
    for (relative, template) in COMMON_FILES.iter().chain(own.iter()) {
        // The WIT and the helper modules are copied as they are.
        let text = if relative.starts_with("wit/") || relative.contains("prometheus") {
            template.to_string()
        } else {
            // In config.yaml the name is a YAML scalar: quoted as JSON (a subset of YAML), so
            // a name with quotes, colons or a newline cannot change the file's structure.
            template
                .replace(
                    "{{name_yaml}}",
                    &serde_json::Value::from(name.as_str()).to_string(),
                )
                .replace("{{name}}", &name)
                .replace("{{crate}}", &crate_name)
                .replace("{{crate_file}}", &crate_name.replace('-', "_"))
                .replace("{{sdk}}", &sdk)
                .replace("{{dir}}", &dir.display().to_string())
                .replace("{{lang}}", lang)
                .replace("{{tool}}", tool)
                .replace(
                    "{{componentize_py}}",
                    crate::migrate::COMPONENTIZE_PY_VERSION,
                )
        };
        write(&dir.join(relative), &text)?;
    }
    if matches!(args.lang, Lang::Rust) && args.sdk_path.is_none() {
        for (relative, text) in RUST_SDK {
            write(&dir.join(RUST_SDK_DIR).join(relative), text)?;
        }
    }
    make_executable(&dir.join("build.sh"))?;
    Ok([dir.join("build.sh"), dir.join("plan.yaml")])
}

/// The Rust package's name for a scaffold called `name`: `NAME-steps`, with what a crate
/// name cannot hold replaced by `-` (a folder is often named `tests` or `e2e`, or anything).
fn crate_name(name: &str) -> String {
    let mut base: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    if !base.starts_with(|c: char| c.is_ascii_alphabetic()) {
        base.insert_str(0, "t-");
    }
    format!("{}-steps", base.trim_end_matches('-'))
}

fn make_executable(path: &Path) -> Result<(), UserError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).map_err(|e| {
        UserError::usage(
            format!("cannot make {} executable: {e}", path.display()),
            None,
        )
    })
}

fn write(path: &Path, text: &str) -> Result<(), UserError> {
    let fail =
        |e: std::io::Error| UserError::usage(format!("cannot write {}: {e}", path.display()), None);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(fail)?;
    }
    std::fs::write(path, text).map_err(fail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crate_names_are_valid_whatever_the_folder_is_called() {
        assert_eq!(crate_name("e2e"), "e2e-steps");
        assert_eq!(crate_name("My Tests"), "my-tests-steps");
        assert_eq!(crate_name("2024"), "t-2024-steps");
        assert_eq!(crate_name("."), "t-steps");
    }

    #[test]
    fn the_embedded_sdk_is_the_whole_guest_sdk_folder() {
        // A file added to guest-sdk/ but not to RUST_SDK would leave every scaffold
        // without it (a build error far from here).
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../guest-sdk");
        let mut on_disk = Vec::new();
        let mut dirs = vec![root.clone()];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                } else {
                    let relative = path.strip_prefix(&root).unwrap();
                    on_disk.push(relative.to_string_lossy().into_owned());
                }
            }
        }
        on_disk.sort();
        let mut embedded: Vec<String> = RUST_SDK.iter().map(|(p, _)| p.to_string()).collect();
        embedded.sort();
        assert_eq!(embedded, on_disk);
    }

    #[test]
    fn the_sdk_version_is_the_runner_version() {
        let manifest = RUST_SDK[0].1;
        let version = format!("version = \"{}\"", env!("CARGO_PKG_VERSION"));
        assert!(
            manifest.contains(&version),
            "guest-sdk/Cargo.toml: {version}"
        );
    }
}
