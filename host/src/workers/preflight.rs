//! [`preflight`]: everything about the launch specs that can be checked without starting a
//! process, so that a run which cannot start is refused before any data is touched.
//!
//! The run command calls it before it empties MongoDB collections or deletes the workers'
//! `.db` files; [`Fleet::start`](super::Fleet::start) calls it again right before spawning
//! (time passes between the two: a port may have been taken meanwhile). It takes the
//! specs of the workers the runner starts itself, so workers started by someone else can
//! simply be left out of the slice.
//!
//! What it checks, per worker in `specs` order, the first failure winning:
//! - the port: not 0, not shared with an earlier worker, not in use on loopback
//!   (`ports.rs`);
//! - the working directory: exists, is a directory, may be entered;
//! - the program: found as `execvp` would find it (a path containing `/` is taken as is,
//!   relative to the working directory; a bare name is searched in the worker's own
//!   `PATH`), a file, executable.
//!
//! What it cannot know — whether the program will run, listen, or crash — is left to
//! `Fleet::start`, which reports it as a worker failure.

use std::path::{Path, PathBuf};

use nix::unistd::{AccessFlags, access};

use super::error::{WorkerError, WorkerErrorKind};
use super::ports::check_ports_free;
use super::spec::LaunchSpec;

/// The search path `execvp` uses when the environment has no `PATH` (glibc's default).
/// The workers get exactly the environment of their spec, so a spec without `PATH` is
/// searched like this, as the spawn itself would be.
const DEFAULT_SEARCH_PATH: &str = "/bin:/usr/bin";

/// Refuses the specs when a worker cannot possibly start; touches nothing and spawns
/// nothing.
///
/// # Errors
/// A [`WorkerError`] naming the first worker (in `specs` order) whose port is 0, shared or
/// in use, whose working directory is missing or cannot be entered, or whose program is not
/// found or not executable.
pub fn preflight(specs: &[LaunchSpec]) -> Result<(), WorkerError> {
    check_ports_free(specs)?;
    for spec in specs {
        check_cwd(spec)?;
        check_program(spec)?;
    }
    Ok(())
}

/// The working directory exists, is a directory, and we may enter it (`chdir` needs search
/// permission).
fn check_cwd(spec: &LaunchSpec) -> Result<(), WorkerError> {
    let problem = match std::fs::metadata(&spec.cwd) {
        Err(source) => Some(source),
        Ok(meta) if !meta.is_dir() => Some(std::io::Error::from(std::io::ErrorKind::NotADirectory)),
        Ok(_) => access(&spec.cwd, AccessFlags::X_OK)
            .err()
            .map(std::io::Error::from),
    };
    match problem {
        None => Ok(()),
        Some(source) => Err(WorkerError::new(
            &spec.name,
            WorkerErrorKind::BadCwd {
                cwd: spec.cwd.clone(),
                source,
            },
        )),
    }
}

/// The program resolves to an executable file, the way the spawn will resolve it.
fn check_program(spec: &LaunchSpec) -> Result<(), WorkerError> {
    let fail = |kind| Err(WorkerError::new(&spec.name, kind));
    if spec.program.is_empty() {
        return fail(WorkerErrorKind::ProgramNotFound {
            program: spec.program.clone(),
            searched: None,
        });
    }
    if spec.program.contains('/') {
        // The spawn changes into `cwd` before it executes the program, so a relative path
        // is relative to `cwd`, not to the runner's own directory.
        let path = spec.cwd.join(&spec.program);
        return match executable(&path) {
            Candidate::Executable => Ok(()),
            Candidate::Missing => fail(WorkerErrorKind::ProgramNotFound {
                program: spec.program.clone(),
                searched: None,
            }),
            Candidate::NotExecutable => fail(WorkerErrorKind::ProgramNotExecutable { path }),
        };
    }
    let search = spec
        .env
        .get("PATH")
        .map_or(DEFAULT_SEARCH_PATH, String::as_str);
    let mut not_executable: Option<PathBuf> = None;
    for dir in search.split(':') {
        // An empty entry means the current directory, which for the worker is `cwd`.
        let path = spec.cwd.join(dir).join(&spec.program);
        match executable(&path) {
            Candidate::Executable => return Ok(()),
            Candidate::NotExecutable => {
                not_executable.get_or_insert(path);
            }
            Candidate::Missing => {}
        }
    }
    match not_executable {
        Some(path) => fail(WorkerErrorKind::ProgramNotExecutable { path }),
        None => fail(WorkerErrorKind::ProgramNotFound {
            program: spec.program.clone(),
            searched: Some(search.to_owned()),
        }),
    }
}

/// What a search path entry holds for the program.
enum Candidate {
    Executable,
    NotExecutable,
    Missing,
}

fn executable(path: &Path) -> Candidate {
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_file() => {
            if access(path, AccessFlags::X_OK).is_ok() {
                Candidate::Executable
            } else {
                Candidate::NotExecutable
            }
        }
        // A directory named like the program is skipped by execvp too.
        _ => Candidate::Missing,
    }
}
