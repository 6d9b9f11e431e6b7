//! A hostile step package: each step does one thing a sandboxed step must not get away
//! with. config.yaml's `hostile` names the step that misbehaves; every other step skips,
//! except `warm-up`, which always completes, so the saved state has a last completed step.
//!
//! | step | does |
//! |---|---|
//! | `warm-up` | nothing (completes) |
//! | `loop-in-prepare` | loops forever in `prepare` |
//! | `loop-in-execute` | loops forever in `execute` (`spin_iterations` times if set) |
//! | `sleep-in-execute` | sleeps an hour (waits in a host call) |
//! | `allocate-forever` | allocates 1 MiB blocks without bound |
//! | `deep-recursion` | recurses without bound |
//! | `request-unknown-port` | GET `http://127.0.0.1:{hostile_port}/`, no worker there |
//! | `redirect-to-forbidden` | GET worker1's `/redirect?to=http://127.0.0.1:{hostile_port}/` |
//! | `open-file` | reads `{hostile_path}`, lists `/` and `.`, creates a file |
//! | `read-env` | reads every environment variable and the arguments |
//! | `open-socket` | TCP connect to `127.0.0.1:{hostile_port}`, resolves `localhost` |
//! | `flood-stdout` | writes 8 MiB to stdout |
//! | `panic` | panics |
//! | `exit` | exits the process with status 0 (a WASI exit: a trap with a cause) |
//! | `slow-store-query` | inserts `store_docs` (20 000) documents, then counts them with a `$or` of as many clauses: one embedded-store call of minutes |
//! | `leave-a-secret` | (with `hostile: leftovers`) writes a pattern all over 24 MiB of heap and static memory and completes |
//! | `look-for-secrets` | (with `hostile: leftovers`) scans its whole linear memory for that pattern; completes only if none is found |
//!
//! The last two run one after the other in the same round: each step is a fresh instance,
//! and whatever memory slot the host hands the second (a reused one, with the pooling
//! allocator) must read as new. The pattern is computed, never stored in the binary, so the
//! only copies are the ones the first step wrote.
//! A denial the guest sees (an error value) fails the step with that error as its message;
//! if an attempt ever succeeded, the step would complete and the test would see exit 0.

use std::hint::black_box;
use std::io::Write;

use prometheus_step::{Ctx, Error, Outcome, Steps, fail};

/// The steps that misbehave, in manifest order after `warm-up`.
const HOSTILE: [&str; 14] = [
    "loop-in-prepare",
    "loop-in-execute",
    "sleep-in-execute",
    "allocate-forever",
    "deep-recursion",
    "request-unknown-port",
    "redirect-to-forbidden",
    "open-file",
    "read-env",
    "open-socket",
    "flood-stdout",
    "panic",
    "exit",
    "slow-store-query",
];

/// The steps that check no step sees another's memory (active with `hostile: leftovers`).
const LEFTOVERS: [&str; 2] = ["leave-a-secret", "look-for-secrets"];

/// Length of the pattern [`leave_a_secret`] writes and [`look_for_secrets`] looks for.
const SECRET_LEN: usize = 64;

/// Static memory the planting step fills too (data the image does not initialise).
static mut PLANTED: [u8; 4096] = [0; 4096];

fn steps() -> Steps {
    let mut steps = Steps::new().step(
        "warm-up",
        "Completes, so a later failure has a last completed step",
        "worker1",
        |_: &Ctx, _: ()| Ok(()),
        |_: &Ctx, _: (), _: ()| Ok(Outcome::done(true)),
    );
    for name in HOSTILE {
        steps = steps.step(name, "hostile", "worker1", prepare, execute);
    }
    for name in LEFTOVERS {
        steps = steps.step(
            name,
            "memory isolation",
            "worker1",
            |_: &Ctx, _: ()| Ok(()),
            leftovers,
        );
    }
    steps
}

prometheus_step::export_steps!(steps);

/// Whether config.yaml's `hostile` names the running step.
fn active(ctx: &Ctx) -> Result<bool, Error> {
    Ok(ctx.config::<String>("hostile")?.as_deref() == ctx.step())
}

fn prepare(ctx: &Ctx, _: ()) -> Result<(), Error> {
    if active(ctx)? && ctx.step() == Some("loop-in-prepare") {
        spin();
    }
    Ok(())
}

fn execute(ctx: &Ctx, _: (), _: ()) -> Result<Outcome, Error> {
    if !active(ctx)? {
        return Ok(Outcome::skip("not the hostile step of this test"));
    }
    let port: u16 = ctx.config("hostile_port")?.unwrap_or(9);
    let step = ctx.step().unwrap_or_default().to_owned();
    match step.as_str() {
        // `spin_iterations` turns the loop into a finite CPU-bound step (for benchmarks).
        "loop-in-execute" => match ctx.config::<u64>("spin_iterations")? {
            Some(n) => return Ok(Outcome::done(spin_for(n))),
            None => spin(),
        },
        "sleep-in-execute" => std::thread::sleep(std::time::Duration::from_secs(3600)),
        "allocate-forever" => {
            let mut blocks: Vec<Vec<u8>> = Vec::new();
            loop {
                blocks.push(black_box(vec![1u8; 1 << 20]));
            }
        }
        "deep-recursion" => {
            black_box(recurse(black_box(0)));
        }
        "request-unknown-port" => {
            prometheus_step::get(format!("http://127.0.0.1:{port}/"))?;
        }
        "redirect-to-forbidden" => {
            let target = format!("http://127.0.0.1:{port}/");
            let url = ctx.worker_endpoint(None, &format!("/redirect?to={target}"))?;
            prometheus_step::get(url)?;
        }
        "open-file" => {
            let path: String = ctx.config("hostile_path")?.unwrap_or("/etc/passwd".into());
            let read = std::fs::read_to_string(&path).map(|_| ());
            let list = std::fs::read_dir("/").map(|_| ());
            let here = std::fs::read_dir(".").map(|_| ());
            let create = std::fs::write("hostile.txt", "x");
            report(
                "filesystem",
                [
                    (format!("read {path}"), read),
                    ("list /".into(), list),
                    ("list .".into(), here),
                    ("create hostile.txt".into(), create),
                ],
            )?;
        }
        "read-env" => {
            let vars: Vec<String> = std::env::vars().map(|(k, v)| format!("{k}={v}")).collect();
            let args: Vec<String> = std::env::args().collect();
            if !vars.is_empty() || !args.is_empty() {
                return Ok(Outcome::done(format!("env {vars:?} args {args:?}")));
            }
            fail!("environment denied: no variable and no argument is visible");
        }
        "open-socket" => {
            let connect = std::net::TcpStream::connect(("127.0.0.1", port)).map(|_| ());
            let lookup = std::net::ToSocketAddrs::to_socket_addrs(&("localhost", port)).map(|_| ());
            report(
                "sockets",
                [
                    (format!("connect 127.0.0.1:{port}"), connect),
                    ("resolve localhost".into(), lookup),
                ],
            )?;
        }
        "flood-stdout" => {
            let line = [b'x'; 1023];
            let mut out = std::io::stdout().lock();
            for _ in 0..8 * 1024 {
                out.write_all(&line).map_err(Error::msg)?;
                out.write_all(b"\n").map_err(Error::msg)?;
            }
        }
        "panic" => panic!("hostile step panics on purpose"),
        "exit" => std::process::exit(0),
        "slow-store-query" => {
            let n: u64 = ctx.config("store_docs")?.unwrap_or(20_000);
            let docs: Vec<_> = (0..n).map(|i| prometheus_step::json!({ "n": i })).collect();
            let coll = prometheus_step::mongo::collection("hostile");
            coll.insert_many(&docs)?;
            let clauses: Vec<_> = (0..n).map(|i| prometheus_step::json!({ "n": i })).collect();
            let count = coll.count(prometheus_step::json!({ "$or": clauses }))?;
            return Ok(Outcome::done(count));
        }
        _ => fail!("unknown hostile step `{step}`"),
    }
    Ok(Outcome::done(format!("{step} got through")))
}

/// `leave-a-secret` and `look-for-secrets`, when config.yaml's `hostile` is `leftovers`.
fn leftovers(ctx: &Ctx, _: (), _: ()) -> Result<Outcome, Error> {
    if ctx.config::<String>("hostile")?.as_deref() != Some("leftovers") {
        return Ok(Outcome::skip("not the hostile step of this test"));
    }
    if ctx.step() == Some("leave-a-secret") {
        // The scanner must see every copy written here, or finding none later proves nothing.
        let (written, seen) = leave_a_secret();
        if seen != written {
            fail!("the scanner saw {seen} of the {written} copies this step wrote");
        }
        return Ok(Outcome::done(written));
    }
    match look_for_secrets() {
        0 => Ok(Outcome::done("no byte of the previous step is visible")),
        n => fail!("found {n} copies of the previous step's secret in this step's memory"),
    }
}

/// Byte `i` of the secret: computed, so the binary holds no copy.
fn secret_byte(i: usize) -> u8 {
    (black_box(i) as u8).wrapping_mul(31).wrapping_add(7) ^ 0xa5
}

/// Writes the secret every 4 KiB over 24 MiB of heap (past any part of memory a host
/// might keep resident) and over [`PLANTED`], then leaks the heap so it stays written.
/// Returns the copies written and the copies [`look_for_secrets`] then finds.
fn leave_a_secret() -> (usize, usize) {
    let mut heap = vec![0u8; 24 << 20];
    let mut copies = 0;
    for page in heap.chunks_mut(4096) {
        for (i, b) in page[..SECRET_LEN].iter_mut().enumerate() {
            *b = secret_byte(i);
        }
        copies += 1;
    }
    // Volatile: nothing reads the static back, so plain writes could be optimised away.
    let planted = std::ptr::addr_of_mut!(PLANTED).cast::<u8>();
    for i in 0..SECRET_LEN {
        // SAFETY: within the static; a single-threaded guest, nothing else touches it.
        unsafe { planted.add(i).write_volatile(secret_byte(i)) };
    }
    std::mem::forget(black_box(heap));
    (copies + 1, look_for_secrets())
}

/// Copies of the secret anywhere in this instance's linear memory, grown first by more
/// than the planting step wrote (a fresh instance starts small; growing is what would
/// expose pages a reused slot kept).
fn look_for_secrets() -> usize {
    #[cfg(target_arch = "wasm32")]
    let size = {
        core::arch::wasm32::memory_grow(0, (32 << 20) / 65536);
        core::arch::wasm32::memory_size(0) * 65536
    };
    #[cfg(not(target_arch = "wasm32"))]
    let size: usize = 0;
    let mut found = 0;
    // Address 0 is valid linear memory in wasm; start past it all the same.
    for at in 1..size.saturating_sub(SECRET_LEN) {
        // SAFETY: every address below memory_size is readable linear memory.
        let byte = |i: usize| unsafe { std::ptr::read_volatile((at + i) as *const u8) };
        if byte(0) == secret_byte(0) && (1..SECRET_LEN).all(|i| byte(i) == secret_byte(i)) {
            found += 1;
        }
    }
    found
}

/// Succeeds (the step completes, the test fails) if any attempt succeeded; otherwise fails
/// the step with every denial.
fn report<const N: usize>(
    what: &str,
    attempts: [(String, std::io::Result<()>); N],
) -> Result<(), Error> {
    let mut denials = Vec::new();
    for (label, attempt) in attempts {
        match attempt {
            Ok(()) => return Ok(()),
            Err(e) => denials.push(format!("{label}: {e}")),
        }
    }
    fail!("{what} denied: {}", denials.join("; "))
}

fn spin() -> ! {
    let mut n = 0u64;
    loop {
        n = black_box(n.wrapping_add(1));
    }
}

fn spin_for(iterations: u64) -> u64 {
    let mut n = 0u64;
    for _ in 0..iterations {
        n = black_box(n.wrapping_add(1));
    }
    n
}

fn recurse(depth: u64) -> u64 {
    if black_box(depth) == u64::MAX {
        return 0;
    }
    black_box(recurse(black_box(depth + 1))) + 1
}
