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
//!
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
