"""End-to-end comparison of prometheus-wasm with prometheus-test 0.1.10 (PyPI).

Run by scripts/bench-reference.sh (which makes the venv and builds the binaries); never by
the test suite. For each scenario W workers x R rounds x S steps it writes one test folder
that both frameworks run unchanged:

- stdlib-Python workers (worker.py: POST /submit answers {"success": true}),
- a MongoDB collection `docs` of 200 documents seeded from data/docs.json (SecantusDB,
  the same server for both),
- per step: read one document, sign {taskId, roundNumber, step, docIndex, text} with the
  step's worker's staking key (Koii payload signing), POST it to the worker, store the
  signature in the round state.

The reference runs steps.py through e2e.py; prometheus-wasm runs plan.yaml (the
bench-task component, one use per step). Each is timed wall-clock from process start to
exit, --reset/fresh each time, median of REPEATS runs. Prints a Markdown table.

The floor is what the machine allows for the same work, with no framework at all: start
the same workers together, poll their ports until the slowest answers, then make the
steps' HTTP requests directly (one keep-alive connection per worker, bodies signed
beforehand). Every scenario prints wall / floor for both of our backends. With
REFERENCE=0 (or when prometheus-test could not be installed) the reference is left out and
the rest runs alone. After the timed runs, one more run per backend with --json gives
the phases of the run (the report's `timings`), printed under the table.

The trivial-step scenario (`trivial` in SCENARIOS; on by default) measures a step that does
next to nothing as a full run reports it: tests/components/trail (each step one
`state.get` and three `state.set`, no HTTP, no MongoDB) on one stdlib-Python worker, 1 ×
TRIVIAL_ROUNDS × 5 steps, REPEATS runs with --json; it prints the median and p90 over every
step of every run of the report's `duration_ms` and of each part of the `timings`.
"""

import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import http.client

import nacl.signing

REPEATS = int(os.environ.get("REPEATS", "3"))
REFERENCE = os.environ.get("REFERENCE", "1") != "0"
# (workers, rounds, steps); SCENARIOS="3x3x3,3x100x3" picks some ("trivial": the
# trivial-step scenario).
ALL_SCENARIOS = [(3, 3, 3), (10, 10, 10), (3, 100, 3)]
TRIVIAL_ROUNDS = int(os.environ.get("TRIVIAL_ROUNDS", "200"))
DOCS = 200
ROOT = Path(__file__).resolve().parent.parent

WORKER_PY = r'''
import json, os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def _send(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    def do_GET(self):
        self._send(200, {"ok": True})
    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        body = json.loads(self.rfile.read(length) or b"{}")
        ok = bool(body.get("signature")) and bool(body.get("stakingKey"))
        self._send(200, {"success": ok})
    def log_message(self, *args):
        pass

ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
'''

STEPS_PY = r'''
import functools, requests
from prometheus_test import TestStep
from prometheus_test.utils import create_signature

DOCS = {docs}

def prepare(runner, worker, n):
    db = runner.mongo_client[runner.get("mongodb")["database"]]
    index = (runner.get("current_round") * 1000 + n) % DOCS
    doc = db["docs"].find_one({{"taskId": runner.get("task_id"), "index": index}})
    return {{"index": doc["index"], "text": doc["text"]}}

def execute(runner, worker, data, n):
    payload = {{"taskId": runner.get("task_id"), "roundNumber": runner.get("current_round"),
               "step": f"step{{n}}", "docIndex": data["index"], "text": data["text"]}}
    signature = create_signature(worker.get_key("staking_signing"), payload)
    response = requests.post(worker.get("url") + "/submit",
                             json={{"signature": signature,
                                   "stakingKey": worker.get_key("staking_public")}})
    if not response.json().get("success"):
        return {{"success": False, "error": "rejected"}}
    runner.set(f"submissions.step{{n}}", signature)
    return {{"success": True}}

steps = [
    TestStep(name=f"step{{n}}", description="submit", worker=f"worker{{n % {workers} + 1}}",
             prepare=functools.partial(prepare, n=n),
             execute=functools.partial(execute, n=n))
    for n in range({steps})
]
'''

E2E_PY = r'''
from pathlib import Path
from prometheus_test import TestRunner
from steps import steps

TestRunner(steps, config_file=Path(__file__).parent / "config.yaml").run(force_reset=True)
'''


def free_port_block(n):
    """A base port with n free ports after it."""
    for _ in range(200):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            base = s.getsockname()[1]
        if base + n >= 65000:
            continue
        ok = True
        for p in range(base, base + n):
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", p))
                except OSError:
                    ok = False
                    break
        if ok:
            return base
    raise RuntimeError("no free port block")


def scenario(root, workers, rounds, steps):
    """Writes the test folder; returns (folder, environment with the keypair paths)."""
    folder = root / f"{workers}x{rounds}x{steps}"
    if folder.exists():
        shutil.rmtree(folder)
    (folder / "data").mkdir(parents=True)
    (folder / "keys").mkdir()
    (folder / "worker.py").write_text(WORKER_PY)
    env = {}
    entries = {}
    for w in range(1, workers + 1):
        key = nacl.signing.SigningKey(bytes([w]) * 32)
        path = folder / "keys" / f"worker{w}.json"
        path.write_text(json.dumps(list(bytes(key) + bytes(key.verify_key))))
        env[f"WORKER{w}_STAKING_KEYPAIR"] = str(path)
        entries[f"worker{w}"] = {
            "server_entrypoint": str(folder / "worker.py"),
            "keypairs": {"staking": f"WORKER{w}_STAKING_KEYPAIR"},
        }
    (folder / "workers.json").write_text(json.dumps(entries, indent=2))
    docs = [{"index": i, "text": f"document {i} " + "lorem ipsum " * 8} for i in range(DOCS)]
    (folder / "data" / "docs.json").write_text(json.dumps(docs))
    (folder / "config.yaml").write_text(
        f"task_id: bench\n"
        f"base_port: {free_port_block(workers)}\n"
        f"max_rounds: {rounds}\n"
        f"data_dir: data\n"
        f"workers_config: workers.json\n"
        f"docs_count: {DOCS}\n"
        f"mongodb:\n"
        f"  database: bench_{workers}x{rounds}x{steps}\n"
        f"  collections:\n"
        f"    docs:\n"
        f"      data_file: docs.json\n"
        f"      required_count: {DOCS}\n"
    )
    (folder / "steps.py").write_text(STEPS_PY.format(docs=DOCS, workers=workers, steps=steps))
    (folder / "e2e.py").write_text(E2E_PY)
    wasm = ROOT / "target/wasm32-wasip2/guest/bench_task.wasm"
    shutil.copy(wasm, folder / "bench_task.wasm")
    plan = ["packages:", "  bench:", "    path: bench_task.wasm", "steps:"]
    for n in range(steps):
        plan += [
            "  - use: bench/submit",
            f"    name: step{n}",
            f"    worker: worker{n % workers + 1}",
            f"    params: {{n: {n}}}",
        ]
    (folder / "plan.yaml").write_text("\n".join(plan) + "\n")
    return folder, env


def floor(folder, workers, rounds, steps, mongo=None):
    """Seconds from spawning the workers to the last of the steps' requests answered.

    With `mongo` (uri, database), the floor also does the test's own MongoDB work the way a
    script with pymongo would: seed the `docs` collection (delete, one insert_many) before
    the workers start, as the runner does, and read each step's document before its POST.
    That is the same work the wire backend does, so wire / that floor is the runner's
    overhead; the plain floor leaves out a Python server's ~3 ms per call."""
    config = (folder / "config.yaml").read_text()
    base = int(next(l.split(":")[1] for l in config.splitlines() if l.startswith("base_port")))
    keys = [nacl.signing.SigningKey(bytes([w]) * 32) for w in range(1, workers + 1)]
    bodies = {}
    for r in range(1, rounds + 1):
        for n in range(steps):
            w = n % workers
            payload = json.dumps({"taskId": "bench", "roundNumber": r, "step": f"step{n}",
                                  "docIndex": (r * 1000 + n) % DOCS}, sort_keys=True)
            signed = keys[w].sign(payload.encode())
            bodies[(r, n)] = json.dumps({"signature": signed.hex(),
                                         "stakingKey": keys[w].verify_key.encode().hex()})
    env = dict(os.environ)
    docs_coll = None
    started = time.monotonic()
    if mongo is not None:
        import pymongo
        client = pymongo.MongoClient(mongo[0])
        docs_coll = client[mongo[1]]["docs"]
        seed = json.loads((folder / "data" / "docs.json").read_text())
        docs_coll.delete_many({})
        docs_coll.insert_many([dict(d, taskId="bench") for d in seed])
    procs = [subprocess.Popen(["python3", str(folder / "worker.py")],
                              env=dict(env, PORT=str(base + w)), cwd=folder)
             for w in range(workers)]
    try:
        pending = set(range(workers))
        while pending:
            for w in list(pending):
                try:
                    socket.create_connection(("127.0.0.1", base + w), 0.05).close()
                    pending.discard(w)
                except OSError:
                    pass
            if pending:
                time.sleep(0.001)
        ready = time.monotonic()
        conns = [http.client.HTTPConnection("127.0.0.1", base + w) for w in range(workers)]
        for r in range(1, rounds + 1):
            for n in range(steps):
                c = conns[n % workers]
                if docs_coll is not None:
                    doc = docs_coll.find_one({"taskId": "bench",
                                              "index": (r * 1000 + n) % DOCS})
                    assert doc is not None
                c.request("POST", "/submit", body=bodies[(r, n)],
                          headers={"Content-Type": "application/json"})
                answer = json.loads(c.getresponse().read())
                assert answer.get("success"), answer
        ended = time.monotonic()
        for c in conns:
            c.close()
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait()
        if docs_coll is not None:
            docs_coll.database.client.close()
    return ended - started, ready - started


def phases(cmd, folder, env):
    """The phases of one run, from the --json report's timings (milliseconds)."""
    report = folder / "timings.json"
    timed(cmd + ["--json", str(report)], folder, env)
    t = json.loads(report.read_text()).get("timings")
    if t is None:
        return None  # a build from before `timings` (a before/after comparison)
    steps = t["steps_total"]
    count = max(steps["count"], 1)
    cases = json.loads(report.read_text())["cases"]
    mongo = [call["duration_ms"] for c in cases for a in c["attempts"] for call in a["calls"]
             if call["kind"] == "mongo"]
    return {**{k.removesuffix("_ms"): v for k, v in t["phases"].items()},
            "per_step_us": 1000 * steps["duration_ms"] / count,
            "checkpoint_us": 1000 * steps["checkpoint_ms"] / count,
            "round_ends": steps["round_ends_ms"],
            "mongo_calls_per_step": len(mongo) / count,
            "mongo_call_us": 1000 * statistics.median(mongo) if mongo else 0.0}


def pymongo_find_one_us(mongo_uri, database, samples=300):
    """Median µs of the steps' find_one made by pymongo on the same server and data: what
    one MongoDB call costs without our runner (the floor makes none)."""
    import pymongo
    client = pymongo.MongoClient(mongo_uri)
    docs = client[database]["docs"]
    times = []
    for i in range(samples):
        started = time.perf_counter()
        docs.find_one({"taskId": "bench", "index": (i * 7) % DOCS})
        times.append(time.perf_counter() - started)
    client.close()
    return 1e6 * statistics.median(times)


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def trivial(root, runner):
    """The trivial step as a full run reports it: prints a table of median and p90 (µs)."""
    folder = root / "trivial"
    if folder.exists():
        shutil.rmtree(folder)
    (folder / "data").mkdir(parents=True)
    (folder / "worker.py").write_text(WORKER_PY)
    (folder / "workers.json").write_text(json.dumps(
        {"worker1": {"server_entrypoint": str(folder / "worker.py")}}, indent=2))
    (folder / "config.yaml").write_text(
        f"task_id: bench\n"
        f"base_port: {free_port_block(1)}\n"
        f"max_rounds: {TRIVIAL_ROUNDS}\n"
        f"data_dir: data\n"
        f"workers_config: workers.json\n"
    )
    shutil.copy(ROOT / "target/wasm32-wasip2/guest/trail.wasm", folder / "steps.wasm")
    env = dict(os.environ, NO_COLOR="1", PROMETHEUS_WASM_CACHE_DIR=str(root / "cache"))
    env.pop("MONGO_URI", None)
    env.pop("RUST_BACKTRACE", None)
    cmd = [runner, "run", "steps.wasm", "--reset", "--json", str(folder / "report.json")]
    timed(cmd, folder, env)  # warm-up: compiles the component into the cache
    reported, parts = [], {}
    for _ in range(REPEATS):
        timed(cmd, folder, env)
        report = json.loads((folder / "report.json").read_text())
        reported += [1000 * a["duration_ms"] for c in report["cases"] for a in c["attempts"]]
        for s in (report.get("timings") or {}).get("steps", []):
            for key, value in s.items():
                if key.endswith("_ms"):
                    parts.setdefault(key.removesuffix("_ms"), []).append(1000 * value)
    print(f"\n| trivial step (trail: 1 get, 3 sets), 1 × {TRIVIAL_ROUNDS} × 5, "
          f"{REPEATS} runs, {len(reported)} steps | median µs | p90 µs |")
    print("|---|---|---|")
    print(f"| report `duration_ms` | {statistics.median(reported):.0f} | "
          f"{percentile(reported, 0.9):.0f} |")
    for key, values in parts.items():
        print(f"| timings `{key}` | {statistics.median(values):.0f} | "
              f"{percentile(values, 0.9):.0f} |")


def timed(cmd, cwd, env):
    started = time.monotonic()
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.monotonic() - started
    if done.returncode != 0:
        sys.stderr.write(f"{' '.join(map(str, cmd))} failed ({done.returncode}):\n"
                         f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}\n")
        raise SystemExit(1)
    return elapsed


def main():
    mongo_uri, venv_python, runner, out = sys.argv[1:5]
    root = Path(out)
    wanted = os.environ.get("SCENARIOS")
    scenarios = [sc for sc in ALL_SCENARIOS
                 if not wanted or "x".join(map(str, sc)) in wanted.split(",")]
    with_trivial = not wanted or "trivial" in wanted.split(",")
    rows = []
    breakdown = []
    mongo_calls = []
    for workers, rounds, steps in scenarios:
        folder, keys = scenario(root, workers, rounds, steps)
        base = dict(os.environ, **keys)
        base.pop("RUST_BACKTRACE", None)
        ref_env = dict(base, MONGO_URI=mongo_uri)
        ours_remote = dict(base, MONGO_URI=mongo_uri, NO_COLOR="1")
        ours_embedded = dict(base, NO_COLOR="1")
        ours_embedded.pop("MONGO_URI", None)
        cmd = [runner, "run", "plan.yaml", "--reset"]
        for env in (ours_remote, ours_embedded):
            env["PROMETHEUS_WASM_CACHE_DIR"] = str(root / "cache")
        # One warm-up run compiles the component into the cache, as any second run finds it.
        timed(cmd, folder, ours_embedded)
        times = {"reference": [], "remote": [], "embedded": [], "floor": [], "ready": [],
                 "floor_mongo": []}
        database = f"bench_{workers}x{rounds}x{steps}"
        for _ in range(REPEATS):
            if REFERENCE:
                times["reference"].append(timed([venv_python, "e2e.py"], folder, ref_env))
            times["remote"].append(timed(cmd, folder, ours_remote))
            times["embedded"].append(timed(cmd, folder, ours_embedded))
            total, ready = floor(folder, workers, rounds, steps)
            times["floor"].append(total)
            times["ready"].append(ready)
            times["floor_mongo"].append(
                floor(folder, workers, rounds, steps, (mongo_uri, database))[0])
        med = {k: statistics.median(v) for k, v in times.items() if v}
        rows.append((workers, rounds, steps, med))
        for name, env in (("wire", ours_remote), ("embedded", ours_embedded)):
            breakdown.append((f"{workers} × {rounds} × {steps}", name, phases(cmd, folder, env)))
        mongo_calls.append((f"{workers} × {rounds} × {steps}",
                            pymongo_find_one_us(mongo_uri, f"bench_{workers}x{rounds}x{steps}")))
    if not rows:
        if with_trivial:
            trivial(root, runner)
        return
    ref_head = " prometheus-test 0.1.10 |" if REFERENCE else ""
    print(f"| scenario (workers × rounds × steps) | floor (workers ready) | "
          f"floor + MongoDB work |{ref_head} "
          f"prometheus-wasm, MongoDB wire | prometheus-wasm, embedded store | "
          f"wire / floor | wire / floor + MongoDB | embedded / floor |")
    print("|---|---|---|" + ("---|" if REFERENCE else "") + "---|---|---|---|---|")
    for workers, rounds, steps, med in rows:
        ref = f" {med['reference']:.3f} s |" if REFERENCE else ""
        print(f"| {workers} × {rounds} × {steps} | {med['floor']:.3f} s ({med['ready']:.3f} s) | "
              f"{med['floor_mongo']:.3f} s |"
              f"{ref} {med['remote']:.3f} s | {med['embedded']:.3f} s | "
              f"{med['remote'] / med['floor']:.2f} | "
              f"{med['remote'] / med['floor_mongo']:.2f} | "
              f"{med['embedded'] / med['floor']:.2f} |")
    print(f"\nmedian of {REPEATS} runs each; wall time from process start to exit; "
          f"floor + MongoDB work: the floor that also seeds the collection with pymongo "
          f"and reads each step's document, as the wire backend does")
    keys = ["load", "preflight", "seeding", "workers_ready", "post_load", "steps", "stop"]
    print("\n| scenario | backend | " + " | ".join(f"{k} ms" for k in keys)
          + " | per step µs | checkpoint µs/step | round ends ms |")
    print("|---|---|" + "---|" * (len(keys) + 3))
    for label, name, p in breakdown:
        if p is None:
            print(f"| {label} | {name} | " + " | ".join(["—"] * (len(keys) + 3)) + " |")
            continue
        cells = " | ".join(f"{p.get(k, 0):.1f}" for k in keys)
        print(f"| {label} | {name} | {cells} | {p['per_step_us']:.0f} | "
              f"{p['checkpoint_us']:.0f} | {p['round_ends']:.1f} |")
    print("\n| scenario | backend | MongoDB calls per step | median call µs (ours) | "
          "median find_one µs (pymongo, same server) |")
    print("|---|---|---|---|---|")
    for (label, name, p), (_, py) in zip(breakdown, [m for m in mongo_calls for _ in (0, 1)]):
        if p is not None:
            print(f"| {label} | {name} | {p['mongo_calls_per_step']:.1f} | "
                  f"{p['mongo_call_us']:.0f} | {py:.0f} |")
    if with_trivial:
        trivial(root, runner)


if __name__ == "__main__":
    main()
