//! The cases of the behaviour suite: each takes a fresh database and a scratch directory.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;

use prometheus_wasm::config::{self, TestConfig};
use prometheus_wasm::plugin::MongoCtx;
use prometheus_wasm::plugin::bindings::prometheus::step::mongo::{FindOptions, Host};
use prometheus_wasm::plugin::mongo::MongoView;
use prometheus_wasm::store::mongo::Database;
use prometheus_wasm::store::mongo::seed::SeedPlan;
use serde_json::{Value, json};

type Case = fn(Arc<dyn Database>, PathBuf) -> Pin<Box<dyn Future<Output = ()> + Send>>;

/// Every case, named by the behaviour it checks.
pub const CASES: &[(&str, Case)] = &[
    (
        "seeding_tags_documents_and_empties_collections_first",
        |db, dir| Box::pin(seeding(db, dir)),
    ),
    (
        "required_count_decides_whether_the_data_is_seeded",
        |db, dir| Box::pin(required(db, dir)),
    ),
    ("rounds_are_the_task_documents_plus_one", |db, dir| {
        Box::pin(rounds(db, dir))
    }),
    ("every_mongo_call_works_with_extended_json", |db, _| {
        Box::pin(calls(db))
    }),
    (
        "other_databases_and_system_collections_are_refused",
        |db, _| Box::pin(sandbox(db)),
    ),
    ("bad_guest_input_is_an_error_value", |db, _| {
        Box::pin(bad_input(db))
    }),
    (
        "documents_past_mongodb_limits_are_refused_before_they_are_stored_or_sent",
        |db, _| Box::pin(document_limits(db)),
    ),
];

/// A test folder with `mongodb:` as given and data files `files` in data/.
fn test_config(dir: &Path, mongodb: &str, extra: &str, files: &[(&str, &str)]) -> TestConfig {
    std::fs::create_dir_all(dir.join("data")).unwrap();
    for (name, text) in files {
        std::fs::write(dir.join("data").join(name), text).unwrap();
    }
    std::fs::write(dir.join("workers.json"), r#"{"w": {"command": ["sh"]}}"#).unwrap();
    std::fs::write(
        dir.join("config.yaml"),
        format!("task_id: t1\n{extra}mongodb:\n{mongodb}"),
    )
    .unwrap();
    config::load(&dir.join("config.yaml"), &BTreeMap::new()).expect("test config loads")
}

const TODOS: &str = "  collections:\n    todos:\n      data_file: todos.json\n      required_count: 2\n    audits: {}\n";

async fn seeding(db: Arc<dyn Database>, dir: PathBuf) {
    let config = test_config(
        &dir,
        TODOS,
        "",
        &[(
            "todos.json",
            r#"[{"title": "a", "taskId": "other"}, {"title": "b", "when": {"$date": "2025-01-02T03:04:05Z"}}]"#,
        )],
    );
    db.insert_many("audits", vec![bson::doc! {"stale": true}])
        .await
        .unwrap();
    db.insert_many("todos", vec![bson::doc! {"stale": true}])
        .await
        .unwrap();
    let plan = SeedPlan::load(&config).unwrap();
    let seeded = plan.seed(&*db).await.unwrap();
    assert_eq!(seeded, vec![("todos".to_string(), 2)]);
    assert_eq!(db.count("audits", bson::doc! {}).await.unwrap(), 0);
    let docs = db
        .find("todos", bson::doc! {}, Default::default())
        .await
        .unwrap();
    assert_eq!(docs.len(), 2);
    assert!(docs.iter().all(|d| d.get_str("taskId") == Ok("t1")));
    assert!(matches!(docs[1].get("when"), Some(bson::Bson::DateTime(_))));
}

async fn required(db: Arc<dyn Database>, dir: PathBuf) {
    let config = test_config(
        &dir,
        TODOS,
        "",
        &[("todos.json", r#"{"title": "only one"}"#)],
    );
    let plan = SeedPlan::load(&config).unwrap();
    let before = plan
        .unmet_requirement(&*db)
        .await
        .unwrap()
        .expect("empty database is unmet");
    assert!(
        before.contains("`todos` holds 0 document(s) of task t1, 2 required"),
        "{before}"
    );
    plan.seed(&*db).await.unwrap();
    // A single object is one document: still short of 2.
    assert!(plan.unmet_requirement(&*db).await.unwrap().is_some());
    db.insert_many("todos", vec![bson::doc! {"taskId": "t1"}])
        .await
        .unwrap();
    assert_eq!(plan.unmet_requirement(&*db).await.unwrap(), None);
}

async fn rounds(db: Arc<dyn Database>, dir: PathBuf) {
    let config = test_config(&dir, TODOS, "", &[("todos.json", "[{}, {}, {}]")]);
    let plan = SeedPlan::load(&config).unwrap();
    let missing = plan.rounds(&*db).await.unwrap_err().to_string();
    assert!(
        missing.contains("rounds_collection `todos` does not exist"),
        "{missing}"
    );
    plan.seed(&*db).await.unwrap();
    db.insert_many("todos", vec![bson::doc! {"taskId": "another task"}])
        .await
        .unwrap();
    assert_eq!(plan.rounds(&*db).await.unwrap(), 4);
    let fixed = test_config(&dir, TODOS, "max_rounds: 7\n", &[]);
    assert_eq!(
        SeedPlan::load(&fixed).unwrap().rounds(&*db).await.unwrap(),
        7
    );
}

fn opts() -> FindOptions {
    FindOptions {
        sort: None,
        limit: None,
        skip: None,
        projection: None,
    }
}

fn parse(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

async fn calls(db: Arc<dyn Database>) {
    let ctx = MongoCtx::new(db);
    let rec = prometheus_wasm::plugin::Recorder::quiet();
    let mut m = MongoView::new(&ctx, &rec);
    let oid = r#"{"$oid": "65a1b2c3d4e5f60718293a4b"}"#;
    let id = m.insert_one("todos".into(), format!(r#"{{"_id": {oid}, "n": 1, "tags": ["x"], "at": {{"$date": {{"$numberLong": "1700000000000"}}}}}}"#)).await.unwrap().unwrap();
    assert_eq!(parse(&id), parse(oid));
    let ids = m
        .insert_many(
            "todos".into(),
            r#"[{"n": 2, "tags": ["x", "y"]}, {"n": 3}]"#.into(),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ids.len(), 2);
    let dup = m
        .insert_one("todos".into(), format!(r#"{{"_id": {oid}}}"#))
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(dup.code, Some(11000));

    let found = m
        .find(
            "todos".into(),
            r#"{"tags": "x"}"#.into(),
            FindOptions {
                sort: Some(r#"{"n": -1}"#.into()),
                limit: Some(5),
                skip: Some(0),
                projection: Some(r#"{"n": 1, "_id": 0}"#.into()),
            },
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        found.iter().map(|d| parse(d)).collect::<Vec<_>>(),
        vec![json!({"n": 2}), json!({"n": 1})]
    );
    let one = m
        .find_one("todos".into(), format!(r#"{{"_id": {oid}}}"#), opts())
        .await
        .unwrap()
        .unwrap()
        .expect("found");
    let one = parse(&one);
    assert_eq!(one["_id"], parse(oid));
    assert_eq!(one["at"], json!({"$date": "2023-11-14T22:13:20Z"}));
    let skipped = m
        .find(
            "todos".into(),
            "{}".into(),
            FindOptions {
                sort: Some(r#"{"n": 1}"#.into()),
                skip: Some(2),
                ..opts()
            },
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(parse(&skipped[0])["n"], json!(3));

    let r = m
        .update_one(
            "todos".into(),
            r#"{"n": {"$gte": 2}}"#.into(),
            r#"{"$set": {"done": true}, "$inc": {"n": 10}}"#.into(),
            false,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!((r.matched, r.modified, r.upserted_id), (1, 1, None));
    let r = m
        .update_many(
            "todos".into(),
            r#"{"done": {"$exists": false}}"#.into(),
            r#"{"$push": {"tags": "z"}}"#.into(),
            false,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!((r.matched, r.modified), (2, 2));
    let r = m
        .update_one(
            "todos".into(),
            r#"{"name": "new"}"#.into(),
            r#"{"$set": {"n": 99}}"#.into(),
            true,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.matched, 0);
    assert!(r.upserted_id.is_some());
    assert_eq!(
        m.count_documents("todos".into(), r#"{"name": "new", "n": 99}"#.into())
            .await
            .unwrap()
            .unwrap(),
        1
    );
    let r = m
        .replace_one(
            "todos".into(),
            r#"{"name": "new"}"#.into(),
            r#"{"name": "replaced"}"#.into(),
            false,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!((r.matched, r.modified), (1, 1));

    let groups = m.aggregate("todos".into(), r#"[{"$match": {"n": {"$lt": 50}}}, {"$group": {"_id": null, "total": {"$sum": "$n"}, "count": {"$sum": 1}}}]"#.into()).await.unwrap().unwrap();
    assert_eq!(
        groups.iter().map(|d| parse(d)).collect::<Vec<_>>(),
        vec![json!({"_id": null, "total": 16, "count": 3})]
    );

    assert_eq!(
        m.delete_one("todos".into(), r#"{"tags": "z"}"#.into())
            .await
            .unwrap()
            .unwrap(),
        1
    );
    assert_eq!(
        m.delete_many("todos".into(), "{}".into())
            .await
            .unwrap()
            .unwrap(),
        3
    );
    assert_eq!(
        m.count_documents("todos".into(), "{}".into())
            .await
            .unwrap()
            .unwrap(),
        0
    );
}

async fn sandbox(db: Arc<dyn Database>) {
    let ctx = MongoCtx::new(db);
    let rec = prometheus_wasm::plugin::Recorder::quiet();
    let mut m = MongoView::new(&ctx, &rec);
    let e = m
        .aggregate(
            "todos".into(),
            r#"[{"$out": {"db": "admin", "coll": "x"}}]"#.into(),
        )
        .await
        .unwrap()
        .unwrap_err();
    assert!(
        e.message
            .contains("database `admin` is not this test's database"),
        "{}",
        e.message
    );
    let e = m
        .aggregate(
            "todos".into(),
            r#"[{"$merge": {"into": {"db": "other", "coll": "x"}}}]"#.into(),
        )
        .await
        .unwrap()
        .unwrap_err();
    assert!(e.message.contains("database `other`"), "{}", e.message);
    let e = m
        .find("system.users".into(), "{}".into(), opts())
        .await
        .unwrap()
        .unwrap_err();
    assert!(e.message.contains("system collection"), "{}", e.message);
}

async fn bad_input(db: Arc<dyn Database>) {
    let ctx = MongoCtx::new(db);
    let rec = prometheus_wasm::plugin::Recorder::quiet();
    let mut m = MongoView::new(&ctx, &rec);
    let e = m
        .find(
            "todos".into(),
            r#"{"_id": {"$oid": "not-hex"}}"#.into(),
            opts(),
        )
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(e.code, None);
    assert!(
        e.message.contains("filter is not valid Extended JSON"),
        "{}",
        e.message
    );
    let e = m
        .count_documents("todos".into(), "{nope".into())
        .await
        .unwrap()
        .unwrap_err();
    assert!(
        e.message.contains("filter is not valid JSON"),
        "{}",
        e.message
    );
    let e = m
        .insert_many("todos".into(), "[1]".into())
        .await
        .unwrap()
        .unwrap_err();
    assert!(
        e.message.contains("item 1 must be a JSON object"),
        "{}",
        e.message
    );
}

async fn document_limits(db: Arc<dyn Database>) {
    let ctx = MongoCtx::new(db);
    let rec = prometheus_wasm::plugin::Recorder::quiet();
    let mut m = MongoView::new(&ctx, &rec);
    let big = format!(r#"{{"s": "{}"}}"#, "x".repeat(17 << 20));
    let e = m
        .insert_one("limits".into(), big.clone())
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(e.code, Some(10334), "{}", e.message);
    assert!(
        e.message.contains("document limit of 16 MiB"),
        "{}",
        e.message
    );
    let e = m
        .insert_many("limits".into(), format!(r#"[{{"a": 1}}, {big}]"#))
        .await
        .unwrap()
        .unwrap_err();
    assert!(e.message.starts_with("document 2 is "), "{}", e.message);
    let e = m
        .replace_one("limits".into(), "{}".into(), big, true)
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(e.code, Some(10334), "{}", e.message);
    // 101 levels: one more than MongoDB allows.
    let deep = (0..101).fold("1".to_string(), |v, _| format!(r#"{{"a": {v}}}"#));
    let e = m
        .insert_one("limits".into(), deep)
        .await
        .unwrap()
        .unwrap_err();
    assert!(e.message.contains("101 levels deep"), "{}", e.message);
    // Many tiny documents in one call: refused before parsing, not held as millions of values.
    let many = format!("[{}{{}}]", "{},".repeat(1 << 20));
    let e = m
        .insert_many("limits".into(), many)
        .await
        .unwrap()
        .unwrap_err();
    assert!(
        e.message.contains("more than one call may hand over"),
        "{}",
        e.message
    );
    // Nothing of the refused calls was stored.
    let n = m
        .count_documents("limits".into(), "{}".into())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(n, 0);
}
