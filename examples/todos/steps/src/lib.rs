//! Steps of the todos example: a to-do list seeded into MongoDB drives the test. Two
//! `hello-worker` servers (`worker1`, `worker2`) work through it, one todo a round.
//!
//! The runner seeds collection `todos` from `data/todos.json` (every document tagged with
//! `taskId: todos`), and since config.yaml sets no `max_rounds`, the test runs
//! `count(todos, {taskId}) + 1` rounds: one per todo, then a last round that checks the
//! finished list.
//!
//! | step / hook | worker | does | demonstrates |
//! |---|---|---|---|
//! | `post-load` | — | gives every seeded todo a unique `uuid` (replacing `"PLACEHOLDER"`) and an `assignee` (replacing `"{{worker}}"`, round-robin over the workers) | the post-load hook rewriting placeholder values; `find` with `$or`, `update-one` by `_id` |
//! | `pick-todo` | worker1 | prepare: reads the first open todo (by `order`); execute: posts a greeting carrying its title to its assignee, then sets `status: done`, `greetingId`, `doneRound`, `doneBy` | `find` with filter, sort and limit into a serde struct; ObjectId `_id`; `update-one` with `$set`, guarded on `status: open` |
//! | `check-todo` | worker2 | reads the todo done this round, fetches its greeting back from the assignee, and checks that `round` todos are done | `find-one`, `count-documents`, data written by an earlier step |
//! | `check-list` | worker1 | in the last round only: every todo is done, no placeholder is left, the uuids are distinct; reports the todos per assignee | rounds derived from the collection; `aggregate` (`$match`, `$group`, `$sort`) |
//!
//! Failure injection for the runner's tests (as in the hello example): when config.yaml
//! sets `fail_step` to a step's name, that step's `execute` fails with
//! `injected failure in <step> (config fail_step)` before doing anything — in every round,
//! or only in round `fail_round` if set.
//!
//! Build: `cargo build -p todos-steps --target wasm32-wasip2 --profile guest`.

use prometheus_step::mongo::{self, ObjectId};
use prometheus_step::{Context, Ctx, Error, Outcome, Steps, Value, ensure, fail, json, no_prepare};
use serde::{Deserialize, Serialize};

/// The collection the test's data lives in (config.yaml's `rounds_collection`).
const TODOS: &str = "todos";
/// The value of `uuid` in the seed file that post-load replaces.
const UUID_PLACEHOLDER: &str = "PLACEHOLDER";
/// The value of `assignee` in the seed file that post-load replaces.
const ASSIGNEE_PLACEHOLDER: &str = "{{worker}}";

fn steps() -> Steps {
    Steps::new()
        .step(
            "pick-todo",
            "worker1 does the first open todo: greets its assignee, marks it done",
            "worker1",
            pick_todo_prepare,
            pick_todo_execute,
        )
        .step(
            "check-todo",
            "worker2 checks this round's todo and its greeting",
            "worker2",
            check_todo_prepare,
            check_todo_execute,
        )
        .step(
            "check-list",
            "Last round: every todo is done, placeholders were rewritten",
            "worker1",
            no_prepare,
            check_list_execute,
        )
        .post_load(post_load)
}

prometheus_step::export_steps!(steps);

/// A document of `todos`, as seeded and as the steps update it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Todo {
    #[serde(rename = "_id")]
    id: ObjectId,
    order: u32,
    title: String,
    status: String,
    assignee: String,
    uuid: String,
    #[serde(default)]
    greeting_id: Option<String>,
    #[serde(default)]
    done_round: Option<u32>,
}

/// Fails the step when config.yaml's `fail_step` names it (in every round, or only in
/// round `fail_round` when that is set). Called first in every `execute`.
fn fail_if_injected(ctx: &Ctx) -> Result<(), Error> {
    let step = ctx.step().unwrap_or_default();
    if ctx.config::<String>("fail_step")?.as_deref() == Some(step) {
        let round: Option<u32> = ctx.config("fail_round")?;
        if round.is_none_or(|r| r == ctx.round()) {
            fail!("injected failure in {step} (config fail_step)");
        }
    }
    Ok(())
}

// post-load ----------------------------------------------------------------------------

/// A UUID-shaped value unique to this seeding: the document's ObjectId (unique in the
/// collection, new at every seeding) followed by the clock's nanoseconds.
fn unique_uuid(id: &ObjectId) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let hex = format!("{}{nanos:08x}", id.oid);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

fn post_load(ctx: &Ctx) -> Result<(), Error> {
    let todos = mongo::collection(TODOS);
    let workers = ctx.worker_names();
    ensure!(!workers.is_empty(), "workers.json names no worker");
    let placeholders: Vec<Todo> = todos
        .find(json!({
            "taskId": ctx.task_id(),
            "$or": [{"uuid": UUID_PLACEHOLDER}, {"assignee": ASSIGNEE_PLACEHOLDER}],
        }))
        .sort(json!({"order": 1}))
        .all()?;
    for (i, todo) in placeholders.iter().enumerate() {
        let mut set = serde_json::Map::new();
        if todo.uuid == UUID_PLACEHOLDER {
            set.insert("uuid".into(), unique_uuid(&todo.id).into());
        }
        if todo.assignee == ASSIGNEE_PLACEHOLDER {
            set.insert("assignee".into(), workers[i % workers.len()].clone().into());
        }
        todos.update_one(json!({"_id": todo.id}), json!({"$set": set}))?;
    }
    ctx.info(format!(
        "todos: post-load rewrote the placeholders of {} todo(s)",
        placeholders.len()
    ));
    Ok(())
}

// pick-todo ----------------------------------------------------------------------------

fn pick_todo_prepare(ctx: &Ctx, _params: ()) -> Result<Option<Todo>, Error> {
    Ok(mongo::collection(TODOS)
        .find(json!({"taskId": ctx.task_id(), "status": "open"}))
        .sort(json!({"order": 1}))
        .limit(1)
        .all::<Todo>()?
        .into_iter()
        .next())
}

fn pick_todo_execute(ctx: &Ctx, _params: (), todo: Option<Todo>) -> Result<Outcome, Error> {
    fail_if_injected(ctx)?;
    let round = ctx.round();
    let Some(todo) = todo else {
        return Ok(Outcome::skip(format!("no open todo left in round {round}")));
    };
    let url = ctx.worker_endpoint(Some(&todo.assignee), "/greetings")?;
    let greeting = json!({
        "round": round,
        "from": ctx.worker(),
        "text": format!("todo {}: {}", todo.order, todo.title),
    });
    let created: Value = prometheus_step::post_json(&url, &greeting)?
        .expect_status(201)?
        .json()?;
    let greeting_id = created["id"]
        .as_str()
        .with_context(|| format!("POST {url}: the answer has no string `id`: {created}"))?;
    let updated = mongo::collection(TODOS).update_one(
        json!({"_id": todo.id, "status": "open"}),
        json!({"$set": {
            "status": "done",
            "greetingId": greeting_id,
            "doneRound": round,
            "doneBy": ctx.worker(),
        }}),
    )?;
    ensure!(
        updated.modified == 1,
        "todo {} (`{}`) was not updated: matched {}, modified {}",
        todo.order,
        todo.title,
        updated.matched,
        updated.modified
    );
    ctx.info(format!(
        "todo {} done: greeting {greeting_id} sent to {}",
        todo.order, todo.assignee
    ));
    Ok(Outcome::done(
        json!({"todo": todo.order, "greeting": greeting_id}),
    ))
}

// check-todo ---------------------------------------------------------------------------

fn check_todo_prepare(ctx: &Ctx, _params: ()) -> Result<Option<Todo>, Error> {
    mongo::collection(TODOS).find_one(json!({"taskId": ctx.task_id(), "doneRound": ctx.round()}))
}

/// A greeting as `GET /greetings/{id}` returns it.
#[derive(Deserialize)]
struct Greeting {
    text: String,
}

fn check_todo_execute(ctx: &Ctx, _params: (), todo: Option<Todo>) -> Result<Outcome, Error> {
    fail_if_injected(ctx)?;
    let round = ctx.round();
    let Some(todo) = todo else {
        return Ok(Outcome::skip(format!("no todo was done in round {round}")));
    };
    ensure!(
        todo.status == "done" && todo.done_round == Some(round),
        "todo {} is `{}` (done in round {:?}), expected done in round {round}",
        todo.order,
        todo.status,
        todo.done_round
    );
    let id = todo
        .greeting_id
        .as_deref()
        .with_context(|| format!("todo {} is done but has no greetingId", todo.order))?;
    let url = ctx.worker_endpoint(Some(&todo.assignee), &format!("/greetings/{id}"))?;
    let greeting: Greeting = prometheus_step::get(&url)?.expect_status(200)?.json()?;
    ensure!(
        greeting.text.contains(&todo.title),
        "greeting {id} says `{}`, not the title of todo {} (`{}`)",
        greeting.text,
        todo.order,
        todo.title
    );
    let done =
        mongo::collection(TODOS).count(json!({"taskId": ctx.task_id(), "status": "done"}))?;
    ensure!(
        done == u64::from(round),
        "{done} todo(s) done after round {round}, expected {round}"
    );
    Ok(Outcome::done(json!({"todo": todo.order, "done": done})))
}

// check-list ---------------------------------------------------------------------------

/// One line of the per-assignee report.
#[derive(Serialize, Deserialize)]
struct PerAssignee {
    #[serde(rename = "_id")]
    assignee: String,
    todos: u64,
}

fn check_list_execute(ctx: &Ctx, _params: (), _prepared: ()) -> Result<Outcome, Error> {
    fail_if_injected(ctx)?;
    let round = ctx.round();
    let task = ctx.task_id();
    let todos = mongo::collection(TODOS);
    let total = todos.count(json!({"taskId": task}))?;
    if u64::from(round) <= total {
        return Ok(Outcome::skip(format!(
            "the list is checked in the last round ({}), this is round {round}",
            total + 1
        )));
    }
    let open = todos.count(json!({"taskId": task, "status": {"$ne": "done"}}))?;
    ensure!(open == 0, "{open} of {total} todo(s) are not done");
    let placeholders = todos.count(json!({
        "taskId": task,
        "$or": [{"uuid": UUID_PLACEHOLDER}, {"assignee": ASSIGNEE_PLACEHOLDER}],
    }))?;
    ensure!(
        placeholders == 0,
        "{placeholders} todo(s) still hold a placeholder: did post-load run?"
    );
    let uuids: Vec<Value> = todos.aggregate(json!([
        {"$match": {"taskId": task}},
        {"$group": {"_id": "$uuid"}},
    ]))?;
    ensure!(
        uuids.len() as u64 == total,
        "{} distinct uuid(s) for {total} todo(s)",
        uuids.len()
    );
    let per_assignee: Vec<PerAssignee> = todos.aggregate(json!([
        {"$match": {"taskId": task}},
        {"$group": {"_id": "$assignee", "todos": {"$sum": 1}}},
        {"$sort": {"_id": 1}},
    ]))?;
    for line in &per_assignee {
        ctx.info(format!("{}: {} todo(s)", line.assignee, line.todos));
    }
    ctx.info(format!("check-list: all {total} todo(s) done"));
    Ok(Outcome::done(
        json!({"done": total, "per_assignee": per_assignee}),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_run_pick_then_check_then_the_list_check() {
        let names: Vec<_> = steps().names().map(str::to_owned).collect();
        assert_eq!(names, ["pick-todo", "check-todo", "check-list"]);
    }

    #[test]
    fn unique_uuid_is_uuid_shaped_and_starts_with_the_object_id() {
        let id = ObjectId {
            oid: "65a1b2c3d4e5f60718293a4b".into(),
        };
        let uuid = unique_uuid(&id);
        let groups: Vec<_> = uuid.split('-').map(str::len).collect();
        assert_eq!(groups, [8, 4, 4, 4, 12]);
        assert!(uuid.replace('-', "").starts_with(&id.oid));
    }
}
