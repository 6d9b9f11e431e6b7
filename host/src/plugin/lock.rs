//! The capability lock (`plan.lock` beside a plan): per package, the sha256, the WIT
//! package it targets and the interfaces it imports, as last approved. A package that now
//! imports more than its entry says must be re-approved ([`LockDiff::is_violation`]).
//!
//! Interfaces are compared by name and compatible version (`wasi:io/streams@0.2.3` and
//! `@0.2.6` are the same capability; `prometheus:step/http@0.1.0` and `@0.2.0` are not).
//! The file is JSON, written atomically, sorted so that diffs review well. Start from
//! [`LockFile::of`] and [`compare`].

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::UserFacing;
use crate::plugin::link::WIT_PACKAGE;
use crate::plugin::plan::Plan;

/// Version of the lock file format, written in the file and checked on read.
pub const LOCK_VERSION: u32 = 1;

/// Why a lock file cannot be read or written.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// The file exists but cannot be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The lock file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a lock file this version understands.
    #[error("{}: not a valid lock file: {message}", path.display())]
    Parse {
        /// The lock file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The file cannot be written.
    #[error("cannot write {}: {message}", path.display())]
    Write {
        /// The lock file.
        path: PathBuf,
        /// What failed.
        message: String,
    },
}

impl UserFacing for LockError {
    fn hint(&self) -> Option<String> {
        match self {
            LockError::Parse { .. } => Some(
                "restore it from version control, or delete it and run `prometheus-wasm lock PLAN` to write a new one"
                    .into(),
            ),
            _ => None,
        }
    }
}

/// The lock file: approved capabilities per package name of the plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LockFile {
    /// [`LOCK_VERSION`].
    pub version: u32,
    /// Per package name.
    pub packages: BTreeMap<String, LockedPackage>,
}

/// One package's approved identity and capabilities.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LockedPackage {
    /// Hex sha256 of the package file.
    pub sha256: String,
    /// The WIT package and version it targets (`prometheus:step@0.1.0`).
    pub wit: String,
    /// The interfaces it imports, sorted.
    pub imports: Vec<String>,
    /// Its `name@version` (metadata section), when it has one: lets a later pin mismatch
    /// name the version that was pinned, even on a machine that never fetched it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
}

impl LockFile {
    /// The lock of a plan's packages as they are now.
    pub fn of(plan: &Plan) -> Self {
        let packages = plan
            .packages()
            .map(|(name, package)| {
                let mut imports = package.imports().to_vec();
                imports.sort();
                imports.dedup();
                let locked = LockedPackage {
                    sha256: package.sha256().to_string(),
                    wit: wit_of(&imports),
                    imports,
                    identity: package.identity().label(),
                };
                (name.to_string(), locked)
            })
            .collect();
        Self {
            version: LOCK_VERSION,
            packages,
        }
    }

    /// The lock file of the plan at `plan`: beside it, named after it (`plan.yaml` →
    /// `plan.lock`).
    pub fn path_for(plan: &Path) -> PathBuf {
        plan.with_extension("lock")
    }

    /// Reads the lock at `path`; `None` when there is none yet.
    pub fn read(path: &Path) -> Result<Option<Self>, LockError> {
        let text = match crate::bounded_read::read_text_if_exists(
            path,
            crate::bounded_read::LOCK_FILE_MAX,
            "plan lock",
        ) {
            Ok(Some(t)) => t,
            Ok(None) => return Ok(None),
            Err(e) => {
                return Err(LockError::Read {
                    path: path.to_path_buf(),
                    source: e.into_io_error(),
                });
            }
        };
        let lock: LockFile = serde_json::from_str(&text).map_err(|e| LockError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        if lock.version != LOCK_VERSION {
            return Err(LockError::Parse {
                path: path.to_path_buf(),
                message: format!(
                    "format version {} (this prometheus-wasm reads version {LOCK_VERSION})",
                    lock.version
                ),
            });
        }
        Ok(Some(lock))
    }

    /// Writes the lock to `path` atomically (temp file + rename).
    pub fn write(&self, path: &Path) -> Result<(), LockError> {
        let fail = |message: String| LockError::Write {
            path: path.to_path_buf(),
            message,
        };
        let mut text = serde_json::to_string_pretty(self).expect("lock values serialize");
        text.push('\n');
        crate::atomic_file::write(path, text.as_bytes(), true).map_err(|e| fail(e.to_string()))?;
        Ok(())
    }
}

/// The WIT package a component targets, from its `prometheus:step/…@V` imports.
fn wit_of(imports: &[String]) -> String {
    imports
        .iter()
        .find_map(|i| {
            let (iface, version) = i.rsplit_once('@')?;
            let (package, _) = iface.split_once('/')?;
            (package == "prometheus:step").then(|| format!("{package}@{version}"))
        })
        .unwrap_or_else(|| WIT_PACKAGE.to_string())
}

/// An import's name with its version cut to the compatible part (`0.minor`, else major).
fn capability_key(import: &str) -> String {
    let Some((iface, version)) = import.rsplit_once('@') else {
        return import.to_string();
    };
    let mut parts = version.split('.');
    let major = parts.next().unwrap_or("");
    let compat = if major == "0" {
        format!("0.{}", parts.next().unwrap_or(""))
    } else {
        major.to_string()
    };
    format!("{iface}@{compat}")
}

/// What one interface grants, for the diff shown to the user.
pub fn describe(import: &str) -> &'static str {
    let iface = import.split('@').next().unwrap_or(import);
    match iface {
        "prometheus:step/http" => "HTTP requests to the workers and allowed_hosts",
        "prometheus:step/mongo" => "the test's MongoDB database",
        "prometheus:step/worker" => "worker details, environment and signing",
        "prometheus:step/state" => "reading and writing the run state",
        "prometheus:step/config" => "reading config.yaml",
        "prometheus:step/log" => "log lines",
        "prometheus:step/faults" => {
            "faults on the test's workers (kill, restart, network; needs faults_from_steps)"
        }
        "prometheus:step/types" => "shared types",
        i if i.starts_with("wasi:") => "WASI 0.2 (linked; grants no files, sockets or environment)",
        _ => "an interface this runner does not describe",
    }
}

/// A package that asks for more than its lock entry grants.
#[derive(Debug, Clone, PartialEq)]
pub struct Grown {
    /// The plan's name of the package.
    pub package: String,
    /// The imports its entry does not grant.
    pub added: Vec<String>,
    /// (locked, now) when the WIT package it targets changed.
    pub wit: Option<(String, String)>,
}

/// How the current packages differ from the lock.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LockDiff {
    /// Packages that import what their entry does not grant.
    pub grown: Vec<Grown>,
    /// Packages the lock does not know yet.
    pub added: Vec<String>,
    /// Packages in the lock that the plan no longer uses.
    pub removed: Vec<String>,
    /// Packages whose bytes changed within their approved capabilities: (name, locked
    /// sha256, new sha256).
    pub rebuilt: Vec<(String, String, String)>,
    /// Packages that import less than their entry grants: (name, imports dropped).
    pub shrunk: Vec<(String, Vec<String>)>,
}

impl LockDiff {
    /// Whether a package asks for more than the lock grants: the run must stop.
    pub fn is_violation(&self) -> bool {
        !self.grown.is_empty()
    }

    /// Whether the lock file already says exactly what the packages are.
    pub fn is_unchanged(&self) -> bool {
        *self == LockDiff::default()
    }

    /// The new capabilities, one `+ interface (what it grants)` line each, per package.
    pub fn render_grown(&self) -> String {
        let mut out = String::new();
        for Grown {
            package,
            added,
            wit,
        } in &self.grown
        {
            out.push_str(&format!("  package `{package}`:\n"));
            if let Some((old, new)) = wit {
                out.push_str(&format!("    WIT target {old} -> {new}\n"));
            }
            for import in added {
                out.push_str(&format!("    + {import}  ({})\n", describe(import)));
            }
        }
        out
    }

    /// One line per change that is not a violation, for notes.
    pub fn render_changes(&self) -> Vec<String> {
        let mut lines = Vec::new();
        lines.extend(self.added.iter().map(|p| format!("added package `{p}`")));
        lines.extend(
            self.removed
                .iter()
                .map(|p| format!("removed package `{p}`")),
        );
        lines.extend(self.rebuilt.iter().map(|(p, old, new)| {
            format!(
                "package `{p}` changed (sha256 {} -> {}) within its capabilities",
                short(old),
                short(new)
            )
        }));
        lines.extend(
            self.shrunk.iter().map(|(p, dropped)| {
                format!("package `{p}` no longer imports {}", dropped.join(", "))
            }),
        );
        lines
    }
}

fn short(sha: &str) -> &str {
    &sha[..sha.len().min(12)]
}

/// Compares the packages as they are now with the lock.
pub fn compare(locked: &LockFile, current: &LockFile) -> LockDiff {
    let mut diff = LockDiff::default();
    for (name, now) in &current.packages {
        let Some(then) = locked.packages.get(name) else {
            diff.added.push(name.clone());
            continue;
        };
        let granted: BTreeSet<String> = then.imports.iter().map(|i| capability_key(i)).collect();
        let wanted: BTreeSet<String> = now.imports.iter().map(|i| capability_key(i)).collect();
        let new: Vec<String> = now
            .imports
            .iter()
            .filter(|i| !granted.contains(&capability_key(i)))
            .cloned()
            .collect();
        let wit = (then.wit != now.wit).then(|| (then.wit.clone(), now.wit.clone()));
        if !new.is_empty() || wit.is_some() {
            diff.grown.push(Grown {
                package: name.clone(),
                added: new,
                wit,
            });
            continue;
        }
        let dropped: Vec<String> = then
            .imports
            .iter()
            .filter(|i| !wanted.contains(&capability_key(i)))
            .cloned()
            .collect();
        if !dropped.is_empty() {
            diff.shrunk.push((name.clone(), dropped));
        }
        if then.sha256 != now.sha256 {
            diff.rebuilt
                .push((name.clone(), then.sha256.clone(), now.sha256.clone()));
        }
    }
    diff.removed = locked
        .packages
        .keys()
        .filter(|name| !current.packages.contains_key(*name))
        .cloned()
        .collect();
    diff
}

#[cfg(test)]
mod tests {
    //! Tests of the capability lock: comparison rules and the file round trip.

    use super::*;

    #[test]
    fn the_faults_capability_is_described_with_its_grant() {
        let text = describe("prometheus:step/faults@0.1.0");
        assert!(text.contains("faults_from_steps"), "{text}");
    }

    fn lock(entries: &[(&str, &str, &[&str])]) -> LockFile {
        LockFile {
            version: LOCK_VERSION,
            packages: entries
                .iter()
                .map(|(name, sha, imports)| {
                    let imports: Vec<String> = imports.iter().map(|s| s.to_string()).collect();
                    (
                        name.to_string(),
                        LockedPackage {
                            sha256: sha.to_string(),
                            wit: wit_of(&imports),
                            imports,
                            identity: None,
                        },
                    )
                })
                .collect(),
        }
    }

    const LOG: &str = "prometheus:step/log@0.1.0";
    const HTTP: &str = "prometheus:step/http@0.1.0";

    #[test]
    fn a_new_import_is_a_violation_naming_it() {
        let locked = lock(&[("audit", "aa", &[LOG])]);
        let now = lock(&[("audit", "bb", &[LOG, HTTP])]);
        let diff = compare(&locked, &now);
        assert!(diff.is_violation());
        let text = diff.render_grown();
        assert!(text.contains("package `audit`"), "{text}");
        assert!(
            text.contains("+ prometheus:step/http@0.1.0  (HTTP requests"),
            "{text}"
        );
    }

    #[test]
    fn a_rebuild_within_the_lock_is_not_a_violation() {
        let locked = lock(&[("audit", "aa", &[LOG, HTTP])]);
        let now = lock(&[("audit", "bb", &[LOG])]);
        let diff = compare(&locked, &now);
        assert!(!diff.is_violation());
        assert_eq!(diff.shrunk, vec![("audit".into(), vec![HTTP.to_string()])]);
        assert_eq!(diff.rebuilt.len(), 1);
        assert!(!diff.is_unchanged());
        assert!(compare(&locked, &locked).is_unchanged());
    }

    #[test]
    fn wasi_patch_versions_are_one_capability_but_wit_versions_are_not() {
        let locked = lock(&[("a", "aa", &["wasi:io/streams@0.2.3", LOG])]);
        let now = lock(&[("a", "aa", &["wasi:io/streams@0.2.6", LOG])]);
        assert!(compare(&locked, &now).is_unchanged());
        let newer = lock(&[("a", "aa", &["prometheus:step/log@0.2.0"])]);
        let diff = compare(&locked, &newer);
        assert!(diff.is_violation());
        assert!(
            diff.render_grown()
                .contains("WIT target prometheus:step@0.1.0 -> prometheus:step@0.2.0")
        );
    }

    #[test]
    fn added_and_removed_packages_are_changes_not_violations() {
        let locked = lock(&[("old", "aa", &[LOG])]);
        let now = lock(&[("new", "bb", &[LOG])]);
        let diff = compare(&locked, &now);
        assert!(!diff.is_violation());
        assert_eq!(diff.added, ["new"]);
        assert_eq!(diff.removed, ["old"]);
    }

    #[test]
    fn the_file_round_trips_and_refuses_other_versions() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = LockFile::path_for(&dir.path().join("plan.yaml"));
        assert_eq!(path.file_name().and_then(|n| n.to_str()), Some("plan.lock"));
        assert_eq!(LockFile::read(&path).expect("no file is fine"), None);
        let l = lock(&[("a", "aa", &[LOG, HTTP])]);
        l.write(&path).expect("write");
        assert_eq!(LockFile::read(&path).expect("read"), Some(l));
        std::fs::write(&path, r#"{"version": 9, "packages": {}}"#).expect("write");
        let err = LockFile::read(&path).unwrap_err().to_string();
        assert!(err.contains("format version 9"), "{err}");
    }
}
