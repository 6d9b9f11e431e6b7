//! Recordings are hostile: a recording comes from CI, a colleague or an attacker, and
//! `replay` must treat every field of it as data. Real files, real symlinks, real FIFOs,
//! `/dev/zero`, real compiled-code caches:
//!
//! - a `sha256` that is a path (the old attack: it chose compiled machine code outside the
//!   cache, and deleted it) or anything but 64 lowercase hex digits is refused before
//!   anything runs, and the file it names is left alone;
//! - recorded package paths that are devices, FIFOs, symlinks to them, directories or
//!   `..` are only read as regular files, bounded, never waited on, never written;
//! - a cache entry planted in the cache (foreign compiled code under the right name, or an
//!   altered entry) is recompiled and replaced, never loaded;
//! - a ~100 MiB recording is streamed (peak RSS bounded, measured with `wait4`), a 200 MiB
//!   recorded outcome prints a bounded line, a missing step in a 500k-step recording is an
//!   error of a few KB with a did-you-mean;
//! - control characters in step names, worker names and outcomes are escaped.
//!
//! Components: `replay_greeter`, `hello_steps` (`scripts/build-components.sh`).

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use system_tests::{RunOutput, component, spawn_in, wait_measured};

/// A replay that takes longer than this hung (the bound proves "did not hang" only; a
/// debug build parsing hundreds of MiB on a loaded machine needs a generous one).
const MAX_RUN_TIME: Duration = Duration::from_secs(300);

/// The tests that write and parse hundreds of MiB take turns: run at once on a small
/// machine they would only slow each other down.
static BIG: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The header line of a version-1 recording.
const HEADER: &str = r#"{"format":"prometheus-wasm-recording","version":1}"#;

/// Raw terminal control: an OSC 52 clipboard write, a screen clear, a carriage return
/// that would overwrite the line with a fake pass, and a right-to-left override.
const HOSTILE: &str = "\x1b]52;c;aGk=\x07\x1b[2J\r✓ ok \u{202e}gnp.exe";

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A folder with a copy of the greeter package (`steps.wasm`) and its sha256.
struct Folder {
    dir: tempfile::TempDir,
    sha: String,
}

impl Folder {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let bytes = std::fs::read(component("replay_greeter")).expect("greeter component");
        std::fs::write(dir.path().join("steps.wasm"), &bytes).expect("copy package");
        Self {
            sha: sha256_hex(&bytes),
            dir,
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn steps(&self) -> PathBuf {
        self.path().join("steps.wasm")
    }

    fn cache(&self) -> PathBuf {
        self.path().join("cache")
    }

    /// Writes `rec/recording.jsonl` (a subfolder, so that no `.wasm` sits beside it) with
    /// these step lines.
    fn recording(&self, steps: &[Value]) -> PathBuf {
        let dir = self.path().join("rec");
        std::fs::create_dir_all(&dir).expect("rec dir");
        let path = dir.join("recording.jsonl");
        let mut text = format!("{HEADER}\n");
        for step in steps {
            text.push_str(&serde_json::to_string(step).expect("json"));
            text.push('\n');
        }
        std::fs::write(&path, text).expect("write recording");
        path
    }

    fn replay(&self, args: &[&str]) -> RunOutput {
        run_measured(self.path(), &[&["replay"], args].concat()).0
    }

    /// The cache's entries (`*.cwasm`).
    fn entries(&self) -> Vec<PathBuf> {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(self.cache())
            .map(|d| {
                d.flatten()
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "cwasm"))
                    .collect()
            })
            .unwrap_or_default();
        entries.sort();
        entries
    }
}

/// One recorded step instance of the greeter package, with no calls (a replay of it runs
/// the real package and passes up to the end of the recording at its first call).
fn greet(sha: &str, path: &str) -> Value {
    json!({
        "round": 1, "step": "greet", "worker": "worker1", "params": {},
        "package": {"sha256": sha, "path": path},
        "outcome": "execute returned an error: boom", "failed": true, "calls": []
    })
}

/// Runs the runner with `args` in `dir`, returning its output and its peak RSS in KiB (its
/// own `wait4` usage, so that parallel tests do not mix their figures).
fn run_measured(dir: &Path, args: &[&str]) -> (RunOutput, u64) {
    wait_measured(spawn_in(dir, args), MAX_RUN_TIME)
}

/// No raw control, bidi or invisible character reached the terminal.
fn assert_no_raw_control(out: &RunOutput) {
    for c in ['\x1b', '\x07', '\r', '\u{202e}', '\u{9b}'] {
        assert!(!out.all().contains(c), "raw {c:?} printed:\n{out:?}");
    }
}

#[test]
fn a_sha256_that_is_a_path_never_loads_or_deletes_code_outside_the_cache() {
    let f = Folder::new();
    let steps = f.steps().display().to_string();
    // A first replay compiles the package into the cache: its entry names the suffix an
    // attacker would aim at.
    let rec = f.recording(&[greet(&f.sha, &steps)]);
    let out = f.replay(&[&rec.display().to_string()]);
    assert_eq!(out.code(), 0, "{out}");
    assert!(
        out.stdout.contains("passed up to the end of the recording"),
        "{out}"
    );
    let entries = f.entries();
    assert_eq!(entries.len(), 1, "{entries:?}");
    let entry_name = entries[0]
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let suffix = &entry_name[entry_name.find('-').unwrap()..];

    // Compiled code planted outside the cache, named like an entry.
    let evil = f.path().join("evil");
    std::fs::create_dir_all(&evil).unwrap();
    let planted = evil.join(format!("payload{suffix}"));
    let planted_bytes = b"not what the cache wrote".to_vec();
    std::fs::write(&planted, &planted_bytes).unwrap();
    let fifo = f.path().join("fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();

    let shas = [
        format!("{}/payload", evil.display()),
        "../evil/payload".to_string(),
        format!("../../{}", "a".repeat(58)),
        "/dev/zero".to_string(),
        fifo.display().to_string(),
        f.sha.to_uppercase(),
        f.sha[..63].to_string(),
        format!("{}0", f.sha),
        String::new(),
    ];
    for sha in &shas {
        // The recorded path is gone, so only the cache could have answered.
        let rec = f.recording(&[greet(sha, "/nonexistent/steps.wasm")]);
        let out = f.replay(&[&rec.display().to_string()]);
        assert_eq!(out.code(), 2, "sha256 {sha:?}:\n{out}");
        assert!(
            out.stderr
                .contains("its package sha256 is not 64 lowercase hex digits"),
            "sha256 {sha:?}:\n{out}"
        );
        assert!(out.stderr.contains("nothing was run"), "{out}");
        assert!(!out.stdout.contains("replaying"), "nothing ran: {out}");
    }
    assert_eq!(
        std::fs::read(&planted).expect("the file outside the cache is still there"),
        planted_bytes
    );
    assert!(fifo.exists(), "the FIFO is left alone");
    assert_eq!(f.entries().len(), 1, "the cache is untouched");
}

#[test]
fn recorded_package_paths_are_only_read_as_bounded_regular_files() {
    let f = Folder::new();
    let fifo = f.path().join("fifo.wasm");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let to_fifo = f.path().join("to-fifo.wasm");
    std::os::unix::fs::symlink(&fifo, &to_fifo).unwrap();
    let to_zero = f.path().join("to-zero.wasm");
    std::os::unix::fs::symlink("/dev/zero", &to_zero).unwrap();
    let victim = f.path().join("victim.txt");
    std::fs::write(&victim, "keep me").unwrap();
    let paths = [
        "/dev/zero".to_string(),
        "/dev/urandom".to_string(),
        fifo.display().to_string(),
        to_fifo.display().to_string(),
        to_zero.display().to_string(),
        f.path().display().to_string(),
        "..".to_string(),
        "../../../../../../../../etc/passwd".to_string(),
        victim.display().to_string(),
        String::new(),
    ];
    // A sha256 nothing has: every candidate is hashed, none matches, the replay is refused.
    let absent = "0".repeat(64);
    for path in &paths {
        let rec = f.recording(&[greet(&absent, path)]);
        let out = f.replay(&[&rec.display().to_string()]);
        assert_eq!(out.code(), 2, "path {path:?}:\n{out}");
        assert!(
            out.stderr
                .contains(&format!("was made with package sha256 {absent}")),
            "path {path:?}:\n{out}"
        );
        assert!(!out.stdout.contains("replaying"), "nothing ran: {out}");
        assert!(out.stderr.len() < 4096, "{out}");
    }
    assert!(fifo.exists() && to_fifo.exists() && to_zero.exists());
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me");
    assert!(f.entries().is_empty(), "nothing was compiled");

    // The recorded path a symlink to the real package: its bytes have the sha256, so it
    // is loaded (read, never followed into anything but a regular file).
    let link = f.path().join("link.wasm");
    std::os::unix::fs::symlink(f.steps(), &link).unwrap();
    let rec = f.recording(&[greet(&f.sha, &link.display().to_string())]);
    let out = f.replay(&[&rec.display().to_string()]);
    assert_eq!(out.code(), 0, "{out}");
    assert!(out.stdout.contains("replaying greet"), "{out}");

    // The recording itself a FIFO, a device or a directory: refused without waiting.
    for recording in [
        fifo.display().to_string(),
        "/dev/zero".into(),
        f.path().display().to_string(),
    ] {
        let out = f.replay(&[&recording]);
        assert_eq!(out.code(), 2, "{recording}:\n{out}");
        assert!(out.stderr.contains("cannot read recording"), "{out}");
        assert!(out.stderr.contains("not a regular file"), "{out}");
    }
}

#[test]
fn a_planted_cache_entry_is_recompiled_not_loaded() {
    let f = Folder::new();
    let rec = f.recording(&[greet(&f.sha, &f.steps().display().to_string())]);
    let rec = rec.display().to_string();

    // Another cache compiles another package (hello_steps has no `greet` step). Its
    // authentic entry, planted under the greeter's entry name in this cache, would make the
    // replay say the package has no step `greet` if it were loaded.
    let other = Folder::new();
    let hello = component("hello_steps");
    let out = other.replay(&[&rec, "--package", &hello.display().to_string()]);
    assert_eq!(out.code(), 2, "{out}");
    assert!(out.stderr.contains("has no step `greet`"), "{out}");
    let foreign = std::fs::read(&other.entries()[0]).expect("foreign entry");

    // This cache's own entry for the greeter.
    let out = f.replay(&[&rec]);
    assert_eq!(out.code(), 0, "{out}");
    let entry = f.entries()[0].clone();
    let authentic = std::fs::read(&entry).unwrap();

    let mut altered = authentic.clone();
    let middle = altered.len() / 2;
    altered[middle] ^= 0xff;
    for (what, planted) in [("foreign", foreign), ("altered", altered)] {
        std::fs::write(&entry, &planted).unwrap();
        let out = f.replay(&[&rec]);
        assert_eq!(out.code(), 0, "{what} entry:\n{out}");
        assert!(
            out.stdout.contains("replaying greet")
                && out.stdout.contains("passed up to the end of the recording"),
            "{what} entry: the greeter ran, not the planted code:\n{out}"
        );
        // The cache says so: its warning reaches the user (it used to go to a tracing
        // call no subscriber listened to).
        assert!(
            out.stderr.contains("warning: cache entry")
                && out
                    .stderr
                    .contains("is not one this cache wrote; recompiling"),
            "{what} entry: the cache's warning is shown:\n{out}"
        );
        let now = std::fs::read(&entry).expect("entry rewritten");
        assert_ne!(now, planted, "{what} entry: recompiled and replaced");
    }

    // An entry planted in a cache that has no key yet is not loaded either.
    let fresh = Folder::new();
    std::fs::create_dir_all(fresh.cache()).unwrap();
    let name = entry.file_name().unwrap();
    std::fs::copy(&other.entries()[0], fresh.cache().join(name)).unwrap();
    let rec = fresh.recording(&[greet(&fresh.sha, &fresh.steps().display().to_string())]);
    let out = fresh.replay(&[&rec.display().to_string()]);
    assert_eq!(out.code(), 0, "{out}");
    assert!(out.stdout.contains("replaying greet"), "{out}");
}

#[test]
fn a_rebuilt_package_replays_from_the_bytes_the_cache_compiled() {
    let f = Folder::new();
    let steps = f.steps().display().to_string();
    let rec = f.recording(&[greet(&f.sha, &steps)]);
    let rec = rec.display().to_string();
    assert_eq!(f.replay(&[&rec]).code(), 0);
    // The package file is rebuilt (another component now): the cache's copy of the bytes
    // it compiled is found by the recorded sha256, checked, and loaded.
    std::fs::copy(component("hello_steps"), f.steps()).unwrap();
    let out = f.replay(&[&rec]);
    assert_eq!(out.code(), 0, "{out}");
    assert!(
        out.stdout
            .contains(&format!("package sha256 {} from the code cache", f.sha)),
        "{out}"
    );
}

/// Writes a recording of `filler` step lines of `calls` calls each, and the greeter's
/// step last (so the whole file is read before it is found); returns its path and size.
fn huge_recording(f: &Folder, filler: usize, calls: usize) -> (PathBuf, u64) {
    let dir = f.path().join("rec");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("recording.jsonl");
    let mut out = BufWriter::new(std::fs::File::create(&path).unwrap());
    writeln!(out, "{HEADER}").unwrap();
    let calls: Vec<Value> = (0..calls)
        .map(|i| json!({"op": "state.get", "args": {"key": format!("key-{i}")}, "result": "\"v\""}))
        .collect();
    for i in 0..filler {
        let line = json!({
            "round": 1, "step": format!("filler-{i}"), "worker": "worker1", "params": {},
            "package": {"sha256": f.sha, "path": ""}, "outcome": "done", "failed": true,
            "calls": calls,
        });
        serde_json::to_writer(&mut out, &line).unwrap();
        writeln!(out).unwrap();
    }
    let step = greet(&f.sha, &f.steps().display().to_string());
    serde_json::to_writer(&mut out, &step).unwrap();
    writeln!(out).unwrap();
    out.flush().unwrap();
    drop(out);
    let size = std::fs::metadata(&path).unwrap().len();
    (path, size)
}

#[test]
fn a_huge_recording_is_streamed_in_memory_bounded_by_the_chosen_step() {
    let _turn = BIG.lock().unwrap_or_else(|e| e.into_inner());
    let f = Folder::new();
    // 1 000 steps of 2 000 calls each: ~100 MiB, 2 million calls.
    let (path, size) = huge_recording(&f, 1_000, 2_000);
    assert!(size > 90 << 20, "{size} bytes");
    let arg = path.display().to_string();
    let (out, rss_kib) = run_measured(f.path(), &["replay", &arg, "--step", "greet"]);
    assert_eq!(out.code(), 0, "{out}");
    assert!(out.stdout.contains("replaying greet"), "{out}");
    // Loaded whole this was 2.7 GB for 146 MiB; streamed, it is the runner's own size.
    assert!(
        rss_kib < 200 << 10,
        "peak RSS {} MiB for a {} MiB recording",
        rss_kib >> 10,
        size >> 20
    );
    eprintln!(
        "replay of a {} MiB recording: peak RSS {} MiB",
        size >> 20,
        rss_kib >> 10
    );
    // A step in the middle is found too (and then refused by the package, which has no
    // such step: it was chosen from the recording, not loaded with the rest).
    let (out, rss_kib) = run_measured(f.path(), &["replay", &arg, "--step", "filler-3"]);
    assert_eq!(out.code(), 2, "{out}");
    assert!(
        out.stderr
            .contains("has no step `filler-3` (the recorded step)"),
        "{out}"
    );
    assert!(rss_kib < 200 << 10, "peak RSS {} MiB", rss_kib >> 10);
}

#[test]
fn a_200_mib_recorded_outcome_prints_a_bounded_escaped_line() {
    let _turn = BIG.lock().unwrap_or_else(|e| e.into_inner());
    let f = Folder::new();
    let dir = f.path().join("rec");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("recording.jsonl");
    let before = serde_json::to_string(&json!({
        "round": 1, "step": "greet", "worker": "worker1", "params": {},
        "package": {"sha256": f.sha, "path": f.steps().display().to_string()},
    }))
    .unwrap();
    // `{...` without its `}`, then the outcome (the hostile bytes, then 200 MiB), then
    // the rest of the line: streamed, never held by the test.
    let mut out = BufWriter::new(std::fs::File::create(&path).unwrap());
    writeln!(out, "{HEADER}").unwrap();
    let escaped = serde_json::to_string(HOSTILE).unwrap();
    write!(
        out,
        "{},\"outcome\":{}",
        &before[..before.len() - 1],
        &escaped[..escaped.len() - 1]
    )
    .unwrap();
    let chunk = "A".repeat(1 << 20);
    for _ in 0..200 {
        out.write_all(chunk.as_bytes()).unwrap();
    }
    writeln!(out, "\",\"failed\":true,\"calls\":[]}}").unwrap();
    out.flush().unwrap();
    drop(out);
    assert!(std::fs::metadata(&path).unwrap().len() > 200 << 20);

    let out = f.replay(&[&path.display().to_string()]);
    assert_eq!(out.code(), 0, "{}", &out.stderr);
    assert!(
        out.stdout.len() < 32 * 1024,
        "{} bytes printed",
        out.stdout.len()
    );
    assert!(
        out.stdout.contains(
            "recorded outcome: \\u{1b}]52;c;aGk=\\u{7}\\u{1b}[2J\\r✓ ok \\u{202e}gnp.exe"
        ),
        "{}",
        &out.stdout[..out.stdout.len().min(2000)]
    );
    assert!(out.stdout.contains("more bytes)"), "the cut is counted");
    assert_no_raw_control(&out);
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn a_missing_step_in_a_500k_step_recording_is_a_short_error_with_a_suggestion() {
    let _turn = BIG.lock().unwrap_or_else(|e| e.into_inner());
    let f = Folder::new();
    let dir = f.path().join("rec");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("recording.jsonl");
    let mut out = BufWriter::new(std::fs::File::create(&path).unwrap());
    writeln!(out, "{HEADER}").unwrap();
    serde_json::to_writer(&mut out, &greet(&f.sha, "")).unwrap();
    writeln!(out).unwrap();
    for i in 0..500_000 {
        writeln!(
            out,
            r#"{{"round":{i},"step":"step-{i}","worker":"w","params":null,"package":{{"sha256":"","path":""}},"outcome":"","failed":false,"calls":[]}}"#
        )
        .unwrap();
    }
    out.flush().unwrap();
    drop(out);
    let out = f.replay(&[&path.display().to_string(), "--step", "gret"]);
    assert_eq!(
        out.code(),
        2,
        "{}",
        &out.stderr[..out.stderr.len().min(4000)]
    );
    assert!(
        out.stderr.len() < 4096,
        "{} bytes of error",
        out.stderr.len()
    );
    assert!(
        out.stderr
            .contains("has no step `gret`; it holds: greet (round 1), step-0 (round 0)"),
        "{out}"
    );
    assert!(out.stderr.contains("… and 499981 more"), "{out}");
    assert!(out.stderr.contains("did you mean `greet`?"), "{out}");
}

#[test]
fn control_characters_in_names_and_outcomes_are_escaped() {
    let f = Folder::new();
    let steps = f.steps().display().to_string();
    let mut step = greet(&f.sha, &steps);
    step["worker"] = json!(format!("worker{HOSTILE}"));
    step["outcome"] = json!(format!("boom {HOSTILE}\nsecond line {HOSTILE}"));
    let rec = f.recording(&[step]);
    let out = f.replay(&[&rec.display().to_string()]);
    assert_eq!(out.code(), 0, "{out}");
    assert!(
        out.stdout
            .contains("worker\\u{1b}]52;c;aGk=\\u{7}\\u{1b}[2J\\r✓ ok \\u{202e}gnp.exe"),
        "{out:?}"
    );
    assert!(
        out.stdout.contains("recorded outcome: boom \\u{1b}]52"),
        "{out:?}"
    );
    assert_no_raw_control(&out);

    // A hostile step name: in the "no such step" list and in the package's refusal.
    let mut step = greet(&f.sha, &steps);
    step["step"] = json!(format!("greet{HOSTILE}"));
    let rec = f.recording(&[step]);
    let out = f.replay(&[&rec.display().to_string(), "--step", "nope"]);
    assert_eq!(out.code(), 2, "{out:?}");
    assert!(out.stderr.contains("it holds: greet\\u{1b}]52"), "{out:?}");
    assert_no_raw_control(&out);
    let out = f.replay(&[&rec.display().to_string()]);
    assert_eq!(out.code(), 2, "{out:?}");
    assert!(
        out.stderr.contains("has no step `greet\\u{1b}]52"),
        "{out:?}"
    );
    assert_no_raw_control(&out);

    // A damaged line whose JSON error would quote hostile bytes.
    let rec = f.path().join("rec/recording.jsonl");
    std::fs::write(
        &rec,
        format!(
            "{HEADER}\n{{\"round\":\"{}\"}}\n",
            HOSTILE
                .replace('\x1b', "\\u001b")
                .replace('\x07', "\\u0007")
                .replace('\r', "\\r")
        ),
    )
    .unwrap();
    let out = f.replay(&[&rec.display().to_string()]);
    assert_eq!(out.code(), 2, "{out:?}");
    assert!(out.stderr.contains("is damaged at line 2"), "{out:?}");
    assert_no_raw_control(&out);
}
