//! One behaviour suite for both MongoDB backends: the embedded store, and a real
//! MongoDB-wire server (SecantusDB, started here). Each case runs on a database of its own.

#[path = "mongo/cases.rs"]
mod cases;

use std::sync::Arc;

use prometheus_wasm::error::UserFacing;
use prometheus_wasm::store::mongo::{self, Backend, Database, Update};

/// Runs every case against `open(case_index)`.
async fn run_suite<F, Fut>(open: F)
where
    F: Fn(usize, std::path::PathBuf) -> Fut,
    Fut: std::future::Future<Output = Arc<dyn Database>>,
{
    for (i, (name, case)) in cases::CASES.iter().enumerate() {
        let dir = tempfile::tempdir().unwrap();
        let db = open(i, dir.path().to_path_buf()).await;
        eprintln!("case {name} on {}", db.summary());
        case(db, dir.path().to_path_buf()).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn behaviour_suite_passes_on_the_embedded_store() {
    run_suite(|i, dir| async move {
        let backend = Backend::select(None, None, None, &dir);
        mongo::open(&backend, &format!("case{i}"), usize::MAX)
            .await
            .unwrap()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn behaviour_suite_passes_on_a_mongodb_server() {
    let server = system_tests::secantus::Secantus::start();
    let uri = server.uri.clone();
    run_suite(|i, _dir| {
        let uri = uri.clone();
        async move {
            let backend = Backend::select(Some(&uri), None, None, std::path::Path::new("."));
            mongo::open(&backend, &format!("case{i}"), usize::MAX)
                .await
                .unwrap()
        }
    })
    .await;
    drop(server);
}

#[tokio::test]
async fn unreachable_server_fails_naming_the_masked_uri() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let uri = format!("mongodb://alice:hunter22@127.0.0.1:{port}/?directConnection=true");
    let backend = Backend::select(None, Some(&uri), None, std::path::Path::new("."));
    let err = match mongo::open(&backend, "db", usize::MAX).await {
        Ok(_) => panic!("connected to a closed port"),
        Err(e) => e.to_string(),
    };
    assert!(
        err.contains(&format!("mongodb://alice:***@127.0.0.1:{port}/")),
        "{err}"
    );
    assert!(!err.contains("hunter22"), "{err}");
}

#[test]
fn flag_beats_env_beats_config_beats_embedded() {
    let dir = std::path::Path::new("/d");
    let remote = |b: Backend| match b {
        Backend::Remote { source, .. } => source,
        Backend::Embedded { .. } => "embedded",
    };
    assert_eq!(
        remote(Backend::select(
            Some("mongodb://f"),
            Some("mongodb://e"),
            Some("mongodb://c"),
            dir
        )),
        "--mongo-uri"
    );
    assert_eq!(
        remote(Backend::select(
            None,
            Some("mongodb://e"),
            Some("mongodb://c"),
            dir
        )),
        "MONGO_URI"
    );
    assert_eq!(
        remote(Backend::select(None, Some(""), Some("mongodb://c"), dir)),
        "mongodb.uri"
    );
    assert_eq!(
        Backend::select(None, None, None, dir),
        Backend::Embedded {
            dir: dir.join(mongo::EMBEDDED_DIR_NAME)
        }
    );
}

#[test]
fn malformed_data_file_is_reported_with_file_line_column() {
    let dir = tempfile::tempdir().unwrap();
    let files = [("todos.json", "[\n  {\"a\": 1},\n  {\"b\": }\n]")];
    std::fs::create_dir_all(dir.path().join("data")).unwrap();
    std::fs::write(dir.path().join("data/todos.json"), files[0].1).unwrap();
    std::fs::write(
        dir.path().join("workers.json"),
        r#"{"w": {"command": ["sh"]}}"#,
    )
    .unwrap();
    std::fs::write(
        dir.path().join("config.yaml"),
        format!(
            "mongodb:\n{}",
            "  collections:\n    todos:\n      data_file: todos.json\n"
        ),
    )
    .unwrap();
    let config =
        prometheus_wasm::config::load(&dir.path().join("config.yaml"), &Default::default())
            .unwrap();
    let err = prometheus_wasm::store::mongo::seed::SeedPlan::load(&config)
        .unwrap_err()
        .to_string();
    assert!(
        err.ends_with("data/todos.json:3:9: invalid JSON: expected value"),
        "{err}"
    );

    std::fs::write(dir.path().join("data/todos.json"), r#"[{"a": 1}, "text"]"#).unwrap();
    let err = prometheus_wasm::store::mongo::seed::SeedPlan::load(&config)
        .unwrap_err()
        .to_string();
    assert!(
        err.ends_with("item 2 of the list is a string, not an object"),
        "{err}"
    );
}

#[tokio::test]
async fn embedded_store_keeps_its_data_across_opens_and_refuses_what_it_does_not_support() {
    let dir = tempfile::tempdir().unwrap();
    let backend = Backend::select(None, None, None, dir.path());
    let db = mongo::open(&backend, "db", usize::MAX).await.unwrap();
    db.insert_many("todos", vec![bson::doc! {"n": 1i64, "f": 1.5}])
        .await
        .unwrap();
    drop(db);
    let db = mongo::open(&backend, "db", usize::MAX).await.unwrap();
    let docs = db
        .find("todos", bson::doc! {}, Default::default())
        .await
        .unwrap();
    assert_eq!(docs[0].get("n"), Some(&bson::Bson::Int64(1)));
    let err = db
        .find("todos", bson::doc! {"$where": "true"}, Default::default())
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "`$where` is not supported by the embedded store"
    );
    assert!(err.hint().unwrap().contains("set MONGO_URI"));
}

#[tokio::test]
async fn embedded_store_counts_every_write_against_its_budget() {
    let dir = tempfile::tempdir().unwrap();
    let backend = Backend::select(None, None, None, dir.path());
    let db = mongo::open(&backend, "db", 1 << 20).await.unwrap();
    let block = "x".repeat(100 << 10);
    let mut inserted = 0;
    let err = loop {
        match db
            .insert_many("flood", vec![bson::doc! {"s": &block}])
            .await
        {
            Ok(_) => inserted += 1,
            Err(e) => break e,
        }
        assert!(inserted < 20, "the budget never refused an insert");
    };
    assert_eq!(inserted, 10);
    assert!(
        err.to_string()
            .contains("past the embedded store limit of 1 MiB"),
        "{err}"
    );
    assert!(err.with_hint().contains("limits.store_max_mb"), "{err}");
    // Growth by update is counted too, and a refused update changes nothing.
    let grow = bson::doc! {"$set": {"t": &block}};
    let err = db
        .update("flood", bson::doc! {}, Update::Operators(grow), true, false)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("embedded store limit"), "{err}");
    let docs = db
        .find("flood", bson::doc! {}, Default::default())
        .await
        .unwrap();
    assert!(docs.iter().all(|d| !d.contains_key("t")));
    // Deleting frees room again.
    db.delete("flood", bson::doc! {}, true).await.unwrap();
    db.insert_many("flood", vec![bson::doc! {"s": &block}])
        .await
        .unwrap();
}

#[tokio::test]
async fn unwind_of_a_large_array_is_refused_before_it_multiplies_the_document() {
    let dir = tempfile::tempdir().unwrap();
    let backend = Backend::select(None, None, None, dir.path());
    let db = mongo::open(&backend, "db", usize::MAX).await.unwrap();
    // 120 KB of padding and 2000 elements: 240 MB if every copy were made.
    let doc = bson::doc! {"pad": "p".repeat(120_000), "items": (0..2000).collect::<Vec<i32>>()};
    db.insert_many("bomb", vec![doc]).await.unwrap();
    let err = db
        .aggregate("bomb", vec![bson::doc! {"$unwind": "$items"}])
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("$unwind would produce more than 100 MiB"),
        "{err}"
    );
    // Projected first, the same unwind fits.
    let docs = db
        .aggregate(
            "bomb",
            vec![
                bson::doc! {"$project": {"items": 1}},
                bson::doc! {"$unwind": "$items"},
            ],
        )
        .await
        .unwrap();
    assert_eq!(docs.len(), 2000);
    // Many accumulators over the large field are refused the same way.
    let mut group = bson::doc! {"_id": "$items"};
    for i in 0..10 {
        group.insert(format!("p{i}"), bson::doc! {"$push": "$pad"});
    }
    // 100 documents of 120 KB pushed 10 times: 120 MB.
    let many = (0..100)
        .map(|i| bson::doc! {"_id": i, "pad": "p".repeat(120_000)})
        .collect();
    db.insert_many("wide", many).await.unwrap();
    let err = db
        .aggregate("wide", vec![bson::doc! {"$group": group}])
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("$group would produce more than 100 MiB"),
        "{err}"
    );
}

#[tokio::test]
async fn a_reply_past_16_mib_is_refused_and_pages_still_work() {
    let dir = tempfile::tempdir().unwrap();
    let backend = Backend::select(None, None, None, dir.path());
    let db = mongo::open(&backend, "db", usize::MAX).await.unwrap();
    let block = "x".repeat(1 << 20);
    let docs = (0..20)
        .map(|i| bson::doc! {"_id": i, "s": &block})
        .collect();
    db.insert_many("big", docs).await.unwrap();
    for sort in [None, Some(bson::doc! {"_id": -1})] {
        let all = mongo::FindOptions {
            sort: sort.clone(),
            ..Default::default()
        };
        let err = db.find("big", bson::doc! {}, all).await.unwrap_err();
        assert!(err.to_string().contains("larger than 16 MiB"), "{err}");
        assert!(err.with_hint().contains("limit and skip"), "{err}");
        let page = mongo::FindOptions {
            sort,
            skip: Some(15),
            limit: Some(5),
            ..Default::default()
        };
        assert_eq!(db.find("big", bson::doc! {}, page).await.unwrap().len(), 5);
    }
    let err = db
        .aggregate("big", vec![bson::doc! {"$match": {}}])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("larger than 16 MiB"), "{err}");
    let page = vec![bson::doc! {"$skip": 15}, bson::doc! {"$limit": 5}];
    assert_eq!(db.aggregate("big", page).await.unwrap().len(), 5);
}
