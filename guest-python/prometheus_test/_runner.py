"""prometheus-test's runner, as steps see it: `get`/`set` with scopes, `config.<key>`,
`current_round`, `state[...]`, `get_worker`, `mongo_client`.

`runner.state` is a view of the runner's state, not a copy (`_state.py`): its scopes are
read and written by key with `runner.get`'s lookup (round, then global, then config.yaml)
and `runner.set`; the values under their keys are plain dicts and lists that are written
back when they change. `get` and `set` here go through the same per-step store, so
`runner.get` sees what a step changed through `runner.state`, and the views see what
`runner.set` stored.
"""

from typing import Any, Optional

import prometheus_step as _native

from ._db import MongoClient
from ._sandbox import SandboxError
from ._state import RunnerState, StateStore
from ._worker import Worker

# The seed's TestConfig fields: reading one that config.yaml does not set gives None
# (the seed's default is applied by the runner), any other missing key is an error.
_CONFIG_FIELDS = {
    "base_dir", "data_dir", "workers_config", "task_id", "base_port", "middle_server_url",
    "server_entrypoint", "max_rounds", "rounds_collection", "post_load_callback", "mongodb",
}


class _Config:
    """`runner.config`: config.yaml's keys as attributes (`runner.config.task_id`)."""

    def __getattr__(self, key: str) -> Any:
        if key.startswith("__"):
            raise AttributeError(key)
        if key == "task_id":
            return _native._config.task_id()
        value = _native.Runner().config(key)
        if value is None and key not in _CONFIG_FIELDS:
            raise AttributeError(f"'TestConfig' object has no attribute '{key}' (config.yaml has no key {key})")
        return value

    def get(self, key: str, default: Any = None) -> Any:
        """A key of config.yaml (dot notation reaches into maps), or `default`."""
        return _native.Runner().config(key, default)


class Runner:
    """The `runner` passed to prepare and execute."""

    def __init__(self) -> None:
        self._native = _native.Runner()
        self._store = StateStore()
        self.config = _Config()
        self.state = RunnerState(self._store)

    @property
    def current_round(self) -> int:
        """The current round, from 1."""
        return self._native.current_round

    def get(self, key: str) -> Any:
        """The value under `key`: the current round, then global, then config.yaml; dot
        notation walks nested objects; None when absent."""
        # What the step changed through runner.state under this key is written first.
        self._store.flush_key(key)
        return self._native.get(key)

    def set(self, key: str, value: Any, scope: str = "round") -> None:
        """Stores `value` under `key` in scope "round" (default) or "global"."""
        if scope == "execution":
            raise SandboxError(
                f"runner.set({key!r}, scope='execution'): the runner owns current_round and "
                "last_completed_step; a step cannot move them"
            )
        # Pending changes through runner.state go first; the views then read anew.
        self._store.settle(key)
        self._native.set(key, value, scope=scope)

    def _flush_state(self) -> None:
        """Writes back what the step changed through runner.state (the export shim calls
        it when prepare or execute returns)."""
        self._store.flush()

    def get_worker(self, name: str) -> Worker:
        """The worker called `name`."""
        if name not in _native._worker.names():
            raise KeyError(f"No worker found with name: {name}")
        return Worker(name)

    @property
    def mongo_client(self) -> MongoClient:
        """A pymongo-like client of the test's database."""
        return MongoClient()

    @property
    def max_rounds(self) -> Optional[int]:
        """`max_rounds` of config.yaml, None when the rounds come from a collection."""
        return self._native.config("max_rounds")

    def log_step(self, step: Any) -> None:
        """The runner prints the banners itself."""


class TestRunner:
    """prometheus-test's `TestRunner`, for modules (such as e2e.py) that build one at import:
    constructing it is harmless; `run` says how to run the package instead."""

    def __init__(self, steps: Any = None, config_file: Any = None, config_overrides: Any = None):
        self.steps = steps
        self.config_overrides = config_overrides or {}

    def run(self, force_reset: bool = False) -> None:
        raise SandboxError(
            "TestRunner.run: prometheus-wasm runs the steps; build the package (wasm/build.sh) "
            "and run `prometheus-wasm run wasm/plan.yaml`"
        )
