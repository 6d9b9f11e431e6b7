//! Import statements of a Python module: `import a.b as c, d` and
//! `from .x import (y, z as w)`, at any indentation.

use super::lexer::LogicalLine;

/// One imported module, as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Import {
    /// Physical line of the statement.
    pub line: usize,
    /// Leading dots of a relative import (`from ..x import y`: 2); 0 for absolute.
    pub level: usize,
    /// The dotted module after the dots (`x`; empty for `from . import y`).
    pub module: String,
    /// The names of a `from` import (`y`); empty for `import x`.
    pub names: Vec<String>,
}

/// The imports of `lines`.
pub fn imports(lines: &[LogicalLine]) -> Vec<Import> {
    let mut found = Vec::new();
    for l in lines {
        let text = l.text.replace(['\n', '\\'], " ");
        if let Some(rest) = text.strip_prefix("import ") {
            for part in rest.split(',') {
                let module = part.split_whitespace().next().unwrap_or_default();
                if is_dotted_name(module) {
                    found.push(Import {
                        line: l.line,
                        level: 0,
                        module: module.to_owned(),
                        names: Vec::new(),
                    });
                }
            }
        } else if let Some(rest) = text.strip_prefix("from ") {
            let Some((source, names)) = rest.split_once(" import ") else {
                continue;
            };
            let source = source.trim();
            let level = source.chars().take_while(|&c| c == '.').count();
            let module = source[level..].trim();
            if !module.is_empty() && !is_dotted_name(module) {
                continue;
            }
            let names = names
                .trim()
                .trim_start_matches('(')
                .trim_end_matches(')')
                .split(',')
                .filter_map(|n| n.split_whitespace().next())
                .map(str::to_owned)
                .collect();
            found.push(Import {
                line: l.line,
                level,
                module: module.to_owned(),
                names,
            });
        }
    }
    found
}

fn is_dotted_name(text: &str) -> bool {
    !text.is_empty()
        && text.split('.').all(|part| {
            part.chars()
                .next()
                .is_some_and(|c| c.is_alphabetic() || c == '_')
                && part.chars().all(|c| c.is_alphanumeric() || c == '_')
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migrate::lexer::logical_lines;

    #[test]
    fn reads_every_form() {
        let src = "import os, json as j\nfrom .stages import (\n  a,\n  b as c,\n)\nfrom . import x\n\
                   def f():\n    from ..up.mod import z  # comment\nfrom x import *\n";
        let got = imports(&logical_lines(src));
        let short: Vec<_> = got
            .iter()
            .map(|i| (i.line, i.level, i.module.as_str(), i.names.join(",")))
            .collect();
        assert_eq!(
            short,
            vec![
                (1, 0, "os", String::new()),
                (1, 0, "json", String::new()),
                (2, 1, "stages", "a,b".into()),
                (6, 1, "", "x".into()),
                (8, 2, "up.mod", "z".into()),
                (9, 0, "x", "*".into()),
            ]
        );
    }
}
