//! A step package whose `manifest` misbehaves: the runner must refuse it within its
//! budgets, in every command that loads a package (`inspect`, `list`, `lock`, `run`).
//!
//! A manifest gets no configuration, so the misbehaviour is chosen by [`MODE`], a marker
//! in the component's data that the tests overwrite in a copy of the built file
//! (`system_tests::hostile_manifest`): one build, one variant per test.
//!
//! | mode | the manifest |
//! |---|---|
//! | `normal` | lists one step, `ok` |
//! | `spin` | loops forever |
//! | `sleep` | sleeps an hour (waits in a WASI clock poll, a host call) |
//! | `alloc` | allocates 1 MiB blocks without bound |
//! | `huge` | lists 150 000 steps |
//! | `longname` | lists one step with a 65 536-character name |
//! | `dupes` | lists 10 000 steps (the most allowed), the last named like the first |
//! | `panic` | panics |
//! | `exit` | exits the process with status 0 |
//!
//! It uses wit-bindgen directly, not the guest SDK: the SDK refuses such manifests itself.

use std::hint::black_box;

wit_bindgen::generate!({ path: "../../../wit", world: "steps" });

/// The marker: `MANIFEST-MODE:` then the mode, NUL-padded to 16 bytes (30 in all). Read through a
/// volatile load so that the compiler keeps it as data the tests can find and replace.
#[used]
static MODE: [u8; 30] = *b"MANIFEST-MODE:normal\0\0\0\0\0\0\0\0\0\0";

fn mode() -> String {
    // SAFETY: reading an initialised static of plain bytes.
    let bytes = unsafe { std::ptr::read_volatile(&MODE) };
    String::from_utf8_lossy(&bytes[14..])
        .trim_end_matches('\0')
        .to_string()
}

fn step(name: String) -> StepInfo {
    StepInfo {
        name,
        description: "hostile manifest".into(),
        worker: "worker1".into(),
        params: "{}".into(),
    }
}

struct HostileManifest;

impl Guest for HostileManifest {
    fn manifest() -> Vec<StepInfo> {
        match mode().as_str() {
            "spin" => {
                let mut n = 0u64;
                loop {
                    n = black_box(n.wrapping_add(1));
                }
            }
            "sleep" => std::thread::sleep(std::time::Duration::from_secs(3600)),
            "alloc" => {
                let mut blocks: Vec<Vec<u8>> = Vec::new();
                loop {
                    blocks.push(black_box(vec![1u8; 1 << 20]));
                }
            }
            "huge" => return (0..150_000).map(|i| step(format!("s{i}"))).collect(),
            "longname" => return vec![step("n".repeat(65_536))],
            "dupes" => {
                return (0..10_000)
                    .map(|i| step(format!("d{}", i % 9_999)))
                    .collect();
            }
            "panic" => panic!("hostile manifest panics on purpose"),
            "exit" => std::process::exit(0),
            _ => {}
        }
        vec![step("ok".into())]
    }

    fn prepare(_step: String, _params: String) -> Result<String, String> {
        Ok("null".into())
    }

    fn execute(_step: String, _params: String, _prepared: String) -> Result<Outcome, String> {
        Ok(Outcome::Done("true".into()))
    }

    fn post_load() -> Result<(), String> {
        Ok(())
    }
}

export!(HostileManifest);
