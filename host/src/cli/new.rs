//! `prometheus-wasm new [DIR] [--lang rust]`: a test folder that runs right away — config,
//! a trivial worker (Python's static file server), a step package with one working step,
//! a plan and a .gitignore. Templates live in `new_rust/`.
//!
//! Python and JavaScript scaffolds need the polyglot guest toolchain, which this build does
//! not include; they are refused with a pointer to the docs.

use std::path::{Path, PathBuf};

use anyhow::anyhow;

use crate::cli::args::{Lang, NewArgs};
use crate::cli::{EXIT_PASSED, UserError};

/// The guest SDK of the checkout this binary was built from: the scaffold depends on it
/// by path, since it is not published on crates.io.
const GUEST_SDK_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../guest-sdk");

/// The Rust scaffold: (path in the folder, template).
const RUST_FILES: [(&str, &str); 7] = [
    ("README.md", include_str!("new_rust/README.md.txt")),
    (".gitignore", include_str!("new_rust/gitignore.txt")),
    ("config.yaml", include_str!("new_rust/config.yaml.txt")),
    ("workers.json", include_str!("new_rust/workers.json.txt")),
    ("plan.yaml", include_str!("new_rust/plan.yaml.txt")),
    ("steps/Cargo.toml", include_str!("new_rust/Cargo.toml.txt")),
    ("steps/src/lib.rs", include_str!("new_rust/lib.rs.txt")),
];

/// Creates the folder; returns the exit code.
pub fn new(args: NewArgs) -> Result<u8, UserError> {
    if args.lang != Lang::Rust {
        let (lang, tool) = match args.lang {
            Lang::Python => ("python", "componentize-py"),
            _ => ("js", "componentize-js"),
        };
        return Err(UserError::usage(
            anyhow!(
                "`--lang {lang}` is not available in this build: {lang} step packages need the polyglot guest toolchain ({tool} and the helper modules)"
            ),
            Some("see docs/writing-steps.md, or scaffold with `--lang rust`".into()),
        ));
    }
    let dir = &args.dir;
    if std::fs::read_dir(dir).is_ok_and(|mut entries| entries.next().is_some()) {
        return Err(UserError::usage(
            anyhow!("{} already exists and is not empty", dir.display()),
            Some("choose a new folder: `prometheus-wasm new DIR`".into()),
        ));
    }
    let sdk = sdk_dir();
    let name = dir
        .canonicalize()
        .unwrap_or_else(|_| dir.clone())
        .file_name()
        .map_or_else(|| "tests".into(), |n| n.to_string_lossy().into_owned());
    for (relative, template) in RUST_FILES {
        let text = template
            .replace("{{name}}", &name)
            .replace("{{dir}}", &dir.display().to_string())
            .replace("{{sdk}}", &sdk.display().to_string());
        write(&dir.join(relative), &text)?;
    }
    println!(
        "created {} (Rust step package, one worker, one step)",
        dir.display()
    );
    if !sdk.join("Cargo.toml").is_file() {
        println!(
            "warning: the guest SDK is not at {}; edit {} to point at your prometheus-wasm checkout",
            sdk.display(),
            dir.join("steps/Cargo.toml").display()
        );
    }
    println!("next:");
    println!(
        "  cargo build --manifest-path {} --target wasm32-wasip2 --release",
        dir.join("steps/Cargo.toml").display()
    );
    println!("  prometheus-wasm run {}", dir.join("plan.yaml").display());
    Ok(EXIT_PASSED)
}

/// The guest SDK's folder, made absolute when it exists.
fn sdk_dir() -> PathBuf {
    let dir = Path::new(GUEST_SDK_DIR);
    dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf())
}

fn write(path: &Path, text: &str) -> Result<(), UserError> {
    let fail =
        |e: std::io::Error| UserError::usage(anyhow!("cannot write {}: {e}", path.display()), None);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(fail)?;
    }
    std::fs::write(path, text).map_err(fail)
}
