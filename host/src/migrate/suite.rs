//! Reads a prometheus-test `tests/` folder: steps.py, the project modules it imports
//! (followed transitively), where the steps list comes from, the post-load callback of
//! e2e.py, and every place that cannot be carried over into the sandbox (imports, calls,
//! and uses of `runner.state` that need the list of a scope's keys).

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use crate::bounded_read::{self, MIB};

use super::MigrateError;
use super::imports::{Import, imports};
use super::lexer::{LogicalLine, logical_lines};
use super::rules::{self, Module, UNKNOWN_MODULE};
use super::state_uses::state_uses;

/// The steps module every prometheus-test folder has.
pub const STEPS_FILE: &str = "steps.py";
/// The runner script whose `post_load_callback` the package's post-load export calls.
pub const E2E_FILE: &str = "e2e.py";

/// A place that could not be carried over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The file, relative to the project (the folder above tests/).
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// What is there.
    pub what: String,
    /// Why it cannot run in the sandbox and what to do.
    pub why: String,
}

/// Where the steps list comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepsSource {
    /// A module-level `steps = ...`.
    Variable,
    /// A function of steps.py, called without arguments.
    Function(String),
}

/// A post-load callback and the module that defines it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostLoad {
    /// Dotted module (relative to the project).
    pub module: String,
    /// The function's name.
    pub name: String,
}

/// Everything `write` needs.
#[derive(Debug, Clone)]
pub struct Suite {
    /// The tests folder.
    pub tests_dir: PathBuf,
    /// The folder above it: module paths are relative to it.
    pub project_dir: PathBuf,
    /// The project modules to copy (relative to the project), steps.py first.
    pub modules: Vec<PathBuf>,
    /// Dotted name of steps.py (`tests.steps`).
    pub steps_module: String,
    /// Where the steps list comes from.
    pub steps_source: StepsSource,
    /// The post-load callback, when e2e.py names one that can be carried over.
    pub post_load: Option<PostLoad>,
    /// Modules that are not in the sandbox (top-level name -> why): the package imports
    /// them as stubs that fail with this text when used.
    pub stubs: BTreeMap<String, String>,
    /// Every place that could not be carried over, in file and line order.
    pub findings: Vec<Finding>,
}

/// The most one suite file (steps.py, a module, e2e.py) may hold: real ones are a few
/// hundred KiB at most; the lexer holds about 5 bytes per source byte, so one file costs at
/// most ~40 MiB of memory while it is analysed.
pub const FILE_LIMIT: u64 = 8 * MIB;
/// The most bytes all suite files together may hold, so a suite of many files just under
/// [`FILE_LIMIT`] is refused too instead of being read for minutes.
pub const TOTAL_LIMIT: u64 = 256 * MIB;
/// The most project modules one suite may import: real suites have tens; 100 000 leaves
/// room for generated code while keeping the analysis and the copy bounded.
pub const MODULE_LIMIT: usize = 100_000;

/// Caps of one analysis ([`analyse`] uses [`Limits::DEFAULT`]; tests pass small ones).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// See [`FILE_LIMIT`].
    pub file_bytes: u64,
    /// See [`TOTAL_LIMIT`].
    pub total_bytes: u64,
    /// See [`MODULE_LIMIT`].
    pub modules: usize,
}

impl Limits {
    /// The caps `migrate` runs with.
    pub const DEFAULT: Limits = Limits {
        file_bytes: FILE_LIMIT,
        total_bytes: TOTAL_LIMIT,
        modules: MODULE_LIMIT,
    };
}

/// The bytes of `rel` (relative to `project_dir`, which is canonical), refused when it
/// resolves outside the project (a symbolic link, or a folder on the way that is one) and
/// read through [`bounded_read`] (a regular file, at most `limit` bytes): `migrate` copies
/// what it reads into the package, so a link out of the project would carry any file of the
/// user's into it without a word.
pub(super) fn read_module(
    project_dir: &Path,
    rel: &Path,
    limit: u64,
) -> Result<Vec<u8>, MigrateError> {
    let link = project_dir.join(rel);
    if rel
        .components()
        .any(|c| !matches!(c, std::path::Component::Normal(_)))
    {
        return Err(MigrateError::OutsideProject {
            link: link.clone(),
            target: link,
            project: project_dir.to_path_buf(),
        });
    }
    let target = link
        .canonicalize()
        .map_err(|e| MigrateError::io("read", &link, e))?;
    if !target.starts_with(project_dir) {
        return Err(MigrateError::OutsideProject {
            link,
            target,
            project: project_dir.to_path_buf(),
        });
    }
    // The canonical path has no links left, so what is read is what was checked.
    bounded_read::read_bytes(&target, limit, "suite file").map_err(MigrateError::Read)
}

/// [`read_module`] as UTF-8 text.
fn read_text(project_dir: &Path, rel: &Path, limit: u64) -> Result<String, MigrateError> {
    let bytes = read_module(project_dir, rel, limit)?;
    String::from_utf8(bytes).map_err(|e| {
        MigrateError::Read(bounded_read::ReadError::NotUtf8 {
            path: project_dir.join(rel),
            valid_up_to: e.utf8_error().valid_up_to(),
        })
    })
}

/// Analyses the prometheus-test folder `tests_dir`.
pub fn analyse(tests_dir: &Path) -> Result<Suite, MigrateError> {
    analyse_with(tests_dir, Limits::DEFAULT)
}

/// [`analyse`] with the caps `limits`.
pub fn analyse_with(tests_dir: &Path, limits: Limits) -> Result<Suite, MigrateError> {
    let tests_dir = tests_dir
        .canonicalize()
        .map_err(|e| MigrateError::io("read", tests_dir, e))?;
    let steps_path = tests_dir.join(STEPS_FILE);
    if !steps_path.is_file() {
        return Err(MigrateError::NoSteps { dir: tests_dir });
    }
    tests_folder_name(&tests_dir)?;
    let project_dir = tests_dir.parent().unwrap_or(&tests_dir).to_path_buf();
    let mut walk = Walk {
        project_dir: project_dir.clone(),
        tests_dir: tests_dir.clone(),
        limits,
        read_bytes: 0,
        modules: Vec::new(),
        visited: HashSet::new(),
        stubs: BTreeMap::new(),
        findings: Vec::new(),
    };
    let steps_rel = rel(&project_dir, &steps_path);
    walk.visit(&steps_rel)?;
    let steps_lines = logical_lines(&walk.read(&steps_rel)?);
    let steps_source = steps_source(&steps_lines).ok_or_else(|| MigrateError::NoStepsList {
        file: steps_path.clone(),
    })?;
    let post_load = walk.post_load()?;
    let mut findings = walk.findings;
    findings.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
    findings.dedup();
    Ok(Suite {
        steps_module: dotted(&steps_rel),
        tests_dir,
        project_dir,
        modules: walk.modules,
        steps_source,
        post_load,
        stubs: walk.stubs,
        findings,
    })
}

/// The tests folder's name, which becomes the first part of every module name
/// (`tests.steps`) and a path in build.sh: refused when Python cannot import it by that
/// name (not UTF-8, or a `.`, which Python reads as a package separator). Any other name
/// is kept: the entry module imports it with `importlib` and build.sh quotes it.
pub(super) fn tests_folder_name(tests_dir: &Path) -> Result<&str, MigrateError> {
    let name = tests_dir.file_name().unwrap_or_default();
    let why = match name.to_str() {
        None => "is not UTF-8, so no Python module name can spell it",
        Some(n) if n.contains('.') => {
            "has a `.`, which Python reads as a package separator, so `<folder>.steps` cannot be imported"
        }
        Some(n) => return Ok(n),
    };
    Err(MigrateError::UnusableFolderName {
        dir: tests_dir.to_path_buf(),
        why,
    })
}

fn rel(base: &Path, path: &Path) -> PathBuf {
    path.strip_prefix(base).unwrap_or(path).to_path_buf()
}

/// `tests/stages/a.py` -> `tests.stages.a`; a package's `__init__.py` is the package.
pub(super) fn dotted(path: &Path) -> String {
    let mut parts: Vec<String> = path
        .with_extension("")
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "__init__") {
        parts.pop();
    }
    parts.join(".")
}

/// A module-level `steps = ...` wins; else the first top-level function that builds
/// `TestStep`s and returns something.
pub(super) fn steps_source(lines: &[LogicalLine]) -> Option<StepsSource> {
    let top = |l: &&LogicalLine| l.indent == 0;
    let assigned = lines.iter().filter(top).any(|l| {
        let t = l.text.trim_start();
        t.strip_prefix("steps")
            .map(str::trim_start)
            .is_some_and(|rest| {
                (rest.starts_with('=') && !rest.starts_with("==")) || rest.starts_with(':')
            })
    });
    if assigned {
        return Some(StepsSource::Variable);
    }
    let mut current: Option<(String, bool, bool)> = None;
    for l in lines {
        if l.indent == 0 {
            if let Some((name, builds, returns)) = current.take()
                && builds
                && returns
            {
                return Some(StepsSource::Function(name));
            }
            if let Some(rest) = l.text.strip_prefix("def ") {
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                // The name is spelt in the generated entry module: only an identifier.
                current = is_identifier(&name).then(|| (name, l.text.contains("TestStep("), false));
            }
        } else if let Some((_, builds, returns)) = current.as_mut() {
            *builds |= l.text.contains("TestStep(");
            *returns |= l.text.starts_with("return ");
        }
    }
    current.and_then(|(name, builds, returns)| {
        (builds && returns).then_some(StepsSource::Function(name))
    })
}

struct Walk {
    project_dir: PathBuf,
    tests_dir: PathBuf,
    limits: Limits,
    /// Bytes of suite files read so far, against [`Limits::total_bytes`].
    read_bytes: u64,
    modules: Vec<PathBuf>,
    /// The same paths as `modules`, to ask "seen?" in constant time.
    visited: HashSet<PathBuf>,
    stubs: BTreeMap<String, String>,
    findings: Vec<Finding>,
}

/// One pending piece of the import walk. The walk keeps them on an explicit stack instead
/// of recursing, so a chain of 30 000 modules importing each other cannot overflow the
/// thread's stack; the order is that of the recursive walk (a module, then the
/// `__init__.py`s of its packages, then its imports, depth first).
enum Task {
    /// Take a module in, unless it already is.
    Visit(PathBuf),
    /// Read a module taken in: note its calls, queue its imports.
    Scan(PathBuf),
    /// Resolve one import of a module.
    Follow(PathBuf, Import),
}

impl Walk {
    /// `file` (relative to the project) as text, counted against the caps.
    fn read(&mut self, file: &Path) -> Result<String, MigrateError> {
        let text = read_text(&self.project_dir, file, self.limits.file_bytes)?;
        self.read_bytes += text.len() as u64;
        if self.read_bytes > self.limits.total_bytes {
            return Err(MigrateError::SuiteTooLarge {
                dir: self.tests_dir.clone(),
                limit: self.limits.total_bytes,
            });
        }
        Ok(text)
    }

    /// Takes in `file` (relative to the project) and everything it imports of the
    /// project: notes what cannot run, follows its project imports.
    fn visit(&mut self, file: &Path) -> Result<(), MigrateError> {
        let mut stack = vec![Task::Visit(file.to_path_buf())];
        while let Some(task) = stack.pop() {
            match task {
                Task::Visit(file) => {
                    if self.visited.contains(&file) {
                        continue;
                    }
                    if self.modules.len() >= self.limits.modules {
                        return Err(MigrateError::TooManyModules {
                            file: self.project_dir.join(&file),
                            limit: self.limits.modules,
                        });
                    }
                    self.visited.insert(file.clone());
                    self.modules.push(file.clone());
                    stack.push(Task::Scan(file.clone()));
                    // Importing a module runs the `__init__.py` of every package on the
                    // way, innermost first: pushed outermost first.
                    let mut inits = Vec::new();
                    let mut parent = file.parent();
                    while let Some(dir) = parent.filter(|d| !d.as_os_str().is_empty()) {
                        let init = dir.join("__init__.py");
                        if init != file && self.project_dir.join(&init).is_file() {
                            inits.push(init);
                        }
                        parent = dir.parent();
                    }
                    stack.extend(inits.into_iter().rev().map(Task::Visit));
                }
                Task::Scan(file) => {
                    let source = self.read(&file)?;
                    let lines = logical_lines(&source);
                    for u in state_uses(&source, &lines) {
                        self.note(&file, u.line, u.what, u.why.to_owned());
                    }
                    for l in &lines {
                        for (offset, pattern, why) in rules::calls(&l.text) {
                            self.note(
                                &file,
                                l.line_at(offset),
                                format!("`{}`", pattern.trim_end_matches('(')),
                                why.to_owned(),
                            );
                        }
                    }
                    let imports = imports(&lines);
                    stack.extend(
                        imports
                            .into_iter()
                            .rev()
                            .map(|i| Task::Follow(file.clone(), i)),
                    );
                }
                Task::Follow(file, import) => {
                    let targets = self.follow(&file, &import);
                    stack.extend(targets.into_iter().rev().map(Task::Visit));
                }
            }
        }
        Ok(())
    }

    fn note(&mut self, file: &Path, line: usize, what: String, why: String) {
        self.findings.push(Finding {
            file: file.to_path_buf(),
            line,
            what,
            why,
        });
    }

    /// The project files `import` (of `file`) names, to visit; when it names none, notes
    /// what cannot run and returns nothing.
    fn follow(&mut self, file: &Path, import: &Import) -> Vec<PathBuf> {
        let targets = self.resolve(file, import);
        if !targets.is_empty() {
            return targets;
        }
        if import.level > 0 {
            let what = format!(
                "`from {}{} import ...`",
                ".".repeat(import.level),
                import.module
            );
            self.note(
                file,
                import.line,
                what,
                "the relative import names no module of the project".into(),
            );
            return Vec::new();
        }
        let top = import
            .module
            .split('.')
            .next()
            .unwrap_or_default()
            .to_owned();
        let why = match rules::classify(&import.module) {
            Module::Covered | Module::Stdlib => return Vec::new(),
            Module::Blocked(why) => why.to_owned(),
            Module::Unknown => UNKNOWN_MODULE.to_owned(),
        };
        self.stubs.entry(top).or_insert_with(|| why.clone());
        self.note(
            file,
            import.line,
            format!("import of `{}`", import.module),
            why,
        );
        Vec::new()
    }

    /// The project files an import names: the module and, for `from M import n`, the
    /// submodules `M.n` that exist; empty when the module is not the project's.
    fn resolve(&self, file: &Path, import: &Import) -> Vec<PathBuf> {
        let mut bases: Vec<Vec<String>> = Vec::new();
        let module: Vec<String> = import
            .module
            .split('.')
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .collect();
        if import.level > 0 {
            let mut package: Vec<String> = file
                .parent()
                .map(|p| {
                    p.components()
                        .map(|c| c.as_os_str().to_string_lossy().into_owned())
                        .collect()
                })
                .unwrap_or_default();
            for _ in 1..import.level {
                package.pop();
            }
            bases.push(package.into_iter().chain(module).collect());
        } else {
            // `tests.stages.x` from the project, or `stages.x` as run from inside tests/.
            bases.push(module.clone());
            let tests = rel(&self.project_dir, &self.tests_dir);
            let tests: Vec<String> = tests
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            bases.push(tests.into_iter().chain(module).collect());
        }
        for base in bases {
            let mut files: Vec<PathBuf> = self.module_file(&base).into_iter().collect();
            // Only identifiers name submodules: `*`, or anything the loose import reader
            // took for a name, must never become a path (`..`).
            for name in import.names.iter().filter(|n| is_identifier(n)) {
                let sub: Vec<String> = base.iter().cloned().chain([name.clone()]).collect();
                files.extend(self.module_file(&sub));
            }
            if !files.is_empty() {
                return files;
            }
        }
        Vec::new()
    }

    /// `a/b.py` or `a/b/__init__.py` under the project (a folder without `__init__.py`
    /// counts as a namespace package: its `__init__.py` is generated).
    fn module_file(&self, parts: &[String]) -> Option<PathBuf> {
        if parts.is_empty() {
            return None;
        }
        let path: PathBuf = parts.iter().collect();
        let file = path.with_extension("py");
        if self.project_dir.join(&file).is_file() {
            return Some(file);
        }
        let init = path.join("__init__.py");
        if self.project_dir.join(&init).is_file() {
            return Some(init);
        }
        None
    }

    /// e2e.py's `post_load_callback`: carried over when it is defined in a module other
    /// than e2e.py (which runs the Python runner and is not copied).
    fn post_load(&mut self) -> Result<Option<PostLoad>, MigrateError> {
        let e2e = self.tests_dir.join(E2E_FILE);
        if !e2e.is_file() {
            return Ok(None);
        }
        let e2e_rel = rel(&self.project_dir, &e2e);
        let source = self.read(&e2e_rel)?;
        let lines = logical_lines(&source);
        let Some(at) = source
            .find("post_load_callback\"")
            .or_else(|| source.find("post_load_callback'"))
        else {
            return Ok(None);
        };
        let line = source[..at].matches('\n').count() + 1;
        let after = &source[at..];
        let name: String = after
            .split_once(':')
            .map(|(_, v)| {
                v.trim_start()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect()
            })
            .unwrap_or_default();
        if !is_identifier(&name) {
            return Ok(None);
        }
        for import in imports(&lines) {
            if import.names.iter().any(|n| n == &name)
                && let Some(target) = self.resolve(&e2e_rel, &import).into_iter().next()
            {
                self.visit(&target)?;
                return Ok(Some(PostLoad {
                    module: dotted(&target),
                    name,
                }));
            }
        }
        self.note(
            &e2e_rel,
            line,
            format!("post_load_callback `{name}`"),
            format!("e2e.py runs the Python runner and is not carried over: move `{name}` into a module that e2e.py imports (e.g. tests/post_load.py) and run migrate again"),
        );
        Ok(None)
    }
}

/// Whether `text` is a Python identifier that is not a keyword: what may be spelt in a
/// generated `from M import name` and joined to a path as a module name.
pub(super) fn is_identifier(text: &str) -> bool {
    const KEYWORDS: &[&str] = &[
        "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class",
        "continue", "def", "del", "elif", "else", "except", "finally", "for", "from", "global",
        "if", "import", "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return",
        "try", "while", "with", "yield",
    ];
    let mut chars = text.chars();
    chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || c == '_')
        && !KEYWORDS.contains(&text)
}
