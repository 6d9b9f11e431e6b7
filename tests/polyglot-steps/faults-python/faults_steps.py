"""Faults applied by a Python step (`prometheus_faults`, built against the
`steps-with-faults` world): the same package as tests/components/step-faults in Rust,
which tests/faults.rs runs on the hello example's two workers.

| step | worker | does |
|---|---|---|
| kill-and-start | worker1 | asks to kill a worker that does not exist (a `FaultError`), then kills the worker named by config.yaml's `victim` (default `worker2`) and starts it again; returns both answers |
| error-then-clear | worker1 | only with config.yaml's `network_probe: true` (else skipped): worker2 answers 503 through its proxy, then 200 after `clear` |

tests/polyglot-steps/faults-js/faults-steps.js is the same package in JavaScript."""

from prometheus_faults import FaultError, clear, kill, network, start
from prometheus_step import TestStep, export_steps, fail, get, skip


def no_prepare(runner, worker):
    return None


def kill_and_start(runner, worker, data):
    try:
        kill("no-such-worker")
        fail("killing a worker that does not exist was not refused")
    except FaultError as e:
        refused = str(e)
    victim = runner.config("victim", "worker2")
    killed = kill(victim)
    started = start(victim)
    return {"refused": refused, "killed": killed, "started": started}


def error_then_clear(runner, worker, data):
    if not runner.config("network_probe", False):
        return skip("network_probe is not set")
    health = runner.worker("worker2").endpoint("/health")
    applied = network("worker2", {"http_error": {"status": 503, "rate": 1.0}}, for_="step")
    during = get(health).status
    cleared = clear("worker2")
    after = get(health).status
    if during != 503:
        fail(f"during the fault worker2 answered {during}, not 503")
    if after != 200:
        fail(f"after clear worker2 answered {after}, not 200")
    return {"set": applied, "during": during, "cleared": cleared, "after": after}


steps = [
    TestStep("kill-and-start", "kills a worker and starts it again", no_prepare, kill_and_start, "worker1"),
    TestStep("error-then-clear", "degrades worker2's network, then ends it", no_prepare, error_then_clear, "worker1"),
]
WitWorld = export_steps(steps)
