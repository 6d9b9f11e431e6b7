//! `prometheus-wasm keygen`: Koii keypair files ([`crate::koii::keygen`]) at given paths,
//! or for every `keypairs` entry of a test folder; prints what was created and kept.

use std::path::{Path, PathBuf};

use clap::Args;

use crate::cli::{EXIT_PASSED, UserError};
use crate::koii::keygen::{for_test_folder, write_new_keypair};
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
        [dir] if dir.is_dir() => folder(dir),
        files => {
            if let Some(dir) = files.iter().find(|f| f.is_dir()) {
                return Err(UserError::usage(
                    format!("{} is a folder", dir.display()),
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

/// Keys for the folder's workers, each said: created (with its public key) or kept.
fn folder(dir: &Path) -> Result<u8, UserError> {
    let done = for_test_folder(dir)?;
    for key in &done.keys {
        let variable = &key.variable;
        match &key.created {
            None => println!("kept {} ({variable}): the file exists", shown(&key.file)),
            Some(public_key) => println!(
                "created {} ({variable}, {} key of {}): {public_key}",
                shown(&key.file),
                sanitize_line(&key.kind),
                sanitize_line(&key.worker),
            ),
        }
    }
    if let Some((env, lines)) = &done.env_lines {
        println!("added {lines} line(s) to {}", shown(env));
    }
    if done.keys.is_empty() {
        println!("no worker in workers.json has `keypairs`: nothing to do");
    } else if done.keys.iter().all(|k| k.created.is_none()) && done.env_lines.is_none() {
        println!("every keypair already exists: nothing to do");
    }
    Ok(EXIT_PASSED)
}

/// A path from the user or workers.json, as one printable line.
fn shown(path: &Path) -> String {
    sanitize_line(&path.display().to_string()).into_owned()
}
