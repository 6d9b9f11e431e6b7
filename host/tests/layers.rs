//! The one-way flow of `host/src`, checked on the sources: a module must not import the
//! modules its doc comment says it never imports.
//!
//! Rust has no way to forbid one module of a crate from naming a sibling, so this test
//! parses every file of the guarded modules with `syn` and looks at every path in them —
//! `use` trees (grouped ones too), paths in code and types, and identifiers inside macro
//! calls — for a path that reaches a forbidden module (`crate::plugin::…`,
//! `super::super::plugin`, `prometheus_wasm::plugin`). Comments and strings are not code and
//! are not looked at.

use std::path::{Path, PathBuf};

use proc_macro2::{TokenStream, TokenTree};
use syn::visit::Visit;

/// `(module, modules it must not import, why)`.
const RULES: &[(&str, &[&str], &str)] = &[
    (
        "report",
        &["plugin", "workers", "store", "cli"],
        "reports are fed by runner events only (RunEvent, RunSummary and the values of \
         crate::model); move the type the report needs to crate::model",
    ),
    (
        "model",
        &["plugin", "runner", "report", "store", "cli"],
        "crate::model sits below plugin, runner and report: it holds plain values they share",
    ),
    (
        "runner",
        &["report", "cli"],
        "the runner reports through RunObserver; it never names a reporter",
    ),
    (
        "session",
        &["cli"],
        "the session is the library's run: the CLI and embedders call it, it never reaches \
         back into argument parsing or exit codes",
    ),
    (
        "replay",
        &["cli", "session"],
        "replay is the library's re-run of one recorded step: no run, no grant but the \
         recording, and the CLI only prints it",
    ),
];

/// Every `.rs` file under `dir`, sorted.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// Collects the paths of one file that reach a forbidden module.
struct Imports<'a> {
    /// The module's own depth below `crate` (1 for `report/mod.rs`, 2 for
    /// `report/collect.rs`'s children…), to resolve `super::`.
    depth: usize,
    forbidden: &'a [&'a str],
    found: Vec<String>,
}

impl Imports<'_> {
    /// Checks one path given as its segments.
    fn check(&mut self, segments: &[String]) {
        let Some(target) = self.crate_module(segments) else {
            return;
        };
        if self.forbidden.contains(&target.as_str()) {
            self.found.push(segments.join("::"));
        }
    }

    /// The top-level module of the crate a path names, when it names one through
    /// `crate::`, `prometheus_wasm::` or enough `super::`s to reach the crate root.
    fn crate_module(&self, segments: &[String]) -> Option<String> {
        match segments.first().map(String::as_str) {
            Some("crate" | "prometheus_wasm") => segments.get(1).cloned(),
            Some("super") => {
                let supers = segments.iter().take_while(|s| *s == "super").count();
                (supers >= self.depth)
                    .then(|| segments.get(supers).cloned())
                    .flatten()
            }
            _ => None,
        }
    }

    fn use_tree(&mut self, prefix: &mut Vec<String>, tree: &syn::UseTree) {
        match tree {
            syn::UseTree::Path(p) => {
                prefix.push(p.ident.to_string());
                self.check(prefix);
                self.use_tree(prefix, &p.tree);
                prefix.pop();
            }
            syn::UseTree::Name(n) => {
                prefix.push(n.ident.to_string());
                self.check(prefix);
                prefix.pop();
            }
            syn::UseTree::Rename(r) => {
                prefix.push(r.ident.to_string());
                self.check(prefix);
                prefix.pop();
            }
            syn::UseTree::Glob(_) => self.check(prefix),
            syn::UseTree::Group(g) => {
                for tree in &g.items {
                    self.use_tree(prefix, tree);
                }
            }
        }
    }

    /// Paths written inside macro calls (`format!`, `matches!`, `assert!`) are tokens, not
    /// parsed paths: any `a::b::c` run of identifiers counts.
    fn tokens(&mut self, tokens: TokenStream) {
        let mut run: Vec<String> = Vec::new();
        let mut colons = 0;
        for token in tokens {
            match token {
                TokenTree::Ident(ident) => {
                    if colons != 2 && !run.is_empty() {
                        self.check(&run);
                        run.clear();
                    }
                    run.push(ident.to_string());
                    colons = 0;
                }
                TokenTree::Punct(p) if p.as_char() == ':' => colons += 1,
                TokenTree::Group(group) => {
                    self.check(&run);
                    run.clear();
                    self.tokens(group.stream());
                }
                TokenTree::Punct(_) | TokenTree::Literal(_) => {
                    self.check(&run);
                    run.clear();
                    colons = 0;
                }
            }
        }
        self.check(&run);
    }
}

impl<'ast> Visit<'ast> for Imports<'_> {
    fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
        self.use_tree(&mut Vec::new(), &item.tree);
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
        self.check(&segments);
        syn::visit::visit_path(self, path);
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        self.tokens(mac.tokens.clone());
        syn::visit::visit_macro(self, mac);
    }
}

/// `report/mod.rs` is at depth 1, `report/collect.rs` (module `report::collect`) at 2, a
/// file of a nested `mod` folder one more per folder. `#[path]` files count as children of
/// the file that declares them, which sits in the same folder: depth 2 as well.
fn depth(src: &Path, file: &Path) -> usize {
    let relative = file.strip_prefix(src).expect("file under src");
    let folders = relative.components().count() - 1;
    if file.file_name().is_some_and(|n| n == "mod.rs") {
        folders
    } else {
        folders + 1
    }
}

fn violations(module: &str, forbidden: &[&str]) -> Vec<String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let files = rust_files(&src.join(module));
    assert!(!files.is_empty(), "no sources found for module {module}");
    let mut found = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("source is UTF-8");
        let ast = syn::parse_file(&text)
            .unwrap_or_else(|e| panic!("{} does not parse: {e}", file.display()));
        let mut imports = Imports {
            depth: depth(&src, &file),
            forbidden,
            found: Vec::new(),
        };
        imports.visit_file(&ast);
        found.extend(
            imports
                .found
                .into_iter()
                .map(|path| format!("{}: {path}", file.strip_prefix(&src).unwrap().display())),
        );
    }
    found
}

#[test]
fn modules_import_only_what_the_flow_allows() {
    let mut failures = Vec::new();
    for (module, forbidden, why) in RULES {
        let found = violations(module, forbidden);
        if !found.is_empty() {
            failures.push(format!(
                "`{module}` must not import {forbidden:?}: {why}\n  {}",
                found.join("\n  ")
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The checker itself: each spelling of a forbidden import is caught, and what only looks
/// like one (comments, strings, a local `plugin` variable) is not.
#[test]
fn the_check_sees_every_spelling_of_an_import() {
    let caught = |source: &str, depth: usize| {
        let ast = syn::parse_file(source).expect("test source parses");
        let mut imports = Imports {
            depth,
            forbidden: &["plugin"],
            found: Vec::new(),
        };
        imports.visit_file(&ast);
        imports.found
    };
    for source in [
        "use crate::plugin::HostCall;",
        "use crate::{model::LogLevel, plugin::{Phase, StepFailure}};",
        "use crate::plugin;",
        "use crate::plugin::*;",
        "use prometheus_wasm::plugin::HostCall as Call;",
        "fn f() -> crate::plugin::Phase { todo!() }",
        "fn f() { let _ = crate::plugin::MAX_STEPS; }",
        "fn f() { assert!(matches!(x, crate::plugin::Phase::Prepare)); }",
        "use super::super::plugin::Steps;",
    ] {
        assert!(!caught(source, 2).is_empty(), "not caught: {source}");
    }
    for source in [
        "// use crate::plugin::HostCall;",
        "const S: &str = \"crate::plugin::HostCall\";",
        "fn f(plugin: u8) -> u8 { plugin }",
        "use super::plugin::Thing;",
        "use crate::model::HostCall;",
        "fn f() { println!(\"{}\", crate::model::CALL_TEXT_MAX_BYTES); }",
    ] {
        assert_eq!(
            caught(source, 2),
            Vec::<String>::new(),
            "wrongly caught: {source}"
        );
    }
}
