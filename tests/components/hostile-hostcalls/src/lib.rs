//! A step package that hands the host large arguments through every kind of host call,
//! over and over: config.yaml's `hostile` names the step that misbehaves (every other
//! step skips, except `warm-up`, which always completes) and `scale` multiplies how many
//! calls it makes (1, 10, 100), so a test can measure the host's peak memory at the
//! limit and at 10 and 100 times it.
//!
//! | step | does (`scale` times) |
//! |---|---|
//! | `warm-up` | nothing (completes) |
//! | `state-flood` | 2 `state.set` calls of a 24 MiB value |
//! | `big-request` | 2 `http.send` calls with a 2 MiB body |
//! | `big-document` | 1 `insert_one` call of a 2 MiB document |
//! | `stage-blowup` | one `$unwind` and one `$group` over two 8000-element arrays |
//! | `log-flood` | 8 log lines of 1 MiB |
//! | `sign-flood` | 2 `worker.sign` calls of a 24 MiB payload |
//! | `config-reads` | 16 `config.get` calls of config.yaml's 64 KiB `big` (completes) |
//! | `state-reads` | 16 `state.get` calls of a 64 KiB value (completes) |
//!
//! The sizes suit a test whose host-side budgets are 1 MiB: every refused argument is
//! twice its budget or more, and at 100 times the volume the step hands the host 100
//! times (or more) the budget in total.
//!
//! Refusals do not stop a flood: the step makes every call, then fails naming how many
//! were refused and the first refusal, so the host is measured under the whole flood.

use prometheus_step::__private::bindings::prometheus::step::{http, mongo, state, worker};
use prometheus_step::{Ctx, Error, Outcome, Steps, fail};

/// The steps that misbehave, in manifest order after `warm-up`.
const HOSTILE: [&str; 8] = [
    "state-flood",
    "big-request",
    "big-document",
    "stage-blowup",
    "log-flood",
    "sign-flood",
    "config-reads",
    "state-reads",
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

/// Counts refusals over a flood and reports the first.
#[derive(Default)]
struct Refusals {
    count: usize,
    calls: usize,
    first: Option<String>,
}

impl Refusals {
    fn note<T>(&mut self, result: Result<T, String>) {
        self.calls += 1;
        if let Err(message) = result {
            self.count += 1;
            self.first.get_or_insert(message);
        }
    }

    fn outcome(self, step: &str) -> Result<Outcome, Error> {
        match self.first {
            Some(first) => fail!("{} of {} refused: {first}", self.count, self.calls),
            None => Ok(Outcome::done(format!(
                "{step}: {} calls got through",
                self.calls
            ))),
        }
    }
}

/// `before` + `n` times `c` + `after`, allocated once at its final size (`format!` of a
/// large string grows by doubling and needs three times its size on the way).
fn text(before: &str, c: char, n: usize, after: &str) -> String {
    let mut s = String::with_capacity(before.len() + n + after.len());
    s.push_str(before);
    s.extend(std::iter::repeat_n(c, n));
    s.push_str(after);
    s
}

fn execute(ctx: &Ctx, _: (), _: ()) -> Result<Outcome, Error> {
    if ctx.config::<String>("hostile")?.as_deref() != ctx.step() {
        return Ok(Outcome::skip("not the hostile step of this test"));
    }
    let scale = ctx.config::<usize>("scale")?.unwrap_or(1);
    let step = ctx.step().unwrap_or_default().to_owned();
    let mut refusals = Refusals::default();
    match step.as_str() {
        "state-flood" => {
            let value = text("\"", 's', 24 << 20, "\"");
            for i in 0..2 * scale {
                refusals.note(state::set(&format!("big{i}"), &value, state::Scope::Round));
            }
        }
        "big-request" => {
            let body = vec![b'b'; 2 << 20];
            for _ in 0..2 * scale {
                let request = http::Request {
                    method: "POST".into(),
                    url: "http://127.0.0.1:9/upload".into(),
                    headers: vec![],
                    body: Some(body.clone()),
                    timeout_ms: Some(20_000),
                };
                refusals.note(http::send(&request).map_err(|e| format!("{e:?}")));
            }
        }
        "big-document" => {
            let doc = text(r#"{"s": ""#, 'd', 2 << 20, r#""}"#);
            for _ in 0..scale {
                refusals.note(mongo::insert_one("big", &doc).map_err(|e| e.message));
            }
        }
        "stage-blowup" => {
            let items: Vec<String> = (0..8000).map(|i| i.to_string()).collect();
            let items = items.join(",");
            let doc = format!(r#"{{"k": 1, "a": [{items}], "b": [{items}]}}"#);
            if let Err(e) = mongo::insert_one("blowup", &doc) {
                fail!("insert: {}", e.message);
            }
            let group =
                r#"[{"$group": {"_id": "$k", "p": {"$push": "$b"}, "q": {"$push": "$a"}}}]"#;
            for _ in 0..scale {
                refusals.note(
                    mongo::aggregate("blowup", r#"[{"$unwind": "$a"}]"#).map_err(|e| e.message),
                );
                refusals.note(mongo::aggregate("blowup", group).map_err(|e| e.message));
            }
        }
        "log-flood" => {
            let line = "l".repeat(1 << 20);
            for _ in 0..8 * scale {
                ctx.info(&line);
            }
        }
        "sign-flood" => {
            let payload = text("\"", 'p', 24 << 20, "\"");
            for _ in 0..2 * scale {
                refusals.note(
                    worker::sign(None, worker::KeyKind::Staking, &payload)
                        .map_err(|e| format!("{e:?}")),
                );
            }
        }
        "config-reads" => {
            for _ in 0..16 * scale {
                let value: Option<String> = ctx.config("big")?;
                if value.map_or(0, |v| v.len()) != 64 << 10 {
                    fail!("config.yaml's `big` did not come back whole");
                }
            }
        }
        "state-reads" => {
            let value = text("\"", 'r', 64 << 10, "\"");
            refusals.note(state::set("read-me", &value, state::Scope::Round));
            for _ in 0..16 * scale {
                let back = state::get("read-me");
                if back.map_or(0, |v| v.len()) != value.len() {
                    fail!("state.get did not give the value back whole");
                }
            }
        }
        _ => fail!("unknown hostile step `{step}`"),
    }
    refusals.outcome(&step)
}
