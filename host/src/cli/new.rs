//! `prometheus-wasm new [DIR] [--lang rust|python|js]`: a test folder that runs right away —
//! config, a trivial worker (Python's static file server), a step package with one working
//! step, a plan and a .gitignore. Templates live in `new_common/`, `new_rust/`,
//! `new_python/` and `new_js/`; the Python and JavaScript folders also get the helper
//! module and the WIT contract this binary was built with, so they build on their own.

use std::path::Path;

use anyhow::anyhow;

use crate::cli::args::{Lang, NewArgs};
use crate::cli::{EXIT_PASSED, UserError};

/// The guest SDK version the Rust scaffold asks for: this binary's `major.minor`, the
/// version of the WIT it speaks (the SDK is versioned with the WIT).
fn sdk_version() -> String {
    let full = env!("CARGO_PKG_VERSION");
    full.rsplit_once('.').map_or(full, |(mm, _)| mm).to_string()
}

/// Appended to `steps/Cargo.toml` of a scaffold built against a checkout (`--sdk-path`);
/// in the manifest rather than `.cargo/config.toml`, which cargo reads only from the
/// directory it runs in.
const SDK_OVERRIDE: &str = "
# Builds against a prometheus-wasm checkout's guest SDK instead of the published crate
# (written by `prometheus-wasm new --sdk-path`). Delete these lines to build with the
# version named above.
[patch.crates-io]
prometheus-step = { path = \"{{sdk}}\" }
";

/// The WIT contract, copied into Python and JavaScript scaffolds (their tools bind it).
const WIT: &str = include_str!("../../../wit/step.wit");

/// Files every scaffold has: (path in the folder, template).
const COMMON_FILES: [(&str, &str); 2] = [
    ("config.yaml", include_str!("new_common/config.yaml.txt")),
    ("workers.json", include_str!("new_common/workers.json.txt")),
];

/// The Rust scaffold.
const RUST_FILES: [(&str, &str); 5] = [
    ("README.md", include_str!("new_rust/README.md.txt")),
    (".gitignore", include_str!("new_rust/gitignore.txt")),
    ("plan.yaml", include_str!("new_rust/plan.yaml.txt")),
    ("steps/Cargo.toml", include_str!("new_rust/Cargo.toml.txt")),
    ("steps/src/lib.rs", include_str!("new_rust/lib.rs.txt")),
];

/// Files of the Python and JavaScript scaffolds besides their own.
const GUEST_FILES: [(&str, &str); 4] = [
    ("README.md", include_str!("new_common/README_guest.md.txt")),
    (".gitignore", include_str!("new_common/gitignore_guest.txt")),
    ("plan.yaml", include_str!("new_common/plan_wasm.yaml.txt")),
    ("wit/step.wit", WIT),
];

/// The Python scaffold (componentize-py).
const PYTHON_FILES: [(&str, &str); 3] = [
    ("steps/steps.py", include_str!("new_python/steps.py.txt")),
    (
        "steps/prometheus_step.py",
        include_str!("../../../guest-python/prometheus_step.py"),
    ),
    ("build.sh", include_str!("new_python/build.sh.txt")),
];

/// The JavaScript scaffold (componentize-qjs).
const JS_FILES: [(&str, &str); 4] = [
    ("steps/steps.js", include_str!("new_js/steps.js.txt")),
    (
        "steps/prometheus-step.js",
        include_str!("../../../guest-js/prometheus-step.js"),
    ),
    ("build.sh", include_str!("new_js/build.sh.txt")),
    ("package.json", include_str!("new_js/package.json.txt")),
];

/// Creates the folder; returns the exit code.
pub fn new(args: NewArgs) -> Result<u8, UserError> {
    let dir = &args.dir;
    if std::fs::read_dir(dir).is_ok_and(|mut entries| entries.next().is_some()) {
        return Err(UserError::usage(
            anyhow!("{} already exists and is not empty", dir.display()),
            Some("choose a new folder: `prometheus-wasm new DIR`".into()),
        ));
    }
    let sdk = match &args.sdk_path {
        Some(p) => Some(p.canonicalize().map_err(|e| {
            UserError::usage(
                anyhow!("--sdk-path {}: {e}", p.display()),
                Some("pass the guest-sdk folder of a prometheus-wasm checkout".into()),
            )
        })?),
        None => None,
    };
    let name = dir
        .canonicalize()
        .unwrap_or_else(|_| dir.clone())
        .file_name()
        .map_or_else(|| "tests".into(), |n| n.to_string_lossy().into_owned());
    let (lang, tool, own): (&str, &str, Vec<(&str, &str)>) = match args.lang {
        Lang::Rust => ("Rust", "cargo", RUST_FILES.to_vec()),
        Lang::Python => (
            "Python",
            "componentize-py",
            [&GUEST_FILES[..], &PYTHON_FILES[..]].concat(),
        ),
        Lang::Js => (
            "JavaScript",
            "componentize-qjs",
            [&GUEST_FILES[..], &JS_FILES[..]].concat(),
        ),
    };
    for (relative, template) in COMMON_FILES.iter().chain(own.iter()) {
        // The WIT and the helper modules are copied as they are.
        let mut text = if relative.starts_with("wit/") || relative.contains("prometheus") {
            template.to_string()
        } else {
            template
                .replace("{{name}}", &name)
                .replace("{{dir}}", &dir.display().to_string())
                .replace("{{sdk_version}}", &sdk_version())
                .replace("{{lang}}", lang)
                .replace("{{tool}}", tool)
        };
        if let ("steps/Cargo.toml", Some(sdk)) = (*relative, &sdk) {
            text.push_str(&SDK_OVERRIDE.replace("{{sdk}}", &sdk.display().to_string()));
        }
        write(&dir.join(relative), &text)?;
    }
    println!(
        "created {} ({lang} step package, one worker, one step)",
        dir.display()
    );
    println!("next:");
    match args.lang {
        Lang::Rust => {
            println!(
                "  cargo build --manifest-path {} --target wasm32-wasip2 --release",
                dir.join("steps/Cargo.toml").display()
            );
        }
        Lang::Python | Lang::Js => {
            make_executable(&dir.join("build.sh"))?;
            println!("  {}", dir.join("build.sh").display());
        }
    }
    println!("  prometheus-wasm run {}", dir.join("plan.yaml").display());
    Ok(EXIT_PASSED)
}

fn make_executable(path: &Path) -> Result<(), UserError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).map_err(|e| {
        UserError::usage(
            anyhow!("cannot make {} executable: {e}", path.display()),
            None,
        )
    })
}

fn write(path: &Path, text: &str) -> Result<(), UserError> {
    let fail =
        |e: std::io::Error| UserError::usage(anyhow!("cannot write {}: {e}", path.display()), None);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(fail)?;
    }
    std::fs::write(path, text).map_err(fail)
}
