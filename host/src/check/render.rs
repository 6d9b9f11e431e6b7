//! The plan as text for the terminal: a pure function, tested on its lines.

use std::fmt::Write as _;

use super::plan::{Plan, Rounds};
use crate::config::ReadyProbe;
use crate::report::sanitize::bounded_line;

/// The plan, one fact per line; it holds names and public keys, never a secret value.
/// Every name, path, command and URL comes from config.yaml, workers.json or `.env`: each
/// is rendered as one line (newlines and control characters escaped), so none can draw
/// a line of its own or drive the terminal.
pub fn render(plan: &Plan) -> String {
    let l = |text: &dyn std::fmt::Display| bounded_line(&text.to_string());
    let mut out = String::new();
    let _ = writeln!(
        out,
        "config: {} (task_id {})",
        l(&plan.config_path.display()),
        l(&plan.task_id)
    );
    let _ = writeln!(out, "workers ({}):", plan.workers.len());
    for w in &plan.workers {
        if w.external {
            let _ = writeln!(
                out,
                "  {}: port {}, {} (external: not started by the runner)",
                l(&w.name),
                w.port,
                l(&w.url)
            );
            let _ = writeln!(out, "    ready: {}", l(&w.ready));
            let _ = match &w.reset {
                Some(hook) => writeln!(out, "    fresh run: resets it with {}", l(hook)),
                None => writeln!(
                    out,
                    "    fresh run: its state is yours to reset (no reset hook)"
                ),
            };
        } else {
            let _ = writeln!(out, "  {}: port {}, {}", l(&w.name), w.port, l(&w.url));
            let _ = writeln!(out, "    command: {}", l(&w.command.join(" ")));
            if w.ready != ReadyProbe::Tcp.to_string() {
                let _ = writeln!(out, "    ready: {}", l(&w.ready));
            }
        }
        if !w.variables.is_empty() {
            let _ = writeln!(out, "    variables: {}", l(&w.variables.join(", ")));
        }
        for key in &w.keys {
            let _ = writeln!(
                out,
                "    {} key: {} (from {})",
                l(&key.kind),
                l(&key.public_key),
                l(&key.variable)
            );
        }
    }
    let _ = writeln!(out, "mongodb database: {}", l(&plan.database));
    for c in &plan.collections {
        let source = match (&c.data_file, c.documents) {
            (Some(path), Some(n)) => format!(
                "{n} document{} from {}",
                if n == 1 { "" } else { "s" },
                l(&path.display())
            ),
            (Some(path), None) => format!("{} (missing, not seeded)", l(&path.display())),
            (None, _) => "no data file".to_string(),
        };
        let _ = writeln!(
            out,
            "  {}: {source}, required_count {}",
            l(&c.name),
            c.required_count
        );
    }
    let rounds = match &plan.rounds {
        Rounds::Fixed(n) => format!("{n} (max_rounds)"),
        Rounds::Derived {
            collection,
            seeded: Some(n),
        } => format!(
            "{} = {n} `{}` document{} for the task + 1 (more if the database already holds others)",
            n + 1,
            l(collection),
            if *n == 1 { "" } else { "s" }
        ),
        Rounds::Derived {
            collection,
            seeded: None,
        } => format!(
            "counted at run time: `{}` documents for the task + 1 (no data file seeds it)",
            l(collection)
        ),
    };
    let _ = writeln!(out, "rounds: {rounds}");
    let _ = writeln!(out, "network: {}", l(&plan.origins.join(", ")));
    for warning in &plan.warnings {
        let _ = writeln!(out, "warning: {}", l(warning));
    }
    out
}
