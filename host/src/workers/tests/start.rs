//! `Fleet::start`: readiness, output forwarding and every way a start can fail.

use crate::error::UserFacing;

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;

use super::support::{
    RecordingSink, assert_all_gone, assert_no_survivors, free_port, http_server, new_tag, options,
    sh, spec,
};
use crate::workers::{Fleet, Stream, SupervisorOptions, WorkerErrorKind};

#[tokio::test]
async fn http_server_becomes_ready_and_its_lines_reach_the_sink() {
    let (tag, port) = (new_tag(), free_port());
    let sink = Arc::new(RecordingSink::default());
    let fleet = Fleet::start(
        vec![http_server(&tag, "web", port, "")],
        options(),
        sink.clone(),
    )
    .await
    .expect("the server starts");

    let mut client = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("a ready worker accepts connections");
    client
        .write_all(b"GET / HTTP/1.0\r\n\r\n")
        .await
        .expect("send a request");
    sink.line_containing("web", Stream::Stdout, "Serving HTTP")
        .await;
    sink.line_containing("web", Stream::Stderr, "\"GET / HTTP/1.0\" 200")
        .await;

    let pids: Vec<u32> = fleet.pids().into_iter().map(|(_, pid)| pid).collect();
    fleet.stop().await;
    assert_all_gone(&pids).await;
    assert!(
        sink.exits().is_empty(),
        "stop reported exits: {:?}",
        sink.exits()
    );
}

#[tokio::test]
async fn worker_exiting_at_start_is_reported_with_status_and_stderr() {
    let tag = new_tag();
    let sink = Arc::new(RecordingSink::default());
    let script = "echo boom >&2; exit 3";
    let error = Fleet::start(
        vec![sh(&tag, "crashy", free_port(), script)],
        options(),
        sink,
    )
    .await
    .expect_err("the worker exits");

    assert!(
        matches!(error.kind(), WorkerErrorKind::ExitedAtStart { .. }),
        "{error}"
    );
    assert_eq!(error.worker(), "crashy");
    let message = error.to_string();
    assert!(message.contains("`crashy`"), "{message}");
    assert!(message.contains("exit status: 3"), "{message}");
    assert!(message.contains("boom"), "{message}");
}

#[tokio::test]
async fn worker_that_never_listens_is_not_ready_after_the_timeout() {
    let (tag, port) = (new_tag(), free_port());
    let sink = Arc::new(RecordingSink::default());
    let options = SupervisorOptions {
        startup_timeout: Duration::from_millis(300),
        ..options()
    };
    let script = "echo warming up; exec sleep 1000";
    let error = Fleet::start(vec![sh(&tag, "sleepy", port, script)], options, sink)
        .await
        .expect_err("the worker never listens");

    let WorkerErrorKind::NotReady { port: polled, .. } = error.kind() else {
        panic!("expected NotReady, got {error}");
    };
    assert_eq!(*polled, port);
    assert!(error.to_string().contains(&port.to_string()), "{error}");
    assert!(error.to_string().contains("300ms"), "{error}");
    assert!(error.hint().expect("a hint").contains("startup_timeout"));
    assert_no_survivors(&tag).await;
}

#[tokio::test]
async fn busy_port_fails_before_anything_is_spawned() {
    let tag = new_tag();
    let busy = TcpListener::bind("127.0.0.1:0").expect("bind a port");
    let port = busy.local_addr().expect("an address").port();
    let marker = std::env::temp_dir().join(format!("prometheus-wasm-test-{tag}"));
    let touch = format!("touch {}; exec sleep 1000", marker.display());
    let specs = vec![
        sh(&tag, "first", free_port(), &touch),
        sh(&tag, "second", port, &touch),
    ];
    let sink = Arc::new(RecordingSink::default());
    let error = Fleet::start(specs, options(), sink)
        .await
        .expect_err("the port is busy");

    assert!(matches!(error.kind(), WorkerErrorKind::PortInUse { port: p } if *p == port));
    assert_eq!(error.worker(), "second");
    let hint = error.hint().expect("a hint");
    assert!(hint.contains(&format!("port {port}")), "{hint}");
    assert!(hint.contains("base_port/port in workers.json"), "{hint}");
    assert!(!marker.exists(), "a worker was spawned");
    assert!(super::support::tagged_processes(&tag).is_empty());
}

#[tokio::test]
async fn two_workers_on_one_port_are_refused() {
    let (tag, port) = (new_tag(), free_port());
    let specs = vec![
        sh(&tag, "one", port, "exec sleep 1000"),
        sh(&tag, "two", port, "exec sleep 1000"),
    ];
    let sink = Arc::new(RecordingSink::default());
    let error = Fleet::start(specs, options(), sink)
        .await
        .expect_err("ports clash");

    assert!(matches!(error.kind(), WorkerErrorKind::DuplicatePort { other, .. } if other == "one"));
    assert_eq!(error.worker(), "two");
    assert!(super::support::tagged_processes(&tag).is_empty());
}

#[tokio::test]
async fn unknown_program_is_refused_before_anything_is_spawned() {
    let tag = new_tag();
    let program = "prometheus-wasm-no-such-program";
    let specs = vec![
        sh(&tag, "before", free_port(), "exec sleep 1000"),
        spec(&tag, "ghost", free_port(), program, &[]),
    ];
    let sink = Arc::new(RecordingSink::default());
    let error = Fleet::start(specs, options(), sink)
        .await
        .expect_err("nothing to run");

    assert!(
        matches!(error.kind(), WorkerErrorKind::ProgramNotFound { .. }),
        "{error}"
    );
    assert!(error.to_string().contains(program), "{error}");
    assert!(error.to_string().contains("`ghost`"), "{error}");
    assert!(error.hint().expect("a hint").contains("PATH"));
    assert!(super::support::tagged_processes(&tag).is_empty());
}

#[tokio::test]
async fn a_program_failing_at_exec_stops_the_workers_already_started() {
    let tag = new_tag();
    // Passes the preflight (an executable file) but the kernel cannot execute it: the
    // interpreter named by its shebang does not exist.
    let dir = tempfile::tempdir().expect("a temporary directory");
    let script = dir.path().join("server");
    std::fs::write(&script, "#!/nonexistent/interpreter\n").expect("write the script");
    let mut permissions = std::fs::metadata(&script).expect("metadata").permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
    std::fs::set_permissions(&script, permissions).expect("chmod");
    let program = script.display().to_string();
    let specs = vec![
        sh(&tag, "before", free_port(), "exec sleep 1000"),
        spec(&tag, "ghost", free_port(), &program, &[]),
    ];
    let sink = Arc::new(RecordingSink::default());
    let error = Fleet::start(specs, options(), sink)
        .await
        .expect_err("nothing to run");

    assert!(
        matches!(error.kind(), WorkerErrorKind::Spawn { .. }),
        "{error}"
    );
    assert!(error.to_string().contains("`ghost`"), "{error}");
    assert!(std::error::Error::source(&error).is_some());
    assert_no_survivors(&tag).await;
}

#[tokio::test]
async fn one_failing_worker_stops_the_healthy_ones() {
    let tag = new_tag();
    let (a, b, c) = (free_port(), free_port(), free_port());
    // The failing worker dies only once both others listen, so they surely ran.
    let fail_later = format!(
        "import socket, sys, time\n\
         for port in ({a}, {c}):\n\
         \x20   while socket.socket().connect_ex(('127.0.0.1', port)):\n\
         \x20       time.sleep(0.01)\n\
         print('boom', file=sys.stderr)\n\
         sys.exit(3)\n"
    );
    let specs = vec![
        http_server(&tag, "alpha", a, "echo pid=$$;"),
        spec(&tag, "bravo", b, "python3", &["-c", &fail_later]),
        http_server(&tag, "charlie", c, "echo pid=$$;"),
    ];
    let sink = Arc::new(RecordingSink::default());
    let error = Fleet::start(specs, options(), sink.clone())
        .await
        .expect_err("bravo fails");

    assert_eq!(error.worker(), "bravo");
    assert!(
        matches!(error.kind(), WorkerErrorKind::ExitedAtStart { .. }),
        "{error}"
    );
    assert!(error.to_string().contains("boom"), "{error}");
    let alpha = sink.printed_pid("alpha", "pid").await;
    let charlie = sink.printed_pid("charlie", "pid").await;
    assert_all_gone(&[alpha, charlie]).await;
    assert_no_survivors(&tag).await;
    assert!(
        sink.exits().is_empty(),
        "stopping reported exits: {:?}",
        sink.exits()
    );
}

#[tokio::test]
async fn no_workers_is_an_empty_fleet() {
    let sink = Arc::new(RecordingSink::default());
    let fleet = Fleet::start(Vec::new(), options(), sink)
        .await
        .expect("nothing to start");
    assert!(fleet.pids().is_empty());
    fleet.stop().await;
}

#[test]
fn fleet_and_its_start_can_move_between_threads() {
    fn assert_send<T: Send>(_: &T) {}
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Fleet>();
    let sink = Arc::new(RecordingSink::default());
    assert_send(&Fleet::start(Vec::new(), options(), sink));
}
