"""prometheus-test's API for steps, inside a prometheus-wasm step package.

Steps written for the Python framework prometheus-test (0.1.x) run in the sandbox with
their imports unchanged::

    from prometheus_test import TestStep
    from prometheus_test.utils import create_signature
    import requests

    steps = [TestStep(name="submit", description="...", prepare=prepare,
                      execute=partial(execute, role="worker"), worker="worker1")]

and a generated entry module exports them: `WitWorld = export_steps(steps)`
(`prometheus-wasm migrate` writes it). What differs from the seed, and why, is in
docs/migrating-from-prometheus-test.md: signing keys are opaque handles (the host signs),
`runner.state` is a view of the runner's state (`RunnerState`, whose scopes are
`StateScope`s read and written by key), and what cannot work in a sandbox (files,
processes, sockets, the environment) raises `SandboxError` saying what to use instead.
"""

from ._sandbox import SandboxError, install_guards, stub_modules
from ._steps import TestStep, export_steps
from ._runner import TestRunner, Runner
from ._state import RunnerState, StateRounds, StateScope
from ._worker import Worker, SigningKey

__all__ = [
    "TestStep",
    "TestRunner",
    "Runner",
    "RunnerState",
    "StateRounds",
    "StateScope",
    "Worker",
    "SigningKey",
    "SandboxError",
    "export_steps",
    "stub_modules",
]

install_guards()
