"""prometheus-test's runner, as steps see it: `get`/`set` with scopes, `config.<key>`,
`current_round`, `state[...]`, `get_worker`, `mongo_client`.

`runner.state` is a view of the runner's state, not a copy: `state["rounds"][str(round)]`
(the current round only) and `state["global"]` read keys by name with `runner.get`'s
lookup (round, then global, then config.yaml), and assigning through them is
`runner.set(key, value, scope)`. Other rounds cannot be read from a step, and the state
cannot be listed: keep what later rounds need with `runner.set(key, value, scope="global")`.
"""

from typing import Any, Optional

import prometheus_step as _native

from ._db import MongoClient
from ._sandbox import SandboxError
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


class _Scope:
    """A state object of one scope (the current round, or global), read and written by key.
    Nested objects come back as views too, so `state["global"]["a"]["b"] = 1` sets `a.b`."""

    def __init__(self, runner: "Runner", scope: str, prefix: str = ""):
        self._runner = runner
        self._scope = scope
        self._prefix = prefix

    def _key(self, key: Any) -> str:
        return f"{self._prefix}{key}"

    def _wrap(self, key: str, value: Any) -> Any:
        return _Scope(self._runner, self._scope, key + ".") if isinstance(value, dict) else value

    def __getitem__(self, key: Any) -> Any:
        full = self._key(key)
        value = self._runner.get(full)
        if value is None:
            raise KeyError(key)
        return self._wrap(full, value)

    def get(self, key: Any, default: Any = None) -> Any:
        full = self._key(key)
        value = self._runner.get(full)
        return default if value is None else self._wrap(full, value)

    def __contains__(self, key: Any) -> bool:
        return self._runner.get(self._key(key)) is not None

    def __setitem__(self, key: Any, value: Any) -> None:
        self._runner.set(self._key(key), value, scope=self._scope)

    def setdefault(self, key: Any, default: Any = None) -> Any:
        if key not in self:
            self[key] = default
        return self[key]

    def update(self, values: Any = (), **more: Any) -> None:
        for key, value in dict(values, **more).items():
            self[key] = value

    def __iter__(self) -> Any:
        raise SandboxError("listing the state is not available to steps: read keys by name (runner.get(key))")

    keys = items = values = __iter__


class _Rounds:
    """`runner.state["rounds"]`: only the current round is readable from a step."""

    def __init__(self, runner: "Runner"):
        self._runner = runner

    def __getitem__(self, round_key: Any) -> _Scope:
        current = self._runner.current_round
        if str(round_key) != str(current):
            raise SandboxError(
                f"runner.state['rounds'][{round_key!r}]: a step can read only the current round "
                f"({current}); keep what later rounds need with runner.set(key, value, scope='global')"
            )
        return _Scope(self._runner, "round")

    get = __getitem__

    def __contains__(self, round_key: Any) -> bool:
        return str(round_key) == str(self._runner.current_round)


class _State:
    """`runner.state`, the seed's dict, as a view of the runner's state."""

    def __init__(self, runner: "Runner"):
        self._runner = runner

    def __getitem__(self, key: str) -> Any:
        if key == "rounds":
            return _Rounds(self._runner)
        if key == "global":
            return _Scope(self._runner, "global")
        if key in ("current_round", "last_completed_step"):
            return self._runner.get(key)
        raise KeyError(
            f"{key!r}: runner.state holds rounds, global, current_round and last_completed_step; "
            f"use runner.get({key!r})"
        )

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default


class Runner:
    """The `runner` passed to prepare and execute."""

    def __init__(self) -> None:
        self._native = _native.Runner()
        self.config = _Config()
        self.state = _State(self)

    @property
    def current_round(self) -> int:
        """The current round, from 1."""
        return self._native.current_round

    def get(self, key: str) -> Any:
        """The value under `key`: the current round, then global, then config.yaml; dot
        notation walks nested objects; None when absent."""
        return self._native.get(key)

    def set(self, key: str, value: Any, scope: str = "round") -> None:
        """Stores `value` under `key` in scope "round" (default) or "global"."""
        if scope == "execution":
            raise SandboxError(
                f"runner.set({key!r}, scope='execution'): the runner owns current_round and "
                "last_completed_step; a step cannot move them"
            )
        self._native.set(key, value, scope=scope)

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
