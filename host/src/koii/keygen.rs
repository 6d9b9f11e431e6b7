//! Koii keypair files in the reference format (a JSON array of 64 bytes, as `solana-keygen`
//! writes), so a new test needs no hand-written key generator (`prometheus-wasm keygen`).
//!
//! [`write_new_keypair`] writes one file. [`for_test_folder`] gives every `keypairs` entry
//! of a folder's workers.json a key: a variable that names a missing file gets that file;
//! an unset variable gets `TESTS/keys/<worker>-<kind>.json` and a line in `TESTS/.env`. It
//! never overwrites a file and never changes an existing `.env` line.

use std::collections::BTreeSet;
use std::fs::OpenOptions;
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::error::{UserError, UserFacing};
use crate::koii::Keypair;

/// What happened to one `keypairs` entry of workers.json.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderKey {
    /// The keypair file, relative to the folder above the tests (as `.env` names it).
    pub file: PathBuf,
    /// The variable that names it.
    pub variable: String,
    /// The entry's kind (`staking`, `public`…), as workers.json writes it.
    pub kind: String,
    /// The worker.
    pub worker: String,
    /// The new key's public half; `None`: the file existed and was kept.
    pub created: Option<String>,
}

/// What [`for_test_folder`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FolderKeys {
    /// Each variable of the workers' `keypairs`, once, in workers.json order.
    pub keys: Vec<FolderKey>,
    /// The `.env` file lines were added to, and how many; `None` when none were.
    pub env_lines: Option<(PathBuf, usize)>,
}

/// Keys for every `keypairs` entry of the folder's workers.json that has none (config.yaml
/// read with the process environment, as a run reads it).
pub fn for_test_folder(dir: &Path) -> Result<FolderKeys, UserError> {
    let process_env: std::collections::BTreeMap<String, String> = std::env::vars().collect();
    let config = crate::config::load_with(&dir.join("config.yaml"), &process_env, &[])?;
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
    let mut done = FolderKeys::default();
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
            let mut created = None;
            if !path.exists() {
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent).map_err(|e| {
                        UserError::usage(
                            format!("cannot create folder {}: {e}", parent.display()),
                            None,
                        )
                    })?;
                }
                created = Some(write_new_keypair(&path)?.public_key().to_string());
            }
            if set_variable {
                new_lines.push(format!("{variable}={}", relative.display()));
            }
            done.keys.push(FolderKey {
                file: relative,
                variable: variable.clone(),
                kind: kind.clone(),
                worker: worker.name.clone(),
                created,
            });
        }
    }
    if !new_lines.is_empty() {
        let env = config.tests_dir.join(".env");
        append_env(&env, &new_lines)?;
        done.env_lines = Some((env, new_lines.len()));
    }
    Ok(done)
}

/// A new keypair written to `path`, which must not exist; the file is created 0600 (it
/// holds the private key) in one step, so an existing file is never replaced.
pub fn write_new_keypair(path: &Path) -> Result<Keypair, UserError> {
    let keypair = Keypair::generate()
        .map_err(|e| UserError::usage(format!("cannot make a keypair: {e}"), None))?;
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
                format!("cannot create keypair file {}: {e}", path.display()),
                hint,
            )
        })?;
    file.write_all(keypair.file_text().as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| UserError::usage(format!("cannot write {}: {e}", path.display()), None))?;
    Ok(keypair)
}

/// Appends `lines` to the `.env` file at `path`, on a line of their own.
fn append_env(path: &Path, lines: &[String]) -> Result<(), UserError> {
    let fail = |e: std::io::Error| {
        UserError::usage(format!("cannot add to {}: {e}", path.display()), None)
    };
    // Read like every input (config loading refused a FIFO or a device here already; this
    // keeps it so if the file changed since).
    let existing = crate::bounded_read::read_bytes_if_exists(
        path,
        crate::bounded_read::DOTENV_FILE_MAX,
        ".env file",
    )
    .map_err(|e| UserError::usage(e.to_string(), e.hint()))?
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
        format!(
            "{}: `keypairs` names the variable `{}`, which is not a variable name",
            workers_file.display(),
            // Escaped here: koii sits below the report and its sanitizer.
            name.escape_debug()
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
