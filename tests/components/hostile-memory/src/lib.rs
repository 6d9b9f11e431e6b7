//! A step package that tries to exhaust the host rather than itself: each step hands the
//! host something large or deep. config.yaml's `hostile` names the step that misbehaves;
//! every other step skips, except `warm-up`, which always completes, so the saved state
//! has a last completed step.
//!
//! | step | does |
//! |---|---|
//! | `warm-up` | nothing (completes) |
//! | `big-state` | `state.set` of 4 MiB values under new keys, without end |
//! | `store-flood` | inserts 1 MiB documents, without end |
//! | `unwind-bomb` | `$unwind` of a 30 000-element array beside 120 KB of text (3.6 GB of copies) |
//! | `deep-set-path` | `$set` of a 3000-part path |
//! | `deep-state-key` | `state.set` under a 300 000-part key |
//! | `deep-state-value` | `state.set` of values nested 1000 and 101 levels deep |
//! | `deep-document` | inserts documents nested 1000 and 101 levels deep |
//! | `log-flood` | logs 1 KiB lines without end |
//! | `state-at-the-limit` | `state.set` of a key and value nesting 100 levels together (completes) |
//!
//! A refusal the step sees (an error value) fails the step with the host's message; if an
//! attempt ever got through, the step would complete and the test would see exit 0.

use prometheus_step::__private::bindings::prometheus::step::{mongo, state};
use prometheus_step::{Ctx, Error, Outcome, Steps, fail};

/// The steps that misbehave, in manifest order after `warm-up`.
const HOSTILE: [&str; 9] = [
    "big-state",
    "store-flood",
    "unwind-bomb",
    "deep-set-path",
    "deep-state-key",
    "deep-state-value",
    "deep-document",
    "log-flood",
    "state-at-the-limit",
];

fn steps() -> Steps {
    let mut steps = Steps::new().step(
        "warm-up",
        "Completes, so a later failure has a last completed step",
        "worker1",
        |_: &Ctx, _: ()| Ok(()),
        |_: &Ctx, _: (), _: ()| Ok(Outcome::done(true)),
    );
    for name in HOSTILE {
        steps = steps.step(
            name,
            "hostile to the host",
            "worker1",
            prometheus_step::no_prepare,
            execute,
        );
    }
    steps
}

prometheus_step::export_steps!(steps);

/// `{"a": {"a": ... 1}}`, `depth` objects deep, as text (no guest recursion).
fn nested(depth: usize) -> String {
    format!("{}1{}", r#"{"a": "#.repeat(depth), "}".repeat(depth))
}

/// The host's refusal as the step's failure, or a success if the host took it.
fn refused<T>(what: &str, result: Result<T, String>) -> Result<(), Error> {
    match result {
        Ok(_) => Ok(()),
        Err(message) => fail!("{what}: {message}"),
    }
}

fn mongo_refused<T>(what: &str, result: Result<T, mongo::MongoError>) -> Result<(), Error> {
    refused(what, result.map_err(|e| e.message))
}

fn execute(ctx: &Ctx, _: (), _: ()) -> Result<Outcome, Error> {
    if ctx.config::<String>("hostile")?.as_deref() != ctx.step() {
        return Ok(Outcome::skip("not the hostile step of this test"));
    }
    let step = ctx.step().unwrap_or_default().to_owned();
    match step.as_str() {
        "big-state" => {
            let value = format!("\"{}\"", "s".repeat(4 << 20));
            for i in 0.. {
                refused(
                    "big state",
                    state::set(&format!("big{i}"), &value, state::Scope::Round),
                )?;
            }
        }
        "store-flood" => {
            let doc = format!(r#"{{"s": "{}"}}"#, "d".repeat(1 << 20));
            loop {
                mongo_refused("store flood", mongo::insert_one("flood", &doc))?;
            }
        }
        "unwind-bomb" => {
            let items: Vec<String> = (0..30_000).map(|i| i.to_string()).collect();
            let doc = format!(
                r#"{{"pad": "{}", "items": [{}]}}"#,
                "p".repeat(120_000),
                items.join(",")
            );
            mongo_refused("insert", mongo::insert_one("bomb", &doc))?;
            mongo_refused(
                "unwind",
                mongo::aggregate("bomb", r#"[{"$unwind": "$items"}]"#),
            )?;
        }
        "deep-set-path" => {
            let path = vec!["a"; 3000].join(".");
            let update = format!(r#"{{"$set": {{"{path}": 1}}}}"#);
            mongo_refused("deep $set", mongo::update_one("deep", "{}", &update, true))?;
        }
        "deep-state-key" => {
            let key = vec!["k"; 300_000].join(".");
            refused("deep key", state::set(&key, "1", state::Scope::Global))?;
        }
        "deep-state-value" => {
            let parse = state::set("deep", &nested(1000), state::Scope::Round);
            let nest = state::set("deeper.still", &nested(99), state::Scope::Round);
            if let (Err(a), Err(b)) = (&parse, &nest) {
                fail!("deep values refused: {a} | {b}");
            }
        }
        "deep-document" => {
            let parse = mongo::insert_one("deep", &nested(1000));
            let nest = mongo::insert_one("deep", &nested(101));
            if let (Err(a), Err(b)) = (&parse, &nest) {
                fail!("deep documents refused: {} | {}", a.message, b.message);
            }
        }
        "log-flood" => {
            let line = "l".repeat(1023);
            loop {
                ctx.info(&line);
            }
        }
        "state-at-the-limit" => {
            // 60 key parts and 40 levels of value: 100 together, the most accepted.
            let key = vec!["k"; 60].join(".");
            refused(
                "at the limit",
                state::set(&key, &nested(40), state::Scope::Global),
            )?;
            refused(
                "at the limit",
                state::set(&key, &nested(40), state::Scope::Round),
            )?;
            return Ok(Outcome::done("stored at the nesting limit"));
        }
        _ => fail!("unknown hostile step `{step}`"),
    }
    Ok(Outcome::done(format!("{step} got through")))
}
