// The shared source of the replay-greeter builds; each crate's lib.rs sets `VARIANT`.
//
// | step | worker | does |
// |---|---|---|
// | `greet` | worker1 | `POST /greetings` (with `authorization: Bearer $API_TOKEN` of the worker's env, when set) with a text holding the wall-clock time and a random number, `GET /greetings/{id}`, checks the sender, then (`fixed` only) stores `greeted` |
//
// `broken` expects the sender to be `worker2` (the bug); `fixed` expects `worker1`;
// `other` sends another text (a replay of `broken`'s recording diverges at the POST).

use prometheus_step::{Ctx, Error, Outcome, Steps, Value, ensure, json, no_prepare};

fn steps() -> Steps {
    Steps::new().step(
        "greet",
        "posts a greeting and reads it back",
        "worker1",
        no_prepare,
        greet,
    )
}

prometheus_step::export_steps!(steps);

fn greet(ctx: &Ctx, _: (), _: ()) -> Result<Outcome, Error> {
    // Time and randomness come from WASI: a replay gives back the recorded ones, so the
    // text (and the call) is the same.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let seed = std::collections::hash_map::RandomState::new();
    let nonce = std::hash::BuildHasher::hash_one(&seed, now);
    let word = if VARIANT == "other" { "bonjour" } else { "hello" };
    let text = format!("{word} at {now} ({nonce:x})");
    ctx.info(format!("sending `{text}`"));
    let url = ctx.worker_endpoint(None, "/greetings")?;
    let body = json!({ "round": ctx.round(), "from": "worker1", "text": text });
    // A secret from the worker's environment, sent as a header: masked in the recording,
    // and a replay (which answers `***`) sends `***` again.
    let mut request = prometheus_step::Request::post(&url).json(&body);
    if let Some(token) = ctx.worker_env(None, "API_TOKEN") {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let created: Value = request.send()?.expect_status(201)?.json()?;
    let id = created["id"].as_str().unwrap_or_default().to_owned();
    let read_url = ctx.worker_endpoint(None, &format!("/greetings/{id}"))?;
    let greeting: Value = prometheus_step::get(&read_url)?.expect_status(200)?.json()?;
    let expected = if VARIANT == "broken" { "worker2" } else { "worker1" };
    ensure!(
        greeting["from"] == expected,
        "greeting {id} is from {}, expected {expected}",
        greeting["from"]
    );
    ctx.set("greeted", &id)?;
    Ok(Outcome::done(json!({ "id": id, "text": text })))
}
