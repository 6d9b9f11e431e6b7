//! Uses of `runner.state` that the compatibility layer cannot carry: the runner reads and
//! writes a state scope (the current round, global) by key only, so whatever needs the list
//! of a scope's keys (iteration, `.keys()`, `len`, a truth value, `==`, `json.dumps` of the
//! scope, `**` unpacking) raises `SandboxError` at run time (guest-python/prometheus_test/
//! _state.py). `migrate` lists them beforehand, with `file:line`.
//!
//! This is a static look at tokens, not a Python interpreter: it follows `runner.state`
//! (also `self.runner.state`, `test_runner.state`) through subscripts and `.get` /
//! `.setdefault`, and names bound to such an expression within a function
//! (`round_state = runner.state["rounds"].setdefault(r, {})`). What it cannot see (a scope
//! passed to another function, a name rebound in a branch) still fails at run time with the
//! same `SandboxError` text. Values under a scope's keys are plain dicts and lists: listing
//! them is fine and not reported.

use std::collections::HashMap;

use super::lexer::LogicalLine;

/// One use of a state scope that cannot be carried: the physical line, what is there and
/// what to do instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateUse {
    /// 1-based physical line.
    pub line: usize,
    /// What is there, e.g. "`.keys()` of runner.state['rounds'][round] (`round_state`)".
    pub what: String,
    /// Why it cannot run and what to use instead.
    pub why: &'static str,
}

const LIST_SCOPE: &str = "the runner reads a state scope's keys only by name, so this raises SandboxError at run time: use the keys you know (scope['key'], scope.get('key', default), 'key' in scope), or keep what you need to list under one key and list its value, a plain dict (scope.setdefault('by_worker', {})[name] = value; scope['by_worker'].items())";
const LIST_ROUNDS: &str = "a step sees only the current round (runner.state['rounds'][str(runner.current_round)]), so listing the rounds raises SandboxError at run time: keep what later rounds need with runner.set(key, value, scope='global') and read it with runner.get(key)";
const DELETE_ROUND: &str = "deleting a round deletes every key in it, which the runner cannot list, so this raises SandboxError at run time: delete the keys you stored by name (del round_state['key'])";
const OTHER_STATE_KEY: &str = "runner.state holds only rounds, global, current_round and last_completed_step, and the runner owns all of them but global's keys, so this raises SandboxError at run time: store a value with runner.set(key, value, scope='global') or runner.state['global'][key] = value, a round's with runner.state['rounds'][str(runner.current_round)][key] = value";

/// Methods that list a scope (or remove every key, which needs the list).
const LISTING_METHODS: &[&str] = &[
    "keys", "values", "items", "popitem", "clear", "copy", "__iter__", "__len__",
];
/// Functions that list their first argument.
const LISTING_CALLS: &[&str] = &[
    "len",
    "list",
    "sorted",
    "set",
    "frozenset",
    "tuple",
    "dict",
    "iter",
    "enumerate",
    "reversed",
    "any",
    "all",
    "sum",
    "min",
    "max",
    "bool",
    "deepcopy",
    "dumps",
    "dump",
];
/// Keywords after which a scope is taken for its truth value (`if not round_state:`).
const TRUTH_BEFORE: &[&str] = &["if", "elif", "while", "not", "and", "or", "assert"];
/// What may follow a scope taken for its truth value.
const TRUTH_AFTER: &[&str] = &[":", "and", "or", ")", "else", "if"];

/// What an expression denotes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `runner.state` itself: its four keys are known, so it can be listed.
    State,
    /// `runner.state["rounds"]`.
    Rounds,
    /// A scope: the current round (`false`) or global (`true`).
    Scope { global: bool },
    /// Anything else (a value under a scope's key, a number, ...).
    Value,
}

impl Kind {
    fn listable(self) -> bool {
        matches!(self, Kind::State | Kind::Value)
    }

    fn shown(self) -> &'static str {
        match self {
            Kind::Rounds => "runner.state['rounds']",
            Kind::Scope { global: false } => "runner.state['rounds'][round]",
            Kind::Scope { global: true } => "runner.state['global']",
            Kind::State | Kind::Value => "runner.state",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Name(String),
    /// A string literal: its text when it is a plain literal (not an f-string).
    Str(Option<String>),
    Op(&'static str),
    /// A number or a character the analysis does not need.
    Other,
}

impl Tok {
    fn is(&self, text: &str) -> bool {
        match self {
            Tok::Name(n) => n == text,
            Tok::Op(o) => *o == text,
            _ => false,
        }
    }
}

const OPS3: &[&str] = &["**=", "//=", ">>=", "<<=", "..."];
const OPS2: &[&str] = &[
    "**", "==", "!=", "<=", ">=", "->", "+=", "-=", "*=", "/=", "|=", "&=", ":=", "//", "%=", "^=",
    "@=", ">>", "<<",
];
const OPS1: &[&str] = &[
    "(", ")", "[", "]", "{", "}", ",", ":", ".", "=", "+", "-", "*", "/", "%", "|", "&", "^", "~",
    "<", ">", "@", ";",
];

/// The tokens of one logical line and the character offset each starts at: `blanked` is
/// its text as the lexer keeps it (string contents blanked), `original` the same characters
/// before blanking, from which string keys are read.
fn tokens(blanked: &[char], original: &[char]) -> (Vec<Tok>, Vec<usize>) {
    let mut out = Vec::new();
    let mut starts = Vec::new();
    let mut i = 0;
    while i < blanked.len() {
        let c = blanked[i];
        if c.is_whitespace() || c == '\\' {
            i += 1;
            continue;
        }
        starts.push(i);
        if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < blanked.len() && (blanked[i].is_alphanumeric() || blanked[i] == '_') {
                i += 1;
            }
            let word: String = blanked[start..i].iter().collect();
            let prefix = i - start <= 2
                && word.chars().all(|ch| "rbfuRBFU".contains(ch))
                && i < blanked.len()
                && (blanked[i] == '"' || blanked[i] == '\'');
            if prefix {
                let formatted = word.contains(['f', 'F']);
                i = string(blanked, original, i, formatted, &mut out);
            } else {
                out.push(Tok::Name(word));
            }
            continue;
        }
        if c.is_ascii_digit() {
            while i < blanked.len() && (blanked[i].is_alphanumeric() || "._".contains(blanked[i])) {
                i += 1;
            }
            out.push(Tok::Other);
            continue;
        }
        if c == '"' || c == '\'' {
            i = string(blanked, original, i, false, &mut out);
            continue;
        }
        let rest: String = blanked[i..blanked.len().min(i + 3)].iter().collect();
        let op = OPS3
            .iter()
            .chain(OPS2)
            .chain(OPS1)
            .find(|op| rest.starts_with(**op));
        match op {
            Some(op) => {
                out.push(Tok::Op(op));
                i += op.chars().count();
            }
            None => {
                out.push(Tok::Other);
                i += 1;
            }
        }
    }
    (out, starts)
}

/// Reads the string literal whose opening quote is at `at`; returns where it ends.
fn string(
    blanked: &[char],
    original: &[char],
    at: usize,
    formatted: bool,
    out: &mut Vec<Tok>,
) -> usize {
    let q = blanked[at];
    let triple = blanked.get(at + 1) == Some(&q) && blanked.get(at + 2) == Some(&q);
    let open = if triple { 3 } else { 1 };
    let start = at + open;
    // The contents are blanked, so the next quote of the same kind closes the literal.
    let mut end = start;
    while end < blanked.len() {
        let closes = blanked[end] == q
            && (!triple || (blanked.get(end + 1) == Some(&q) && blanked.get(end + 2) == Some(&q)));
        if closes {
            break;
        }
        end += 1;
    }
    let text = (!formatted && end <= original.len())
        .then(|| original[start..end].iter().collect::<String>());
    out.push(Tok::Str(text));
    (end + open).min(blanked.len())
}

/// The original characters of `line`, aligned with its blanked text: the lexer replaces
/// every character of a string or comment by exactly one character, so the same positions
/// of the source's physical lines hold the original text.
fn original(physical: &[&str], line: &LogicalLine, blanked_len: usize) -> Vec<char> {
    let first = line.line - 1;
    let count = line.text.matches('\n').count() + 1;
    let mut out: Vec<char> = Vec::with_capacity(blanked_len);
    for (n, text) in physical.iter().skip(first).take(count).enumerate() {
        if n == 0 {
            out.extend(text.chars().skip(line.indent));
        } else {
            out.push('\n');
            out.extend(text.chars());
        }
    }
    out.truncate(blanked_len);
    out
}

/// An expression of state: where it starts and ends (exclusive) among the line's tokens,
/// what it denotes, what its last step was taken on, and the method called on it.
struct Chain {
    start: usize,
    end: usize,
    kind: Kind,
    before_last: Kind,
    method: Option<String>,
    alias: Option<String>,
}

/// The index of the bracket closing the one at `open`, or the end.
fn closing(toks: &[Tok], open: usize) -> usize {
    let mut depth = 0usize;
    for (i, t) in toks.iter().enumerate().skip(open) {
        match t {
            Tok::Op("(" | "[" | "{") => depth += 1,
            Tok::Op(")" | "]" | "}") => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return i;
                }
            }
            _ => {}
        }
    }
    toks.len()
}

/// The key a subscript or `.get(`/`.setdefault(` names: the literal string when its
/// first argument is one.
fn key_of(args: &[Tok]) -> Option<&str> {
    match args {
        [Tok::Str(Some(key))] => Some(key),
        [Tok::Str(Some(key)), Tok::Op(","), ..] => Some(key),
        _ => None,
    }
}

fn step(kind: Kind, key: Option<&str>) -> Kind {
    match (kind, key) {
        (Kind::State, Some("rounds")) => Kind::Rounds,
        (Kind::State, Some("global")) => Kind::Scope { global: true },
        (Kind::Rounds, _) => Kind::Scope { global: false },
        _ => Kind::Value,
    }
}

/// Whether `name` holds the runner (`runner`, `self.runner`, `test_runner`).
fn is_runner(name: &str) -> bool {
    name == "runner" || name.ends_with("_runner")
}

/// The state expression starting at token `i`, if one does.
fn chain(toks: &[Tok], i: usize, aliases: &Aliases) -> Option<Chain> {
    let after_dot = i > 0 && toks[i - 1].is(".");
    let (mut kind, mut j, alias) = match (&toks[i], toks.get(i + 1), toks.get(i + 2)) {
        (Tok::Name(n), Some(Tok::Op(".")), Some(Tok::Name(s))) if is_runner(n) && s == "state" => {
            (Kind::State, i + 3, None)
        }
        (Tok::Name(n), _, _) if !after_dot => (aliases.get(n)?, i + 1, Some(n.clone())),
        _ => return None,
    };
    let mut before_last = kind;
    let mut method = None;
    while kind != Kind::Value {
        match (toks.get(j), toks.get(j + 1), toks.get(j + 2)) {
            (Some(Tok::Op("[")), _, _) => {
                let close = closing(toks, j);
                before_last = kind;
                kind = step(kind, key_of(toks.get(j + 1..close).unwrap_or_default()));
                j = close + 1;
            }
            (Some(Tok::Op(".")), Some(Tok::Name(m)), Some(Tok::Op("("))) => {
                if m == "get" || m == "setdefault" {
                    let close = closing(toks, j + 2);
                    before_last = kind;
                    kind = step(kind, key_of(toks.get(j + 3..close).unwrap_or_default()));
                    j = close + 1;
                } else {
                    method = Some(m.clone());
                    break;
                }
            }
            _ => break,
        }
    }
    Some(Chain {
        start: i,
        end: j.min(toks.len()),
        kind,
        before_last,
        method,
        alias,
    })
}

/// Names bound to state expressions, per function (a frame per `def`, by indentation).
/// Each name keeps a stack of its bindings, innermost last, so a lookup costs the same
/// however deeply functions nest.
struct Aliases {
    /// Per open frame: the indentation of its `def` (`None`: the module) and the names it
    /// bound.
    frames: Vec<(Option<usize>, Vec<String>)>,
    /// Per name: (frame index, what it denotes), innermost last.
    names: HashMap<String, Vec<(usize, Kind)>>,
}

impl Aliases {
    fn new() -> Self {
        Aliases {
            frames: vec![(None, Vec::new())],
            names: HashMap::new(),
        }
    }

    fn get(&self, name: &str) -> Option<Kind> {
        self.names
            .get(name)
            .and_then(|b| b.last())
            .map(|&(_, kind)| kind)
    }

    /// Binds `name` in the innermost frame; `Kind::Value` shadows an outer binding (a
    /// parameter, or a name assigned something else).
    fn bind(&mut self, name: &str, kind: Kind) {
        let top = self.frames.len() - 1;
        let bindings = self.names.entry(name.to_owned()).or_default();
        match bindings.last_mut() {
            Some((frame, k)) if *frame == top => *k = kind,
            _ => {
                bindings.push((top, kind));
                self.frames[top].1.push(name.to_owned());
            }
        }
    }

    /// Opens the frame of a `def` at `indent`.
    fn open(&mut self, indent: usize) {
        self.frames.push((Some(indent), Vec::new()));
    }

    /// Leaves the functions that `indent` is not inside of.
    fn enter_line(&mut self, indent: usize) {
        while self
            .frames
            .last()
            .is_some_and(|(def, _)| def.is_some_and(|d| indent <= d))
        {
            let (_, bound) = self.frames.pop().expect("a frame");
            for name in bound {
                if let Some(bindings) = self.names.get_mut(&name) {
                    bindings.pop();
                }
            }
        }
    }
}

/// What the use at `chain` does that needs the list of a scope, if anything.
fn listing_use(toks: &[Tok], c: &Chain) -> Option<String> {
    let prev = |back: usize| c.start.checked_sub(back).and_then(|i| toks.get(i));
    let next = toks.get(c.end);
    let next_is = |set: &[&str]| next.is_none_or(|t| set.iter().any(|s| t.is(s)));
    let closes_arg = next.is_some_and(|t| t.is(")") || t.is(","));
    if let Some(m) = &c.method {
        return LISTING_METHODS
            .contains(&m.as_str())
            .then(|| format!("`.{m}()`"));
    }
    if prev(1).is_some_and(|t| t.is("in")) && is_for_target(toks, c.start - 1) {
        return Some("iteration (`for ... in`)".to_owned());
    }
    if prev(1).is_some_and(|t| t.is("("))
        && let Some(Tok::Name(f)) = prev(2)
        && LISTING_CALLS.contains(&f.as_str())
        && closes_arg
    {
        // `json.dumps(scope)` is shown with its module.
        return Some(match (prev(3), prev(4)) {
            (Some(Tok::Op(".")), Some(Tok::Name(module))) => format!("`{module}.{f}()`"),
            _ => format!("`{f}()`"),
        });
    }
    if prev(1).is_some_and(|t| t.is("**") || t.is("*"))
        && prev(2).is_some_and(|t| t.is("(") || t.is(",") || t.is("[") || t.is("{"))
    {
        return Some("unpacking (`*`, `**`)".to_owned());
    }
    let truth_before = prev(1).is_some_and(|t| TRUTH_BEFORE.iter().any(|k| t.is(k)));
    let truth_or = next.is_some_and(|t| t.is("or") || t.is("and"))
        && prev(1).is_none_or(|t| ["=", "(", ",", "return"].iter().any(|k| t.is(k)));
    if (truth_before && next_is(TRUTH_AFTER)) || truth_or {
        return Some("its truth value (`if scope:`, `or`)".to_owned());
    }
    if next.is_some_and(|t| t.is("==") || t.is("!="))
        || prev(1).is_some_and(|t| t.is("==") || t.is("!="))
    {
        return Some("comparison (`==`)".to_owned());
    }
    if prev(1).is_some_and(|t| t.is("return")) && next.is_none() {
        return Some("returning it (a step's result is serialised)".to_owned());
    }
    None
}

/// The parameter names of a `def` line: names directly inside its parentheses that end a
/// parameter (followed by `,`, `)`, `=` or `:`).
fn parameters(toks: &[Tok]) -> impl Iterator<Item = String> + '_ {
    let open = toks.iter().position(|t| t.is("(")).unwrap_or(toks.len());
    let close = closing(toks, open);
    let inside = toks.get(open + 1..close).unwrap_or_default();
    let mut depth = 0usize;
    inside.iter().enumerate().filter_map(move |(i, t)| {
        match t {
            Tok::Op("(" | "[" | "{") => depth += 1,
            Tok::Op(")" | "]" | "}") => depth = depth.saturating_sub(1),
            Tok::Name(n) if depth == 0 => {
                let ends = inside
                    .get(i + 1)
                    .is_none_or(|t| [",", ")", "=", ":"].iter().any(|k| t.is(k)));
                let starts = i == 0
                    || inside[i - 1].is(",")
                    || inside[i - 1].is("*")
                    || inside[i - 1].is("**");
                if ends && starts {
                    return Some(n.clone());
                }
            }
            _ => {}
        }
        None
    })
}

/// Whether the `in` at `at` is a `for`'s (iteration), not a membership test: the tokens
/// before it, back to a `for`, are a target (names, commas, brackets).
fn is_for_target(toks: &[Tok], at: usize) -> bool {
    for t in toks[..at].iter().rev() {
        match t {
            Tok::Name(n) if n == "for" => return true,
            Tok::Name(n) if is_keyword(n) => return false,
            Tok::Name(_) | Tok::Op("," | "(" | ")" | "[" | "]" | "*") => {}
            _ => return false,
        }
    }
    false
}

fn is_keyword(name: &str) -> bool {
    matches!(
        name,
        "if" | "elif"
            | "else"
            | "while"
            | "not"
            | "and"
            | "or"
            | "in"
            | "is"
            | "return"
            | "lambda"
            | "del"
            | "assert"
            | "async"
            | "await"
            | "yield"
    )
}

/// Every use of a state scope in `source` (whose logical lines are `lines`) that the
/// compatibility layer cannot carry.
pub fn state_uses(source: &str, lines: &[LogicalLine]) -> Vec<StateUse> {
    // Most modules never touch the state: nothing to tokenize.
    if !lines.iter().any(|l| l.text.contains("state")) {
        return Vec::new();
    }
    let physical: Vec<&str> = source.split('\n').collect();
    let mut aliases = Aliases::new();
    let mut found = Vec::new();
    for l in lines {
        aliases.enter_line(l.indent);
        let blanked: Vec<char> = l.text.chars().collect();
        let (toks, starts) = tokens(&blanked, &original(&physical, l, blanked.len()));
        let starts_def = toks.first().is_some_and(|t| t.is("def"))
            || (toks.first().is_some_and(|t| t.is("async"))
                && toks.get(1).is_some_and(|t| t.is("def")));
        // `name = <expression>` binds (or unbinds) an alias.
        let assigned = match (toks.first(), toks.get(1)) {
            (Some(Tok::Name(n)), Some(Tok::Op("="))) if !is_keyword(n) => Some(n.clone()),
            _ => None,
        };
        if let Some(name) = &assigned {
            let bound = chain(&toks, 2, &aliases)
                .filter(|c| c.end == toks.len() && c.method.is_none())
                .map_or(Kind::Value, |c| c.kind);
            aliases.bind(name, bound);
        }
        let mut i = 0;
        while i < toks.len() {
            let Some(c) = chain(&toks, i, &aliases) else {
                i += 1;
                continue;
            };
            let at = l.line
                + blanked[..starts[c.start]]
                    .iter()
                    .filter(|ch| **ch == '\n')
                    .count();
            let shown = match &c.alias {
                Some(a) => format!("{} (`{a}`)", c.kind.shown()),
                None => c.kind.shown().to_owned(),
            };
            if !c.kind.listable()
                && let Some(what) = listing_use(&toks, &c)
            {
                let why = if c.kind == Kind::Rounds {
                    LIST_ROUNDS
                } else {
                    LIST_SCOPE
                };
                found.push(StateUse {
                    line: at,
                    what: format!("{what} of {shown}"),
                    why,
                });
            } else if (c.before_last == Kind::Rounds && c.start > 0 && toks[c.start - 1].is("del"))
                || (c.kind == Kind::Rounds && c.method.as_deref() == Some("pop"))
            {
                found.push(StateUse {
                    line: at,
                    what: "deleting a round of runner.state['rounds']".to_owned(),
                    why: DELETE_ROUND,
                });
            } else if c.before_last == Kind::State
                && !matches!(c.kind, Kind::State | Kind::Scope { global: true })
                && c.alias.is_none()
                && c.method.is_none()
                && toks.get(c.end).is_some_and(|t| t.is("="))
            {
                found.push(StateUse {
                    line: at,
                    what: "assigning a key of runner.state other than global".to_owned(),
                    why: OTHER_STATE_KEY,
                });
            }
            i = c.end.max(i + 1);
        }
        if starts_def {
            // The parameters shadow names of the enclosing code.
            let params: Vec<String> = parameters(&toks).collect();
            aliases.open(l.indent);
            for p in params {
                aliases.bind(&p, Kind::Value);
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migrate::lexer::logical_lines;

    fn uses(source: &str) -> Vec<(usize, String)> {
        state_uses(source, &logical_lines(source))
            .into_iter()
            .map(|u| (u.line, u.what))
            .collect()
    }

    #[test]
    fn served_idioms_are_not_listed() {
        let src = r#"
def execute(runner, worker, data):
    rounds = runner.state["rounds"]
    r = str(runner.current_round)
    round_state = rounds.setdefault(r, {})
    if "pr_urls" not in round_state:
        round_state["pr_urls"] = {}
    round_state["pr_urls"][worker.name] = 1
    for name, url in round_state["pr_urls"].items():
        print(name, url)
    n = len(round_state.get("pr_urls", {}))
    text = json.dumps(rounds[r]["pr_urls"])
    runner.state["global"].update(a=1)
    del round_state["x"]
    keys = list(runner.state.keys())
    if round_state.get("x") and "y" in round_state:
        pass
    runner.state["global"]["total"] = 1
    return {"success": True}
"#;
        assert_eq!(uses(src), Vec::<(usize, String)>::new());
    }

    #[test]
    fn listing_a_scope_is_listed_with_its_line() {
        let src = r#"
def execute(runner, worker, data):
    round_state = runner.state["rounds"].get(str(runner.current_round), {})
    for key in round_state:
        pass
    names = round_state.keys()
    size = len(runner.state["global"])
    if not round_state:
        return None
    copy = {**runner.state['global']}
    text = json.dumps(
        runner.state["rounds"][str(runner.current_round)]
    )
    every = [r for r in runner.state["rounds"]]
    del runner.state["rounds"]["1"]
    runner.state["history"] = []
    state_global = runner.state["global"]
    if state_global == {}:
        pass
    data = round_state or {}

def other(runner):
    round_state = {}
    for key in round_state:
        pass
"#;
        let got = uses(src);
        let lines: Vec<usize> = got.iter().map(|g| g.0).collect();
        assert_eq!(lines, [4, 6, 7, 8, 10, 12, 14, 15, 16, 18, 20], "{got:#?}");
        assert_eq!(
            got[0].1,
            "iteration (`for ... in`) of runner.state['rounds'][round] (`round_state`)"
        );
        assert_eq!(got[2].1, "`len()` of runner.state['global']");
        assert_eq!(got[7].1, "deleting a round of runner.state['rounds']");
    }

    #[test]
    fn parameters_and_rebinding_shadow_an_alias() {
        let src = r#"
round_state = runner.state["rounds"]["1"]

def helper(data, round_state=None):
    for key in round_state:
        pass

def other():
    round_state = {"a": 1}
    if not round_state:
        pass

def uses_module_alias():
    return len(round_state)
"#;
        assert_eq!(
            uses(src),
            [(
                14,
                "`len()` of runner.state['rounds'][round] (`round_state`)".to_owned()
            )]
        );
    }

    #[test]
    fn a_large_module_of_state_uses_and_deep_functions_is_read_in_linear_time() {
        // 2 000 nested functions (each lookup once walked every frame), then 3 MiB of
        // listings (each one a finding).
        let mut src = String::new();
        for depth in 0..2_000 {
            src.push_str(&" ".repeat(depth));
            src.push_str("def f(runner, a, b):\n");
        }
        src.push_str(&" ".repeat(2_000));
        src.push_str("x = runner.state['global']\n");
        let body = "for k in runner.state['global']: pass\n";
        let listings = 3_000_000 / body.len();
        src.push_str(&body.repeat(listings));
        let started = std::time::Instant::now();
        let found = state_uses(&src, &logical_lines(&src));
        let took = started.elapsed();
        assert_eq!(found.len(), listings);
        assert_eq!(found.last().map(|u| u.line), Some(2_001 + listings));
        // A guard against a quadratic walk (hours), not a benchmark.
        assert!(took < std::time::Duration::from_secs(60), "took {took:?}");
    }
}
