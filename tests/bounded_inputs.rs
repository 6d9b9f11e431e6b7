//! Every file the CLI reads from elsewhere is bounded (host/src/bounded_read.rs): at its
//! cap it is read, at 10x and 100x the cap it is refused by name before it is read, and a
//! FIFO or `/dev/zero` named where the file is expected is refused without waiting. Parsers
//! are linear: deep nesting, alias bombs, huge `--set` keys and `${prev}${prev}` chains in
//! `.env` end quickly with a message naming the file. Every run here is measured: exit
//! code 2, the file named, the runner's peak RSS (wait4) under a bound, finished in 30 s.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use system_tests::{RunOutput, TestDir, run_in, wait_measured};

/// One MiB.
const MIB: u64 = 1 << 20;
/// The caps of host/src/bounded_read.rs, as the tests rely on them.
const CONFIG_CAP: u64 = 4 * MIB;
const WORKERS_CAP: u64 = MIB;
const DOTENV_CAP: u64 = MIB;
const PLAN_CAP: u64 = MIB;
const KEYPAIR_CAP: u64 = 16 * 1024;

/// Peak RSS of a run that refuses its input: the runner's own size plus a little (on main
/// a 95 MiB config.yaml took 4.9 GB, a 15 KB alias bomb 1.3 GB, a 41-line `.env` 2 GB).
const REFUSED_RSS_KIB: u64 = 100 << 10;
/// Peak RSS of a run that reads an input at its cap.
const AT_CAP_RSS_KIB: u64 = 300 << 10;
/// How long any of these runs may take: detects a hang, not a speed.
const MAX_RUN_TIME: Duration = Duration::from_secs(30);

/// A finished, measured run of the runner.
struct Measured {
    out: RunOutput,
    rss_kib: u64,
}

/// Runs `command` to completion, with its peak RSS in KiB from its own `wait4` usage;
/// kills it and fails past [`MAX_RUN_TIME`].
fn measure(mut command: Command) -> Measured {
    let shown = format!("{command:?}").chars().take(160).collect::<String>();
    let started = Instant::now();
    let (out, rss_kib) = wait_measured(command.spawn().expect("spawn the runner"), MAX_RUN_TIME);
    // For the threat model's "measured peak" column (visible with --nocapture).
    eprintln!(
        "measured: {} KiB peak, {:?}: {shown}",
        rss_kib,
        started.elapsed()
    );
    Measured { out, rss_kib }
}

/// Asserts a refusal: exit 2, every one of `needles` in stderr, a small peak RSS.
fn refused(run: &Measured, needles: &[&str]) {
    let out = &run.out;
    assert_eq!(out.code(), 2, "{out}");
    for needle in needles {
        assert!(out.stderr.contains(needle), "`{needle}` not in:\n{out}");
    }
    assert!(
        run.rss_kib < REFUSED_RSS_KIB,
        "peak RSS {} MiB, over {} MiB\n{out}",
        run.rss_kib >> 10,
        REFUSED_RSS_KIB >> 10
    );
}

/// Asserts an accepted input: exit 0 and a peak RSS under [`AT_CAP_RSS_KIB`].
fn accepted(run: &Measured) {
    let out = &run.out;
    assert_eq!(out.code(), 0, "{out}");
    assert!(
        run.rss_kib < AT_CAP_RSS_KIB,
        "peak RSS {} MiB, over {} MiB\n{out}",
        run.rss_kib >> 10,
        AT_CAP_RSS_KIB >> 10
    );
}

/// `path`'s text padded with `comment`-prefixed filler lines to exactly `size` bytes.
fn pad_to(path: &Path, size: u64, comment: &str) {
    let mut text = std::fs::read_to_string(path).expect("read the file to pad");
    if !text.ends_with('\n') {
        text.push('\n');
    }
    let line = format!("{comment}{}\n", "x".repeat(1000));
    while (text.len() + line.len()) as u64 <= size {
        text.push_str(&line);
    }
    let rest = size as usize - text.len();
    if rest > 0 {
        text.push_str(comment);
        text.push_str(&"x".repeat(rest - comment.len() - 1));
        text.push('\n');
    }
    assert_eq!(text.len() as u64, size);
    std::fs::write(path, text).expect("write the padded file");
}

/// Replaces `path` by a real file of `size` bytes, written as a repeated 1 MiB chunk (no
/// one buffer of that size in the test).
fn write_big(path: &Path, size: u64) {
    use std::io::Write;
    let _ = std::fs::remove_file(path);
    let mut file = std::fs::File::create(path).expect("create the big file");
    let chunk = vec![b'#'; MIB as usize];
    let mut left = size;
    while left > 0 {
        let n = left.min(MIB);
        file.write_all(&chunk[..n as usize]).expect("write a chunk");
        left -= n;
    }
}

/// Replaces `path` by a sparse file of `size` bytes (no disk used).
fn write_sparse(path: &Path, size: u64) {
    let _ = std::fs::remove_file(path);
    let file = std::fs::File::create(path).expect("create the sparse file");
    file.set_len(size).expect("extend the sparse file");
}

/// Replaces `path` by a FIFO nobody writes to.
fn make_fifo(path: &Path) {
    let _ = std::fs::remove_file(path);
    nix::unistd::mkfifo(path, nix::sys::stat::Mode::from_bits_truncate(0o600)).expect("mkfifo");
}

/// Replaces `path` by a symlink to `/dev/zero`.
fn link_dev_zero(path: &Path) {
    let _ = std::fs::remove_file(path);
    std::os::unix::fs::symlink("/dev/zero", path).expect("symlink to /dev/zero");
}

/// `check tests/steps.wasm` of `t`, measured.
fn check(t: &TestDir) -> Measured {
    measure(t.command(&["check", "tests/steps.wasm"]))
}

/// For one input of the hello example (`relative` under tests/): accepted at `cap`
/// (padded with `comment` lines), refused naming it at 10x (a real file) and 100x (sparse),
/// as a FIFO and as `/dev/zero`.
fn bounded(relative: &str, cap: u64, comment: &str) {
    let t = TestDir::hello();
    let path = t.tests().join(relative);
    if !path.exists() {
        std::fs::write(&path, "").expect("create the input");
    }
    pad_to(&path, cap, comment);
    accepted(&check(&t));

    let cap_text = format!("larger than {} MiB", cap / MIB);
    write_big(&path, 10 * cap);
    refused(&check(&t), &[relative, &cap_text]);
    write_sparse(&path, 100 * cap);
    refused(&check(&t), &[relative, &cap_text]);
    std::fs::remove_file(&path).expect("remove the big file");

    make_fifo(&path);
    refused(&check(&t), &[relative, "is a FIFO, not a regular file"]);
    link_dev_zero(&path);
    refused(
        &check(&t),
        &[relative, "is a character device, not a regular file"],
    );
}

#[test]
fn config_yaml_is_read_at_its_cap_and_refused_past_it_or_as_a_fifo_or_device() {
    bounded("config.yaml", CONFIG_CAP, "#");
}

#[test]
fn workers_json_is_read_at_its_cap_and_refused_past_it_or_as_a_fifo_or_device() {
    // JSON has no comments: the filler is a string value of an extra worker key.
    let t = TestDir::hello();
    let path = t.tests().join("workers.json");
    let mut workers = t.workers_json();
    let with_filler = |workers: &mut serde_json::Value, filler: String| {
        let first = workers
            .as_object_mut()
            .and_then(|o| o.values_mut().next())
            .and_then(|w| w.as_object_mut())
            .expect("a worker");
        first.insert("filler".into(), filler.into());
        serde_json::to_string(workers).expect("json")
    };
    let skeleton = with_filler(&mut workers, String::new());
    let filler = "x".repeat(WORKERS_CAP as usize - skeleton.len());
    let text = with_filler(&mut workers, filler);
    assert_eq!(text.len() as u64, WORKERS_CAP);
    std::fs::write(&path, text).expect("write workers.json");
    accepted(&check(&t));

    write_big(&path, 10 * WORKERS_CAP);
    refused(&check(&t), &["workers.json", "larger than 1 MiB"]);
    write_sparse(&path, 100 * WORKERS_CAP);
    refused(&check(&t), &["workers.json", "larger than 1 MiB"]);
    make_fifo(&path);
    refused(&check(&t), &["workers.json", "is a FIFO"]);
    link_dev_zero(&path);
    refused(&check(&t), &["workers.json", "is a character device"]);
}

#[test]
fn dot_env_is_read_at_its_cap_and_refused_past_it_or_as_a_fifo_or_device() {
    bounded(".env", DOTENV_CAP, "#");
}

#[test]
fn a_plan_is_read_at_its_cap_and_refused_past_it_or_as_a_fifo_or_device() {
    let t = TestDir::hello();
    let plan = t.tests().join("plan.yaml");
    std::fs::write(
        &plan,
        "packages:\n  hello:\n    path: steps.wasm\nsteps:\n  - use: hello\n",
    )
    .expect("write plan");
    pad_to(&plan, PLAN_CAP, "#");
    accepted(&measure(t.command(&["check", "tests/plan.yaml"])));

    let run = || measure(t.command(&["check", "tests/plan.yaml"]));
    write_big(&plan, 10 * PLAN_CAP);
    refused(&run(), &["plan.yaml", "larger than 1 MiB"]);
    write_sparse(&plan, 100 * PLAN_CAP);
    refused(&run(), &["plan.yaml", "larger than 1 MiB"]);
    make_fifo(&plan);
    refused(&run(), &["plan.yaml", "is a FIFO"]);
    link_dev_zero(&plan);
    refused(&run(), &["plan.yaml", "is a character device"]);
}

#[test]
fn a_plan_lock_that_is_a_fifo_a_device_or_too_large_is_refused() {
    let t = TestDir::hello();
    std::fs::write(
        t.tests().join("plan.yaml"),
        "packages:\n  hello:\n    path: steps.wasm\nsteps:\n  - use: hello\n",
    )
    .expect("write plan");
    let lock = t.tests().join("plan.lock");
    let run = || measure(t.command(&["check", "tests/plan.yaml"]));
    make_fifo(&lock);
    refused(&run(), &["plan.lock", "is a FIFO"]);
    link_dev_zero(&lock);
    refused(&run(), &["plan.lock", "is a character device"]);
    write_sparse(&lock, 100 * MIB);
    refused(&run(), &["plan.lock", "larger than 1 MiB"]);
}

/// The hello example with a `todos` collection seeded from `tests/data/todos.json`, the
/// store budget (and so the data file's cap) 1 MiB.
fn with_data_file() -> (TestDir, std::path::PathBuf) {
    let t = TestDir::hello();
    let mongodb = "collections:\n  todos:\n    data_file: todos.json\n    required_count: 1\n";
    t.set_config("mongodb", serde_yaml::from_str(mongodb).expect("yaml"));
    t.set_config(
        "limits",
        serde_yaml::from_str("store_max_mb: 1").expect("yaml"),
    );
    let data = t.tests().join("data");
    std::fs::create_dir_all(&data).expect("data dir");
    (t, data.join("todos.json"))
}

#[test]
fn a_data_file_is_capped_by_the_store_budget_and_refused_as_a_fifo_or_device() {
    let (t, data) = with_data_file();
    // At the cap: one document whose string fills the file to 1 MiB exactly.
    let skeleton = "[{\"title\": \"\"}]";
    let filler = "x".repeat(MIB as usize - skeleton.len());
    std::fs::write(&data, format!("[{{\"title\": \"{filler}\"}}]")).expect("write data");
    accepted(&check(&t));

    write_big(&data, 10 * MIB);
    refused(&check(&t), &["todos.json", "larger than 1 MiB"]);
    write_sparse(&data, 100 * MIB);
    refused(&check(&t), &["todos.json", "larger than 1 MiB"]);
    make_fifo(&data);
    refused(&check(&t), &["todos.json", "is a FIFO"]);
    link_dev_zero(&data);
    refused(&check(&t), &["todos.json", "is a character device"]);
}

#[test]
fn a_seed_file_that_is_a_device_stops_the_run_before_any_worker_starts() {
    let (t, data) = with_data_file();
    link_dev_zero(&data);
    let run = measure(t.command(&["run", "tests/steps.wasm"]));
    refused(&run, &["todos.json", "is a character device"]);
    assert!(run.out.worker_pids().is_empty(), "{}", run.out);
}

#[test]
fn a_keypair_file_past_its_cap_or_a_fifo_or_device_is_refused_by_sign() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = dir.path().join("key.json");
    let sign = |dir: &Path| {
        let mut command = Command::new(system_tests::runner_bin());
        command
            .args(["sign", "--keypair", "key.json", "{}"])
            .current_dir(dir)
            .env("NO_COLOR", "1")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        measure(command)
    };
    write_big(&key, 10 * KEYPAIR_CAP);
    refused(&sign(dir.path()), &["key.json", "larger than 16384 bytes"]);
    write_sparse(&key, 100 * KEYPAIR_CAP);
    refused(&sign(dir.path()), &["key.json", "larger than 16384 bytes"]);
    make_fifo(&key);
    refused(&sign(dir.path()), &["key.json", "is a FIFO"]);
    link_dev_zero(&key);
    refused(&sign(dir.path()), &["key.json", "is a character device"]);
    // The same refusal through run_in, the helper the koii tests use.
    assert_eq!(
        run_in(dir.path(), &["sign", "--keypair", "key.json", "{}"]).code(),
        2
    );
}

#[test]
fn a_hundred_thousand_levels_of_yaml_nesting_are_refused_quickly_at_their_line() {
    let t = TestDir::hello();
    let path = t.tests().join("config.yaml");
    let mut text = std::fs::read_to_string(&path).expect("config");
    let n = 100_000;
    text.push_str(&format!("deep: {}{}\n", "[".repeat(n), "]".repeat(n)));
    let line = text.lines().count();
    std::fs::write(&path, text).expect("write");
    refused(
        &check(&t),
        &[
            &format!("config.yaml:{line}:"),
            "nested more than 128 levels",
        ],
    );
}

#[test]
fn deep_block_nesting_in_config_yaml_is_refused_with_its_position() {
    let t = TestDir::hello();
    let path = t.tests().join("config.yaml");
    let mut text = std::fs::read_to_string(&path).expect("config");
    for depth in 0..200 {
        text.push_str(&format!("{}k:\n", "  ".repeat(depth)));
    }
    std::fs::write(&path, text).expect("write");
    refused(&check(&t), &["config.yaml:", "nested more than 128 levels"]);
}

#[test]
fn a_hundred_thousand_levels_of_json_nesting_in_workers_json_are_refused() {
    let t = TestDir::hello();
    let n = 100_000;
    let text = format!(
        "{{\"worker1\": {{\"x\": {}{}}}}}",
        "[".repeat(n),
        "]".repeat(n)
    );
    std::fs::write(t.tests().join("workers.json"), text).expect("write");
    refused(&check(&t), &["workers.json:1:", "recursion limit"]);
}

#[test]
fn a_yaml_alias_bomb_is_refused_before_it_expands() {
    let t = TestDir::hello();
    let path = t.tests().join("config.yaml");
    let mut text = std::fs::read_to_string(&path).expect("config");
    let n = 20_000;
    text.push_str(&format!(
        "anchor: &a [{}]\nbomb: [{}]\n",
        vec!["1"; n].join(","),
        vec!["*a"; n].join(",")
    ));
    std::fs::write(&path, text).expect("write");
    refused(&check(&t), &["config.yaml", "aliases"]);
}

#[test]
fn a_set_key_of_65000_parts_is_refused_quickly() {
    let t = TestDir::hello();
    let flag = format!("{}=1", vec!["a"; 65_000].join("."));
    let run = measure(t.command(&["check", "tests/steps.wasm", "--set", &flag]));
    refused(&run, &["--set", "65000 dot-separated parts", "at most 100"]);
    assert!(
        run.out.stderr.len() < 4096,
        "the message does not echo the whole flag:\n{}",
        run.out
    );
}

#[test]
fn a_doubling_dot_env_chain_is_refused_at_the_line_that_passes_the_cap() {
    let t = TestDir::hello();
    let mut lines = vec!["A0=xxxxxxxxxxxxxxxx".to_string()];
    for i in 1..=40 {
        lines.push(format!("A{i}=${{A{}}}${{A{}}}", i - 1, i - 1));
    }
    t.write(".env", &(lines.join("\n") + "\n"));
    // A0 is 16 bytes, A12 is 64 KiB, A13 is the first past it, on line 14.
    refused(&check(&t), &["tests/.env:14:", "A13", "64 KiB"]);
}

#[test]
fn a_dot_env_of_many_dollar_references_is_refused_before_substitution() {
    let t = TestDir::hello();
    let value = format!("A=x\nB={}\n", "$A".repeat(200_000));
    t.write(".env", &value);
    refused(&check(&t), &["tests/.env", "`$` substitutions"]);
}
