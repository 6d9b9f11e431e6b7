//! `prometheus-wasm keygen`: Koii keypair files in the reference format (a JSON array of
//! 64 bytes, as `solana-keygen` writes), so a new test needs no hand-written key generator.
//!
//! Given files, it writes one keypair to each. Given a test folder, it gives every
//! `keypairs` entry of workers.json a key: a variable that names a missing file gets that
//! file; an unset variable gets `TESTS/keys/<worker>-<kind>.json` and a line in `TESTS/.env`.
//! It never overwrites a file and never changes an existing `.env` line.

use std::collections::BTreeSet;
use std::fs::OpenOptions;
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::anyhow;
use clap::Args;

use crate::cli::{EXIT_PASSED, UserError};
use crate::error::UserFacing;
use crate::koii::Keypair;
use crate::report::sanitize::sanitize_line;

/// Options of `keygen`.
#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// Keypair files to create (an existing file is refused), or one test folder (holding
    /// config.yaml): a key for every `keypairs` entry of its workers.json that has none.
    #[arg(required = true, value_name = "FILE|TESTS_DIR")]
    pub targets: Vec<PathBuf>,
}

/// Writes the keypair files; exit 0, or 2 when a file exists or cannot be written.
pub fn keygen(args: KeygenArgs) -> Result<u8, UserError> {
    match args.targets.as_slice() {
        [dir] if dir.is_dir() => for_test_folder(dir),
        files => {
            if let Some(dir) = files.iter().find(|f| f.is_dir()) {
                return Err(UserError::usage(
                    anyhow!("{} is a folder", dir.display()),
                    Some("give either keypair file paths or one test folder".into()),
                ));
            }
            for file in files {
                let keypair = write_new_keypair(file)?;
                println!("{}: {}", shown(file), keypair.public_key());
            }
            Ok(EXIT_PASSED)
        }
    }
}

/// Keys for every `keypairs` entry of the folder's workers.json that has none.
fn for_test_folder(dir: &Path) -> Result<u8, UserError> {
    let config = crate::session::prepare::load_config(&dir.join("config.yaml"), &[])?;
    // Keypair paths are relative to the directory above the tests, as the reference
    // resolves them (koii::Keyring).
    let project_dir = config
        .tests_dir
        .parent()
        .unwrap_or(&config.tests_dir)
        .to_path_buf();
    let tests_name = config
        .tests_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut handled = BTreeSet::new();
    let mut new_lines = Vec::new();
    let mut created = 0;
    for worker in &config.workers {
        for (kind, variable) in &worker.keypairs {
            if !handled.insert(variable.clone()) {
                continue;
            }
            // Both come from workers.json: a name that is not a plain identifier could
            // add lines to .env or leave the keys folder.
            check_variable_name(variable, &config.workers_config)?;
            let value = config.env.get(variable).map(|v| v.trim().to_string());
            let (relative, set_variable) = match value.filter(|v| !v.is_empty()) {
                Some(value) => (PathBuf::from(value), false),
                None => {
                    let file = format!("{}-{}.json", slug(&worker.name), slug(kind));
                    (Path::new(&tests_name).join("keys").join(file), true)
                }
            };
            let path = project_dir.join(&relative);
            if path.exists() {
                println!("kept {} ({variable}): the file exists", shown(&relative));
            } else {
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent).map_err(|e| {
                        UserError::usage(
                            anyhow!("cannot create folder {}: {e}", parent.display()),
                            None,
                        )
                    })?;
                }
                let keypair = write_new_keypair(&path)?;
                created += 1;
                println!(
                    "created {} ({variable}, {} key of {}): {}",
                    shown(&relative),
                    sanitize_line(kind),
                    sanitize_line(&worker.name),
                    keypair.public_key()
                );
            }
            if set_variable {
                new_lines.push(format!("{variable}={}", relative.display()));
            }
        }
    }
    if !new_lines.is_empty() {
        append_env(&config.tests_dir.join(".env"), &new_lines)?;
        println!(
            "added {} line(s) to {}",
            new_lines.len(),
            shown(&config.tests_dir.join(".env"))
        );
    }
    if handled.is_empty() {
        println!("no worker in workers.json has `keypairs`: nothing to do");
    } else if created == 0 && new_lines.is_empty() {
        println!("every keypair already exists: nothing to do");
    }
    Ok(EXIT_PASSED)
}

/// A new keypair written to `path`, which must not exist; the file is created 0600 (it
/// holds the private key) in one step, so an existing file is never replaced.
fn write_new_keypair(path: &Path) -> Result<Keypair, UserError> {
    let keypair = Keypair::generate()
        .map_err(|e| UserError::usage(anyhow!("cannot make a keypair: {e}"), None))?;
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| {
            let hint = (e.kind() == std::io::ErrorKind::AlreadyExists).then(|| {
                "keygen never overwrites a key; remove the file first or pick another path"
                    .to_string()
            });
            UserError::usage(
                anyhow!("cannot create keypair file {}: {e}", path.display()),
                hint,
            )
        })?;
    file.write_all(keypair.file_text().as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| UserError::usage(anyhow!("cannot write {}: {e}", path.display()), None))?;
    Ok(keypair)
}

/// Appends `lines` to the `.env` file at `path`, on a line of their own.
fn append_env(path: &Path, lines: &[String]) -> Result<(), UserError> {
    let fail = |e: std::io::Error| {
        UserError::usage(anyhow!("cannot add to {}: {e}", path.display()), None)
    };
    // Read like every input (config loading refused a FIFO or a device here already; this
    // keeps it so if the file changed since).
    let existing = crate::bounded_read::read_bytes_if_exists(
        path,
        crate::bounded_read::DOTENV_FILE_MAX,
        ".env file",
    )
    .map_err(|e| UserError::usage(anyhow!("{e}"), e.hint()))?
    .unwrap_or_default();
    let mut text = String::new();
    if !existing.is_empty() && !existing.ends_with(b"\n") {
        text.push('\n');
    }
    text.push_str("# keypair files written by `prometheus-wasm keygen`\n");
    for line in lines {
        text.push_str(line);
        text.push('\n');
    }
    let mut file = OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .open(path)
        .map_err(fail)?;
    file.write_all(text.as_bytes()).map_err(fail)
}

/// Refuses a variable name that is not `[A-Za-z_][A-Za-z0-9_]*`.
fn check_variable_name(name: &str, workers_file: &Path) -> Result<(), UserError> {
    let mut chars = name.chars();
    let ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        return Ok(());
    }
    Err(UserError::usage(
        anyhow!(
            "{}: `keypairs` names the variable `{}`, which is not a variable name",
            workers_file.display(),
            sanitize_line(name)
        ),
        Some(
            "a variable name holds letters, digits and `_`, and does not start with a digit".into(),
        ),
    ))
}

/// `name` as a safe file-name part: letters, digits, `-`, `_` and `.` kept, anything else
/// (a `/`, a control character) replaced by `_`, never empty or `.`/`..`.
fn slug(name: &str) -> String {
    let slug: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if slug.is_empty() { "_".into() } else { slug }
}

fn shown(path: &Path) -> String {
    sanitize_line(&path.display().to_string()).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_never_leave_the_folder() {
        assert_eq!(slug("worker1"), "worker1");
        assert_eq!(slug("../../etc/passwd"), "______etc_passwd");
        assert_eq!(slug(""), "_");
        assert_eq!(slug("a\u{1b}]52;c;x\u{7}"), "a__52_c_x_");
    }

    #[test]
    fn variable_names_are_plain_identifiers() {
        let file = Path::new("workers.json");
        assert!(check_variable_name("WORKER1_STAKING_KEYPAIR", file).is_ok());
        assert!(check_variable_name("_K", file).is_ok());
        for bad in ["", "1K", "K\nEVIL=1", "K=V", "K Y"] {
            assert!(check_variable_name(bad, file).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_written_keypair_reads_back_and_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.json");
        let keypair = write_new_keypair(&path).unwrap();
        let read = Keypair::read(&path).unwrap();
        assert_eq!(read.public_key(), keypair.public_key());
        let mode = std::fs::metadata(&path).unwrap().permissions();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
            0o600
        );
        let before = std::fs::read(&path).unwrap();
        assert!(write_new_keypair(&path).is_err());
        assert_eq!(std::fs::read(&path).unwrap(), before, "never overwritten");
    }
}
