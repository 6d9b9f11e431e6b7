//! Record and replay on real processes: a failing step recorded against real
//! `hello-worker` processes, replayed with no worker running (the same failure), replayed
//! with a fixed build (passes up to the recording's end) and with a build that sends
//! another request (the first divergent call named, bodies diffed); a Python step
//! recorded and replayed; the todos example's MongoDB steps replayed with the store gone;
//! a secret masked in the recording yet replayed; a rebuilt package replayed from the
//! code cache; damaged, foreign and newer recordings refused.
//!
//! Components: `replay_greeter{,_fixed,_other}` and `todos_steps` (`scripts/build-components.sh`),
//! `hello_python` (`scripts/build-polyglot.sh`).

use std::path::PathBuf;

use serde_json::Value;
use system_tests::{RunOutput, TestDir, component, polyglot_component};

/// The recording a run of `t` wrote (data_dir is `tests/data`).
fn recording(t: &TestDir) -> PathBuf {
    t.tests().join("data/recording.jsonl")
}

/// The recording's step lines, parsed.
fn recorded_steps(t: &TestDir) -> Vec<Value> {
    std::fs::read_to_string(recording(t))
        .expect("the failed run wrote a recording")
        .lines()
        .skip(1)
        .map(|l| serde_json::from_str(l).expect("a step line is JSON"))
        .collect()
}

/// The greeter's failed run, recorded; the workers are stopped when it returns.
fn failed_greeter_run() -> (TestDir, RunOutput) {
    let t = TestDir::example("hello", &component("replay_greeter"));
    let out = t.run_steps(&[]);
    assert_eq!(out.code(), 1, "{out}");
    assert!(
        out.stdout
            .contains("greeting worker1-1 is from \"worker1\", expected worker2"),
        "{out}"
    );
    (t, out)
}

#[test]
fn a_failed_step_is_recorded_and_replays_to_the_same_failure_without_workers() {
    let (t, out) = failed_greeter_run();
    let path = recording(&t);
    // The failure names the file and the exact command.
    let command = format!(
        "replay it without workers: prometheus-wasm replay {} --step greet --round 1",
        path.display()
    );
    assert!(out.stdout.contains(&command), "{out}");

    // Every host call of the step, in order, with its answer.
    let steps = recorded_steps(&t);
    assert_eq!(steps.len(), 1, "only the failed step is kept by default");
    let ops: Vec<&str> = steps[0]["calls"]
        .as_array()
        .expect("calls")
        .iter()
        .map(|c| c["op"].as_str().expect("op"))
        .collect();
    assert_eq!(
        ops,
        [
            "log.log",
            "worker.get",
            "state.current_round",
            "worker.env",
            "http.send",
            "worker.get",
            "http.send"
        ]
    );
    let post = &steps[0]["calls"][4];
    assert_eq!(post["args"]["request"]["method"], "POST");
    assert_eq!(post["result"]["Ok"]["status"], 201);
    assert!(
        post["result"]["Ok"]["body"]
            .as_str()
            .is_some_and(|b| b.contains("\"id\":\"worker1-1\"")),
        "an HTTP body is kept as text: {post}"
    );
    // The wall clock the guest read is recorded (its text holds the time).
    assert_eq!(steps[0]["clock"]["wall"].as_array().map(Vec::len), Some(1));

    // No worker is running now: the replay is answered from the recording alone.
    let replay = t.run(&["replay", &path.display().to_string(), "-vv"]);
    assert_eq!(replay.code(), 1, "{replay}");
    assert!(
        replay.stdout.contains(
            "greet failed (6 of 6 recorded call(s) matched; the same failure as recorded): \
             execute returned an error: greeting worker1-1 is from \"worker1\", expected worker2"
        ),
        "{replay}"
    );
    // -vv shows each host call as the recording answered it, in order.
    let get = replay.stdout.find("→ http GET ").expect("the GET is shown");
    let post = replay
        .stdout
        .find("→ http POST ")
        .expect("the POST is shown");
    assert!(post < get, "{replay}");
    assert!(
        replay.stdout.contains("/greetings -> 201 Created"),
        "{replay}"
    );
}

#[test]
fn the_fixed_build_passes_up_to_the_end_of_the_recording() {
    let (t, _) = failed_greeter_run();
    let fixed = component("replay_greeter_fixed");
    let out = t.run(&[
        "replay",
        &recording(&t).display().to_string(),
        "--package",
        &fixed.display().to_string(),
    ]);
    assert_eq!(out.code(), 0, "{out}");
    assert!(
        out.stdout.contains(
            "✓ greet: passed up to the end of the recording (6 of 6 recorded call(s) matched); \
             then it made a call the recorded run did not: replay went past the end of the \
             recording at call #7: state.set greeted"
        ),
        "{out}"
    );
}

#[test]
fn a_diverging_build_names_the_first_divergent_call_and_diffs_the_bodies() {
    let (t, _) = failed_greeter_run();
    let other = component("replay_greeter_other");
    let out = t.run(&[
        "replay",
        &recording(&t).display().to_string(),
        "--package",
        &other.display().to_string(),
    ]);
    assert_eq!(out.code(), 1, "{out}");
    let port = t.base_port();
    assert!(
        out.stdout.contains(&format!(
            "replay diverged at call #4: recorded http.send POST http://localhost:{port}/greetings, \
             new http.send POST http://localhost:{port}/greetings"
        )),
        "{out}"
    );
    assert!(
        out.stdout.contains("-       \"text\": \"hello at "),
        "{out}"
    );
    assert!(
        out.stdout.contains("+       \"text\": \"bonjour at "),
        "{out}"
    );
}

#[test]
fn recording_all_keeps_passing_steps_and_off_keeps_none() {
    let t = TestDir::example("hello", &component("replay_greeter_fixed"));
    let out = t.run_steps(&["--record", "all"]);
    assert_eq!(out.code(), 0, "{out}");
    let steps = recorded_steps(&t);
    assert_eq!(steps.len(), 2, "both rounds' greet steps");
    assert_eq!(steps[1]["round"], 2);
    assert_eq!(steps[1]["failed"], false);
    // A passing step replays to its end.
    let replay = t.run(&[
        "replay",
        &recording(&t).display().to_string(),
        "--round",
        "2",
    ]);
    assert_eq!(replay.code(), 0, "{replay}");
    assert!(
        replay.stdout.contains("✓ greet: passed (7 of 7"),
        "{replay}"
    );

    // The next run rotates the file away; with `off` it writes none.
    let out = t.run_steps(&["--reset", "--record", "off"]);
    assert_eq!(out.code(), 0, "{out}");
    assert!(t.tests().join("data/recording.jsonl").exists());
    let out = t.run_steps(&["--reset", "--record", "all", "--recording-max-mb", "1"]);
    assert_eq!(out.code(), 0, "{out}");
    assert!(t.tests().join("data/recording.1.jsonl").exists());
}

#[test]
fn a_rebuilt_package_replays_from_the_code_cache_and_bad_recordings_are_refused() {
    let (t, _) = failed_greeter_run();
    let path = recording(&t);
    let arg = path.display().to_string();
    let text = std::fs::read_to_string(&path).expect("recording");

    // Another build now sits at the recorded path: both sha256 are named.
    let recorded_sha = recorded_steps(&t)[0]["package"]["sha256"]
        .as_str()
        .expect("sha256")
        .to_owned();
    t.use_steps(&component("replay_greeter_fixed"));
    // The recorded build's compiled code is still in the code cache: replayed from there.
    let out = t.run(&["replay", &arg]);
    assert_eq!(out.code(), 1, "{out}");
    assert!(
        out.stdout.contains(&format!(
            "package sha256 {recorded_sha} from the code cache"
        )),
        "{out}"
    );
    assert!(out.stdout.contains("the same failure as recorded"), "{out}");
    // Without it, the replay is refused naming both sha256.
    std::fs::remove_dir_all(t.cache_dir()).expect("empty the cache");
    let out = t.run(&["replay", &arg]);
    assert_eq!(out.code(), 2, "{out}");
    assert!(
        out.stderr
            .contains(&format!("was made with package sha256 {recorded_sha}"))
            && out.stderr.contains("now has sha256 "),
        "{out}"
    );
    assert!(out.stderr.contains("pass --package FILE"), "{out}");
    assert!(!out.stdout.contains("replaying"), "nothing ran: {out}");

    // Cut in the middle of its step line.
    std::fs::write(&path, &text[..text.len() - 40]).expect("cut");
    let out = t.run(&["replay", &arg]);
    assert_eq!(out.code(), 2, "{out}");
    assert!(
        out.stderr
            .contains("is damaged at line 2: the last record is incomplete"),
        "{out}"
    );
    assert!(!out.stdout.contains("replaying"), "nothing ran: {out}");

    // Written by a newer prometheus-wasm.
    std::fs::write(&path, text.replacen("\"version\":1", "\"version\":9", 1)).expect("write");
    let out = t.run(&["replay", &arg]);
    assert_eq!(out.code(), 2, "{out}");
    assert!(
        out.stderr
            .contains("has format version 9, this prometheus-wasm reads up to version 1"),
        "{out}"
    );

    // A build without the recorded step.
    std::fs::write(&path, &text).expect("restore");
    let hello = component("hello_steps");
    let out = t.run(&["replay", &arg, "--package", &hello.display().to_string()]);
    assert_eq!(out.code(), 2, "{out}");
    assert!(
        out.stderr
            .contains("has no step `greet` (the recorded step)"),
        "{out}"
    );
    // A step that is not in the recording.
    let out = t.run(&["replay", &arg, "--step", "nope"]);
    assert_eq!(out.code(), 2, "{out}");
    assert!(
        out.stderr
            .contains("has no step `nope`; it holds: greet (round 1)"),
        "{out}"
    );
}

#[test]
fn a_failed_python_step_replays_to_the_same_failure_without_workers() {
    let t = TestDir::example("hello-python", &polyglot_component("hello_python"));
    t.set_config("fail_step", "audit-greeting".into());
    let out = t.run_steps(&[]);
    assert_eq!(out.code(), 1, "{out}");
    assert!(
        out.stdout
            .contains("injected failure in audit-greeting (config fail_step)"),
        "{out}"
    );
    let steps = recorded_steps(&t);
    assert_eq!(steps[0]["step"], "audit-greeting");
    // The interpreter read its clock or randomness as it started: recorded too.
    let clock = &steps[0]["clock"];
    assert!(
        clock["random"].as_str().is_some_and(|r| !r.is_empty())
            || clock["wall"].as_array().is_some_and(|w| !w.is_empty())
            || clock["monotonic"].as_array().is_some_and(|m| !m.is_empty()),
        "{clock}"
    );

    let replay = t.run(&["replay", &recording(&t).display().to_string()]);
    assert_eq!(replay.code(), 1, "{replay}");
    assert!(
        replay.stdout.contains("the same failure as recorded"),
        "{replay}"
    );
    assert!(
        replay
            .stdout
            .contains("injected failure in audit-greeting (config fail_step)"),
        "{replay}"
    );
}

#[test]
fn secrets_are_masked_in_the_recording_and_the_replay_still_matches() {
    const TOKEN: &str = "tok-7f3a9c2e51d8";
    let t = TestDir::example("hello", &component("replay_greeter"));
    let mut workers = t.workers_json();
    workers["worker1"]["env"]["API_TOKEN"] = TOKEN.into();
    t.write_workers_json(&workers);
    let out = t.run_steps(&[]);
    assert_eq!(out.code(), 1, "{out}");
    let text = std::fs::read_to_string(recording(&t)).expect("recording");
    assert!(!text.contains(TOKEN), "the token leaked into the recording");
    assert!(text.contains(r#"["authorization","Bearer ***"]"#), "{text}");
    let steps = recorded_steps(&t);
    let env = &steps[0]["calls"][3];
    assert_eq!(env["op"], "worker.env");
    assert_eq!(env["result"], "***");

    // The guest gets `***` and sends `***`: the calls match and the failure is the same.
    let replay = t.run(&["replay", &recording(&t).display().to_string()]);
    assert_eq!(replay.code(), 1, "{replay}");
    assert!(
        replay
            .stdout
            .contains("6 of 6 recorded call(s) matched; the same failure as recorded"),
        "{replay}"
    );
}

#[test]
fn mongo_steps_replay_from_their_recorded_results() {
    // The todos example on the embedded store: every step recorded.
    let t = TestDir::example("todos", &component("todos_steps"));
    let mut cmd = t.command(&["run", "tests/steps.wasm", "--record", "all"]);
    cmd.env_remove("MONGO_URI");
    let out = system_tests::wait_output(cmd.spawn().expect("spawn the runner"));
    assert_eq!(out.code(), 0, "{out}");
    let steps = recorded_steps(&t);
    let ops = |name: &str| -> Vec<String> {
        steps
            .iter()
            .filter(|s| s["step"] == name)
            .flat_map(|s| s["calls"].as_array().expect("calls").clone())
            .filter_map(|c| c["op"].as_str().map(str::to_owned))
            .collect()
    };
    assert!(
        ops("pick-todo").contains(&"mongo.find".to_owned()),
        "{steps:?}"
    );
    assert!(ops("pick-todo").contains(&"mongo.update_one".to_owned()));
    assert!(ops("check-list").contains(&"mongo.aggregate".to_owned()));

    // Replayed without the database (or workers): every Mongo answer comes from the file.
    std::fs::remove_dir_all(t.tests().join("data/embedded-mongo")).expect("drop the store");
    // Round 1's todo steps, and the last round's check of the list.
    for (step, round) in [("pick-todo", "1"), ("check-todo", "1"), ("check-list", "4")] {
        let replay = t.run(&[
            "replay",
            &recording(&t).display().to_string(),
            "--step",
            step,
            "--round",
            round,
        ]);
        assert_eq!(replay.code(), 0, "{step}: {replay}");
        assert!(
            replay.stdout.contains(&format!("✓ {step}: passed (")),
            "{step}: {replay}"
        );
    }
}
