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

import nacl.signing

REPEATS = int(os.environ.get("REPEATS", "3"))
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
    db = runner.mongo_client[runner.config.mongodb["database"]]
    index = (runner.current_round * 1000 + n) % DOCS
    doc = db["docs"].find_one({{"taskId": runner.config.task_id, "index": index}})
    return {{"index": doc["index"], "text": doc["text"]}}

def execute(runner, worker, data, n):
    payload = {{"taskId": runner.config.task_id, "roundNumber": runner.current_round,
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
    rows = []
    for workers, rounds, steps in [(3, 3, 3), (10, 10, 10)]:
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
        times = {"reference": [], "remote": [], "embedded": []}
        for _ in range(REPEATS):
            times["reference"].append(timed([venv_python, "e2e.py"], folder, ref_env))
            times["remote"].append(timed(cmd, folder, ours_remote))
            times["embedded"].append(timed(cmd, folder, ours_embedded))
        med = {k: statistics.median(v) for k, v in times.items()}
        rows.append((workers, rounds, steps, med))
    print(f"| scenario (workers × rounds × steps) | prometheus-test 0.1.10 | "
          f"prometheus-wasm, MongoDB wire | prometheus-wasm, embedded store | "
          f"ratio (wire) | ratio (embedded) |")
    print("|---|---|---|---|---|---|")
    for workers, rounds, steps, med in rows:
        print(f"| {workers} × {rounds} × {steps} | {med['reference']:.2f} s | "
              f"{med['remote']:.2f} s | {med['embedded']:.2f} s | "
              f"{med['reference'] / med['remote']:.1f}× | "
              f"{med['reference'] / med['embedded']:.1f}× |")
    print(f"\nmedian of {REPEATS} runs each; wall time from process start to exit")


if __name__ == "__main__":
    main()
