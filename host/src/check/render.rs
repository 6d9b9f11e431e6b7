//! The plan as text for the terminal: a pure function, tested on its lines.

use std::fmt::Write as _;

use super::plan::{Plan, Rounds};
use crate::config::ReadyProbe;

/// The plan, one fact per line; it holds names and public keys, never a secret value.
pub fn render(plan: &Plan) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "config: {} (task_id {})",
        plan.config_path.display(),
        plan.task_id
    );
    let _ = writeln!(out, "workers ({}):", plan.workers.len());
    for w in &plan.workers {
        if w.external {
            let _ = writeln!(
                out,
                "  {}: port {}, {} (external: not started by the runner)",
                w.name, w.port, w.url
            );
            let _ = writeln!(out, "    ready: {}", w.ready);
            let _ = match &w.reset {
                Some(hook) => writeln!(out, "    fresh run: resets it with {hook}"),
                None => writeln!(
                    out,
                    "    fresh run: its state is yours to reset (no reset hook)"
                ),
            };
        } else {
            let _ = writeln!(out, "  {}: port {}, {}", w.name, w.port, w.url);
            let _ = writeln!(out, "    command: {}", w.command.join(" "));
            if w.ready != ReadyProbe::Tcp.to_string() {
                let _ = writeln!(out, "    ready: {}", w.ready);
            }
        }
        if !w.variables.is_empty() {
            let _ = writeln!(out, "    variables: {}", w.variables.join(", "));
        }
        for key in &w.keys {
            let _ = writeln!(
                out,
                "    {} key: {} (from {})",
                key.kind, key.public_key, key.variable
            );
        }
    }
    let _ = writeln!(out, "mongodb database: {}", plan.database);
    for c in &plan.collections {
        let source = match (&c.data_file, c.documents) {
            (Some(path), Some(n)) => format!(
                "{n} document{} from {}",
                if n == 1 { "" } else { "s" },
                path.display()
            ),
            (Some(path), None) => format!("{} (missing, not seeded)", path.display()),
            (None, _) => "no data file".to_string(),
        };
        let _ = writeln!(
            out,
            "  {}: {source}, required_count {}",
            c.name, c.required_count
        );
    }
    let rounds = match &plan.rounds {
        Rounds::Fixed(n) => format!("{n} (max_rounds)"),
        Rounds::Derived {
            collection,
            seeded: Some(n),
        } => format!(
            "{} = {n} `{collection}` document{} for the task + 1 (more if the database already holds others)",
            n + 1,
            if *n == 1 { "" } else { "s" }
        ),
        Rounds::Derived {
            collection,
            seeded: None,
        } => format!(
            "counted at run time: `{collection}` documents for the task + 1 (no data file seeds it)"
        ),
    };
    let _ = writeln!(out, "rounds: {rounds}");
    let _ = writeln!(out, "network: {}", plan.origins.join(", "));
    for warning in &plan.warnings {
        let _ = writeln!(out, "warning: {warning}");
    }
    out
}
