//! What `run` and `lock` run: a bare step package or a plan file, loaded into one
//! [`Plan`] (a bare package is a one-package plan), with pins checked before compiling,
//! the capability lock checked or written, and every step's worker checked against
//! workers.json — all before any worker starts.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::config::{PackageSource, PlanError, PlanFile, PlanPackage, TestConfig, load_plan};
use crate::error::UserError;
use crate::fetch::{FetchErrorKind, Origin, PackageStore, REGISTRY_ENV, RegistryOptions, Resolver};
use crate::plugin::lock::{compare, describe};
use crate::plugin::{Budgets, CodeCache, CodeSource, LockFile, Package, Plan, StepEngine, Steps};

/// What the user asked to run.
pub enum Source {
    /// A bare `.wasm` step package.
    Package(PathBuf),
    /// A plan file.
    Plan(PlanFile),
}

/// Whether `path` names a plan (by its `.yaml`/`.yml` extension) rather than a package.
pub fn is_plan_path(path: &Path) -> bool {
    path.extension()
        .is_some_and(|x| x.eq_ignore_ascii_case("yaml") || x.eq_ignore_ascii_case("yml"))
}

/// What a test folder given to `run` or `check` is looked for in, in order.
pub const FOLDER_ENTRIES: [&str; 3] = ["plan.yaml", "plan.yml", "steps.wasm"];

/// `path` itself, or for a test folder the first of [`FOLDER_ENTRIES`] it holds; an error
/// listing what was looked for when it holds none.
pub fn in_folder(path: &Path) -> Result<PathBuf, UserError> {
    if !path.is_dir() {
        return Ok(path.to_path_buf());
    }
    let candidates: Vec<PathBuf> = FOLDER_ENTRIES.iter().map(|f| path.join(f)).collect();
    if let Some(found) = candidates.iter().find(|p| p.is_file()) {
        return Ok(found.clone());
    }
    Err(UserError::usage(
        format!(
            "{} is a folder without a plan or a step package: looked for {}",
            path.display(),
            candidates
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Some(format!(
            "build the step package and put it there as steps.wasm (for Rust: cargo build \
             --target wasm32-wasip2 --release, then copy the .wasm), write a plan.yaml, or \
             pass the package's path instead of {}",
            path.display()
        )),
    ))
}

/// Refuses a file that exists, is not named `.wasm` and is not WebAssembly (`run lib.rs`)
/// before anything reads config.yaml beside it: the mistake is the path, and saying so beats
/// a complaint about a file the user never named. A missing file is left to the loader,
/// whose message carries the build command.
fn refuse_what_is_not_a_component(path: &Path) -> Result<(), UserError> {
    use std::io::Read;
    // A .wasm is the loader's to judge (it says what kind of wasm it is not).
    if path
        .extension()
        .is_some_and(|x| x.eq_ignore_ascii_case("wasm"))
    {
        return Ok(());
    }
    let Ok(mut file) = crate::bounded_read::open_regular(path) else {
        return Ok(());
    };
    let mut magic = [0u8; 4];
    if file.read_exact(&mut magic).is_ok() && &magic == b"\0asm" {
        return Ok(());
    }
    Err(UserError::usage(
        format!(
            "{} is not a step package (a WebAssembly component), a plan (.yaml) or a test folder",
            crate::report::sanitize::sanitize_line(&path.display().to_string())
        ),
        Some(
            "pass the built .wasm (for Rust: target/wasm32-wasip2/release/NAME.wasm), a \
             plan.yaml, or the test folder that holds them"
                .into(),
        ),
    ))
}

impl Source {
    /// Reads `path`: a plan when it ends in `.yaml`/`.yml`, a test folder's plan.yaml or
    /// steps.wasm ([`in_folder`]), else a step package.
    pub fn read(path: &Path) -> Result<Self, UserError> {
        let path = &in_folder(path)?;
        if is_plan_path(path) {
            load_plan(path).map(Source::Plan).map_err(UserError::from)
        } else {
            refuse_what_is_not_a_component(path)?;
            Ok(Source::Package(path.to_path_buf()))
        }
    }

    /// The plan file or package the user named.
    pub fn path(&self) -> &Path {
        match self {
            Source::Package(p) => p,
            Source::Plan(plan) => &plan.path,
        }
    }

    /// The config file to use when `--config` is not given: the plan's `config:`, else
    /// config.yaml beside the plan or package.
    pub fn default_config(&self) -> PathBuf {
        if let Source::Plan(PlanFile {
            config: Some(config),
            ..
        }) = self
        {
            return config.clone();
        }
        let dir = self
            .path()
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        dir.join("config.yaml")
    }
}

/// The compiled-code cache the flags and environment ask for, if any.
pub fn code_cache(dir: Option<PathBuf>, no_cache: bool, max_mib: Option<u64>) -> Option<CodeCache> {
    if no_cache {
        return None;
    }
    let max = max_mib
        .map(|mib| mib.saturating_mul(crate::plugin::cache::MIB))
        .or_else(CodeCache::max_bytes_from_env);
    let cache = CodeCache::new(dir.or_else(CodeCache::default_dir)?);
    Some(match max {
        Some(max) => cache.with_max_bytes(max),
        None => cache,
    })
}

/// The cache directory: `dir`, else the user's cache directory, else a folder in the
/// system's temporary directory (no HOME: a CI container).
pub fn cache_root(dir: Option<PathBuf>) -> PathBuf {
    dir.or_else(CodeCache::default_dir)
        .unwrap_or_else(|| std::env::temp_dir().join("prometheus-wasm"))
}

/// A resolver with its package store under the cache directory `cache_dir`
/// ([`cache_root`]); `offline` uses only packages already in the store.
pub fn resolver(
    cache_dir: Option<PathBuf>,
    offline: bool,
    options: RegistryOptions,
) -> Result<Resolver, UserError> {
    // A plan may name any registry: a password typed for one must not go to them all.
    if options.credentials.explicit_unscoped() {
        return Err(UserError::usage(
            "--username applies to one registry, and none is named",
            Some(format!(
                "set {REGISTRY_ENV}=HOST[:PORT] to the registry the credentials are for"
            )),
        ));
    }
    Ok(Resolver::new(
        PackageStore::in_cache(&cache_root(cache_dir)),
        offline,
        options,
    ))
}

/// Loads the package or every package of the plan (fetched through `resolver`, pins
/// checked before compiling) and resolves the plan's steps. `note` receives one progress
/// line per package.
pub async fn load(
    source: &Source,
    cache: Option<&CodeCache>,
    budgets: &Budgets,
    resolver: &Resolver,
    note: &dyn Fn(&str),
) -> Result<Plan, UserError> {
    // Fuel metering is an engine (compile) setting, so the engine follows the budgets.
    let engine = Arc::new(StepEngine::for_budgets(budgets).map_err(|e| UserError::usage(e, None))?);
    // The lock remembers the `name@version` of pinned bytes this machine may never have
    // fetched: a moved tag is then shown with both versions.
    let locked = match source {
        Source::Plan(file) => LockFile::read(&LockFile::path_for(&file.path))
            .ok()
            .flatten(),
        Source::Package(_) => None,
    };
    let locked = &locked;
    let load_one = |name: String, source: PackageSource, pin: Option<String>, label: String| {
        let engine = engine.clone();
        async move {
            let started = std::time::Instant::now();
            let fetched = resolver
                .resolve(&name, &source, pin.as_deref())
                .await
                .map_err(|mut e| {
                    if let FetchErrorKind::PinMismatch {
                        expected,
                        expected_identity: identity @ None,
                        ..
                    } = &mut *e.kind
                    {
                        *identity = locked
                            .as_ref()
                            .and_then(|l| l.packages.get(&name))
                            .filter(|p| &p.sha256 == expected)
                            .and_then(|p| p.identity.clone());
                    }
                    UserError::from(e)
                })?;
            let shown = match &source {
                PackageSource::Path(p) => p.clone(),
                remote => PathBuf::from(remote.to_string()),
            };
            let origin = fetched.origin;
            let file_name = shown.file_name().map_or_else(
                || shown.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            );
            let package = super::progress::with_notice(
                super::progress::compile_notice(&file_name, cache.is_some()),
                Package::from_bytes(
                    engine,
                    &shown,
                    fetched.bytes.into(),
                    fetched.sha256,
                    cache,
                    budgets,
                    started,
                ),
            )
            .await
            .map_err(UserError::from)?;
            let identity = package
                .identity()
                .label()
                .map(|l| format!("{l} from "))
                .unwrap_or_default();
            note(&format!(
                "{label}{identity}{}{} ({} steps, {} in {})",
                package.path().display(),
                match origin {
                    Origin::File => "",
                    Origin::Store => ", from the package store",
                    Origin::Network => ", fetched",
                },
                package.manifest().len(),
                match package.code_source() {
                    CodeSource::Compiled => "compiled",
                    CodeSource::Cached => "loaded from cache",
                },
                crate::report::terminal::fmt_duration(package.load_time())
            ));
            Ok::<_, UserError>(package)
        }
    };
    match source {
        Source::Package(path) => Ok(Plan::single(
            load_one(
                path.display().to_string(),
                PackageSource::Path(path.clone()),
                None,
                "steps: ".into(),
            )
            .await?,
        )),
        Source::Plan(file) => {
            let mut packages = Vec::with_capacity(file.packages.len());
            for p in &file.packages {
                // The folder's own package is unpinned on purpose (it is rebuilt all day):
                // the note is for packages that come from elsewhere.
                if p.sha256.is_none() && !is_own_package(file, p) {
                    note(&format!(
                        "package `{}` is not pinned: any file at {} is accepted (add its sha256 to the plan to pin it)",
                        p.name, p.source
                    ));
                }
                let label = format!("package `{}`: ", p.name);
                packages.push(
                    load_one(p.name.clone(), p.source.clone(), p.sha256.clone(), label).await?,
                );
            }
            Plan::resolve(file, packages).map_err(UserError::from)
        }
    }
}

/// What [`check_lock`] decided, to be written (by `run` and `lock`) only once every other
/// check has passed, or described (by `check`).
#[derive(Debug)]
pub struct PendingLock {
    path: PathBuf,
    current: LockFile,
    change: LockChange,
}

/// How the plan's packages compare with its lock.
#[derive(Debug)]
enum LockChange {
    /// The lock grants exactly what the packages import.
    Unchanged,
    /// There is no lock yet.
    New,
    /// Changes within the grants, or new capabilities approved by `--update-lock`: each
    /// line says what.
    Changed(Vec<String>),
}

impl PendingLock {
    /// Writes the lock if anything changed, telling `note` what.
    pub fn write(self, note: &dyn Fn(&str)) -> Result<(), UserError> {
        let lock_error = <UserError as From<crate::plugin::LockError>>::from;
        match &self.change {
            LockChange::Unchanged => return Ok(()),
            LockChange::New => {
                self.current.write(&self.path).map_err(lock_error)?;
                note(&format!(
                    "wrote {}: the capabilities of {} package(s); commit it with the plan",
                    self.path.display(),
                    self.current.packages.len()
                ));
            }
            LockChange::Changed(lines) => {
                self.current.write(&self.path).map_err(lock_error)?;
                for line in lines {
                    note(line);
                }
            }
        }
        Ok(())
    }

    /// What `run` would do with the lock, for `check` (which writes nothing).
    pub fn describe(&self) -> Vec<String> {
        let path = self.path.display();
        match &self.change {
            LockChange::Unchanged => vec![format!("{path}: the packages import what it grants")],
            LockChange::New => vec![format!(
                "{path}: none yet; `run` writes it with the capabilities of {} package(s)",
                self.current.packages.len()
            )],
            LockChange::Changed(lines) => std::iter::once(format!("{path}: `run` will record:"))
                .chain(lines.iter().map(|l| format!("  {l}")))
                .collect(),
        }
    }
}

/// Whether a plan package is the test folder's own: a path package, unpinned, whose file
/// lies inside the folder that holds the plan. Only such a package is rebuilt during
/// development, so only its capabilities may follow it into the lock outside CI; a pinned,
/// fetched (url:/oci:) or outside package is someone else's and is never approved silently.
pub fn is_own_package(file: &PlanFile, package: &PlanPackage) -> bool {
    let PackageSource::Path(path) = &package.source else {
        return false;
    };
    if package.sha256.is_some() {
        return false;
    }
    let folder = file
        .path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    // Symlinks and `..` resolved where the files exist, so `../tests/x.wasm` or a link out
    // of the folder is judged by where the bytes are.
    let real = |p: &Path| p.canonicalize().unwrap_or_else(|_| lexical(p));
    real(path).starts_with(real(folder))
}

/// `path` made absolute and without `.`/`..`, for a file that does not exist (yet).
fn lexical(path: &Path) -> PathBuf {
    use std::path::Component;
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut out = PathBuf::new();
    for part in absolute.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// How the lock meets a package asking for more than it grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockPolicy {
    /// `--update-lock`: every new capability is approved and recorded.
    Update,
    /// Local development: the folder's own package (`is_own_package`) may grow, and the
    /// lock follows it with one line per capability; any other package is refused.
    FollowOwn,
    /// `--locked` or `CI=true`: nothing grows without `--update-lock`.
    Locked,
}

impl LockPolicy {
    /// The policy of `--update-lock`, `--locked` and the `CI` variable (set to anything but
    /// empty, `false` or `0`, as CI services set it).
    pub fn from_flags(update_lock: bool, locked: bool) -> Self {
        let ci = std::env::var("CI")
            .is_ok_and(|v| !v.is_empty() && v != "0" && !v.eq_ignore_ascii_case("false"));
        if update_lock {
            LockPolicy::Update
        } else if locked || ci {
            LockPolicy::Locked
        } else {
            LockPolicy::FollowOwn
        }
    }
}

/// Checks the plan's packages against its lock file: refuses packages that import more
/// than the lock grants (unless the `policy` approves them), and says what a run writes —
/// the lock when there is none, changes within the grants, approved new capabilities.
/// Writes nothing: the caller writes the [`PendingLock`] once every other check has passed.
pub fn check_lock(
    file: &PlanFile,
    plan: &Plan,
    policy: LockPolicy,
) -> Result<PendingLock, UserError> {
    let path = LockFile::path_for(&file.path);
    let lock_error = <UserError as From<crate::plugin::LockError>>::from;
    let current = LockFile::of(plan);
    let Some(locked) = LockFile::read(&path).map_err(lock_error)? else {
        return Ok(PendingLock {
            path,
            current,
            change: LockChange::New,
        });
    };
    let mut diff = compare(&locked, &current);
    // Outside CI the folder's own package takes its new capabilities into the lock, said
    // one line each; the rest of `grown` is what the lock refuses.
    let own = |name: &str| {
        file.packages
            .iter()
            .any(|p| p.name == name && is_own_package(file, p))
    };
    let mut followed = Vec::new();
    if policy == LockPolicy::FollowOwn {
        let (own_grown, others): (Vec<_>, Vec<_>) =
            diff.grown.drain(..).partition(|g| own(&g.package));
        diff.grown = others;
        for grown in own_grown {
            followed.extend(followed_lines(&path, &locked, &current, &grown));
        }
    }
    if diff.is_violation() && policy != LockPolicy::Update {
        let own_locked = policy == LockPolicy::Locked && diff.grown.iter().any(|g| own(&g.package));
        let why = if own_locked {
            " (the folder's own package follows the lock only outside CI and without --locked)"
        } else {
            ""
        };
        return Err(UserError::usage(
            format!(
                "{}: a package asks for capabilities the lock does not grant:\n{}",
                path.display(),
                diff.render_grown().trim_end()
            ),
            Some(format!(
                "review the new capabilities; if they are expected, run again with --update-lock \
                 (or `prometheus-wasm lock {}`) and commit {}{why}",
                file.path.display(),
                path.display()
            )),
        ));
    }
    if diff.is_unchanged() && followed.is_empty() {
        return Ok(PendingLock {
            path,
            current,
            change: LockChange::Unchanged,
        });
    }
    let mut lines = followed;
    if diff.is_violation() {
        lines.push(format!(
            "{}: approved new capabilities:\n{}",
            path.display(),
            diff.render_grown().trim_end()
        ));
    }
    for line in diff.render_changes() {
        lines.push(format!("{}: {line}", path.display()));
    }
    Ok(PendingLock {
        path,
        current,
        change: LockChange::Changed(lines),
    })
}

/// One line per capability the folder's own package gained or dropped (and its WIT
/// target, if that moved), for a lock that follows it.
fn followed_lines(
    path: &Path,
    locked: &LockFile,
    current: &LockFile,
    grown: &crate::plugin::lock::Grown,
) -> Vec<String> {
    let name = &grown.package;
    let path = path.display();
    let mut lines = Vec::new();
    if let Some((old, new)) = &grown.wit {
        lines.push(format!(
            "{path}: package `{name}` (this folder's own) now targets {new} instead of {old}"
        ));
    }
    for import in &grown.added {
        lines.push(format!(
            "{path}: package `{name}` (this folder's own) now imports {import} ({}); recorded",
            describe(import)
        ));
    }
    let now = current
        .packages
        .get(name)
        .map(|p| &p.imports[..])
        .unwrap_or(&[]);
    if let Some(then) = locked.packages.get(name) {
        for import in then.imports.iter().filter(|i| !now.contains(i)) {
            lines.push(format!(
                "{path}: package `{name}` (this folder's own) no longer imports {import}; recorded"
            ));
        }
    }
    lines
}

/// Every step must name a worker of workers.json: checked before any worker starts. Plan
/// steps are reported at the plan's line:column.
pub fn check_workers(plan: &Plan, config: &TestConfig) -> Result<(), UserError> {
    for (index, step) in plan.manifest().iter().enumerate() {
        if config.worker(&step.worker).is_some() {
            continue;
        }
        let known: Vec<&str> = config.workers.iter().map(|w| w.name.as_str()).collect();
        let hint = Some(format!("the workers are: {}", known.join(", ")));
        let workers = config.workers_config.display();
        if let Some(origin) = plan.origin(index) {
            let e = PlanError::new(
                &origin.plan,
                origin.worker_at,
                format!(
                    "step `{}` runs on worker `{}`, which {workers} does not define",
                    step.name, step.worker
                ),
            );
            return Err(UserError::usage(e, hint));
        }
        let package = plan.target(index).map(|(p, _)| p.display().to_string());
        return Err(UserError::usage(
            format!(
                "step `{}` of {} runs on worker `{}`, which {workers} does not define",
                step.name,
                package.unwrap_or_default(),
                step.worker,
            ),
            hint,
        ));
    }
    Ok(())
}
