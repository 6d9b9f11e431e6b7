"""Faults on the test's own workers, applied by a Python step: kill, stop, start, restart,
pause and resume a worker, degrade its network and end that again (the WIT interface
`prometheus:step/faults`, the same calls as the Rust SDK's `faults` module).

The runner grants them only when config.yaml sets `faults_from_steps: true`; without it
the first call ends the step with an error naming that key. Each call returns the line
the run prints for the fault (`killed worker2 (pid 4242)`) and raises `FaultError` (a
`StepFailed`: the step fails with its message) when the runner refuses it::

    from prometheus_faults import kill, start

    def execute(runner, worker, data):
        killed = kill("worker2")
        started = start("worker2")
        return {"killed": killed, "started": started}

Build against the `steps-with-faults` world, which adds this one import to `steps`::

    componentize-py -d wit -w steps-with-faults componentize MODULE -p DIR -p guest-python -o steps.wasm

A package built against `steps` cannot import this module: it says how to build instead.
"""

import json as _json
from typing import Any, Optional

from componentize_py_types import Err

from prometheus_step import StepFailed

try:
    from wit_world.imports import faults as _faults
except ImportError:  # built against `steps`: the interface is not there
    _faults = None


class FaultError(StepFailed):
    """The runner refused a fault (an unknown worker, an external one, bad settings)."""


def _call(what: str, worker: str, *args: Any) -> str:
    if _faults is None:
        raise FaultError(
            "this package was built against the `steps` world, which has no faults: build "
            "it with `componentize-py -d wit -w steps-with-faults componentize …`"
        )
    try:
        return getattr(_faults, what)(worker, *args)
    except Err as e:
        raise FaultError(f"{what} {worker}: {e.value}") from None


def kill(worker: str) -> str:
    """SIGKILL to the worker's process group; returns once it is reaped."""
    return _call("kill", worker)


def stop(worker: str) -> str:
    """SIGTERM, the grace period, then SIGKILL to what is left."""
    return _call("stop", worker)


def start(worker: str) -> str:
    """Starts a worker that is down again (same program, environment and data); returns
    once it is ready."""
    return _call("start", worker)


def restart(worker: str) -> str:
    """`stop` then `start`."""
    return _call("restart", worker)


def pause(worker: str) -> str:
    """SIGSTOP: the worker holds every request until `resume`."""
    return _call("pause", worker)


def resume(worker: str) -> str:
    """SIGCONT after `pause`."""
    return _call("resume", worker)


def network(worker: str, settings: Optional[dict] = None, **keys: Any) -> str:
    """Degrades the network to `worker` through its fault proxy: the keys of a `network:`
    fault of config.yaml except `worker` (`latency_ms`, `jitter_ms`, `bandwidth_kbps`,
    `reset_rate`, `http_error`, `hang`) and optionally `for` (`step`, `round`, `run`),
    as a dict or as keyword arguments (`for_="step"` for `for`)."""
    merged = dict(settings or {})
    for key, value in keys.items():
        merged["for" if key == "for_" else key] = value
    return _call("network", worker, _json.dumps(merged))


def clear(worker: str) -> str:
    """Ends the network fault on `worker`, if any."""
    return _call("clear", worker)
