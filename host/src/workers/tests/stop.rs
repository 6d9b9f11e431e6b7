//! Stopping: TERM then KILL, `Drop`, the parent-death signal, and exits during the run.

use std::sync::Arc;

use super::support::{
    RecordingSink, assert_all_gone, assert_no_survivors, free_port, http_server, new_tag, options,
    spec,
};
use crate::workers::Fleet;

/// Starts a background `sleep` (the grandchild) and prints its pid before the server runs.
const WITH_GRANDCHILD: &str = "sleep 1000 & echo grandchild=$!;";

#[tokio::test]
async fn stop_kills_a_worker_ignoring_sigterm_and_its_grandchild() {
    let (tag, port) = (new_tag(), free_port());
    let sink = Arc::new(RecordingSink::default());
    // `trap "" TERM` makes the shell, the background sleep and the exec'd server ignore
    // SIGTERM: only the SIGKILL after the grace period can end them.
    let prelude = format!("trap '' TERM; {WITH_GRANDCHILD}");
    let fleet = Fleet::start(
        vec![http_server(&tag, "stubborn", port, &prelude)],
        options(),
        sink.clone(),
    )
    .await
    .expect("the server starts");
    let leader = fleet.pids()[0].1;
    let grandchild = sink.printed_pid("stubborn", "grandchild").await;

    fleet.stop().await;

    assert_all_gone(&[leader, grandchild]).await;
    assert_no_survivors(&tag).await;
    assert!(
        sink.exits().is_empty(),
        "stop reported exits: {:?}",
        sink.exits()
    );
}

#[tokio::test]
async fn dropping_a_fleet_kills_its_process_groups() {
    let (tag, port) = (new_tag(), free_port());
    let sink = Arc::new(RecordingSink::default());
    let fleet = Fleet::start(
        vec![http_server(&tag, "dropped", port, WITH_GRANDCHILD)],
        options(),
        sink.clone(),
    )
    .await
    .expect("the server starts");
    let leader = fleet.pids()[0].1;
    let grandchild = sink.printed_pid("dropped", "grandchild").await;

    drop(fleet);

    assert_all_gone(&[leader, grandchild]).await;
    assert_no_survivors(&tag).await;
    assert!(
        sink.exits().is_empty(),
        "a drop reported exits: {:?}",
        sink.exits()
    );
}

#[test]
fn workers_die_when_the_thread_that_spawned_them_exits() {
    let (tag, port) = (new_tag(), free_port());
    let worker = http_server(&tag, "orphan", port, "");
    // A runner SIGKILLed mid-run never runs Drop; forgetting the fleet and its runtime on
    // a thread that then ends is the closest a test can get.
    let leader = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let sink = Arc::new(RecordingSink::default());
        let fleet = runtime
            .block_on(Fleet::start(vec![worker], options(), sink))
            .expect("the server starts");
        let leader = fleet.pids()[0].1;
        std::mem::forget(fleet);
        std::mem::forget(runtime);
        leader
    })
    .join()
    .expect("the spawning thread ends");

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(assert_all_gone(&[leader]));
}

#[tokio::test]
async fn worker_exiting_after_ready_is_reported_to_the_sink() {
    let (tag, port) = (new_tag(), free_port());
    // Listens, answers the readiness probe, then exits with status 4.
    let script = format!(
        "import socket, sys\n\
         server = socket.socket()\n\
         server.bind(('127.0.0.1', {port}))\n\
         server.listen()\n\
         server.accept()[0].close()\n\
         print('leaving')\n\
         sys.exit(4)\n"
    );
    let sink = Arc::new(RecordingSink::default());
    let fleet = Fleet::start(
        vec![spec(&tag, "quitter", port, "python3", &["-c", &script])],
        options(),
        sink.clone(),
    )
    .await
    .expect("the worker gets ready");
    let mut deaths = fleet.deaths();
    let death = tokio::time::timeout(super::support::PATIENCE, deaths.died())
        .await
        .expect("the death is published");
    assert_eq!(death.worker, "quitter");
    assert_eq!(death.status, "exit status: 4");
    assert_eq!(death.stdout, vec!["leaving".to_owned()]);
    assert_eq!(deaths.first(), Some(death));

    let exits = super::support::eventually(|| {
        let exits = sink.exits();
        (!exits.is_empty()).then_some(exits)
    })
    .await
    .expect("the exit is reported");
    assert_eq!(
        exits,
        vec![("quitter".to_owned(), "exit status: 4".to_owned())]
    );
    sink.line_containing("quitter", crate::workers::Stream::Stdout, "leaving")
        .await;

    fleet.stop().await;
    assert_eq!(
        sink.exits().len(),
        1,
        "stop reported again: {:?}",
        sink.exits()
    );
    assert_no_survivors(&tag).await;
}

#[tokio::test]
async fn a_hurried_stop_kills_at_once_and_a_stop_reports_no_death() {
    let (tag, port) = (new_tag(), free_port());
    let sink = Arc::new(RecordingSink::default());
    let prelude = format!("trap '' TERM; {WITH_GRANDCHILD}");
    let long_grace = crate::workers::SupervisorOptions {
        grace: std::time::Duration::from_secs(600),
        ..options()
    };
    let fleet = Fleet::start(
        vec![http_server(&tag, "stubborn", port, &prelude)],
        long_grace,
        sink.clone(),
    )
    .await
    .expect("the server starts");
    let deaths = fleet.deaths();
    let grandchild = sink.printed_pid("stubborn", "grandchild").await;

    // The hurry comes at once: without it, this would wait out the 600 s grace.
    let stopped = tokio::time::timeout(
        super::support::PATIENCE,
        fleet.stop_or_kill(std::future::ready(())),
    )
    .await;
    assert_eq!(stopped, Ok(true), "the grace period was not cut short");
    assert_all_gone(&[grandchild]).await;
    assert_no_survivors(&tag).await;
    assert_eq!(deaths.first(), None, "a stop is not a death");
}

#[tokio::test]
async fn settle_waits_for_a_dying_worker_only() {
    let (tag, port) = (new_tag(), free_port());
    let sink = Arc::new(RecordingSink::default());
    let fleet = Fleet::start(
        vec![http_server(&tag, "victim", port, "")],
        options(),
        sink.clone(),
    )
    .await
    .expect("the server starts");
    let mut deaths = fleet.deaths();
    // Nobody is dying: no wait (a patience of 600 s would outlast the 30 s bound).
    let patience = std::time::Duration::from_secs(600);
    let settled = tokio::time::timeout(super::support::PATIENCE / 2, deaths.settle(patience)).await;
    assert_eq!(settled, Ok(None), "settle waited with no worker dying");
    assert!(!deaths.dying());

    let pid = fleet.pids()[0].1;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .expect("kill the worker");
    super::support::eventually(|| deaths.dying().then_some(()))
        .await
        .expect("the kernel says the worker is dying");
    let death = tokio::time::timeout(super::support::PATIENCE, deaths.settle(patience))
        .await
        .expect("settle returns once the death is published")
        .expect("a death");
    assert_eq!(death.worker, "victim");
    assert!(death.status.contains("SIGKILL"), "{death:?}");

    fleet.stop().await;
    assert_no_survivors(&tag).await;
}
