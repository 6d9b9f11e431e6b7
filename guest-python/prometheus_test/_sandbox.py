"""What cannot work inside the sandbox fails with a message that says why and what to do.

A step package has no filesystem, no processes, no sockets and no environment of its own
(docs/security.md). The Python standard library would fail there with bare OS errors
("[Errno 44] No such file or directory"), so the calls users meet in prometheus-test
suites are replaced, while a step runs, by ones raising `SandboxError` with a hint.
Outside a step (at import, which componentize-py runs at build time) they behave as usual.
"""

import builtins
import os
import sys
import types
from typing import Any, Callable, Dict, Iterable

_in_step = False


class SandboxError(Exception):
    """Something a prometheus-test suite did that a sandboxed step cannot: the message
    says why and what to use instead."""


def set_in_step(value: bool) -> None:
    """Marks whether a step is running (the export shim calls it around every call)."""
    global _in_step
    _in_step = value


_HINTS: Dict[str, str] = {
    "open": "steps have no filesystem: put the data in config.yaml (runner.config.<key>), "
    "in the test database (seeded from data_dir by mongodb.collections) or ask a worker for it",
    "process": "steps cannot start processes: ask a worker server to do it, or do it before the run",
    "socket": "steps have no sockets: use requests (through the runner's http interface), "
    "which reaches the workers, middle_server_url and allowed_hosts",
    "environ": "steps have no environment of their own: read a worker's variables with "
    "worker.get_env(NAME) or worker.env.get(NAME), and settings with runner.config.<key>",
    "keypair": "private keys never enter the sandbox: take worker.get_key('staking_signing') "
    "and sign with prometheus_test.utils.create_signature(key, payload)",
}


def hint(topic: str) -> str:
    """The hint for `topic` (open, process, socket, environ, keypair)."""
    return _HINTS[topic]


def _guard(original: Callable[..., Any], what: str, topic: str) -> Callable[..., Any]:
    def guarded(*args: Any, **kwargs: Any) -> Any:
        if not _in_step:
            return original(*args, **kwargs)
        shown = f"{what}({args[0]!r})" if args else f"{what}()"
        raise SandboxError(f"{shown} cannot run in the sandbox: {_HINTS[topic]}")

    guarded.__name__ = getattr(original, "__name__", what)
    guarded.__doc__ = getattr(original, "__doc__", None)
    return guarded


_installed = False


def _absent(name: str) -> Callable[..., Any]:
    def absent(*args: Any, **kwargs: Any) -> Any:
        raise AttributeError(f"{name} does not exist in this Python")

    absent.__name__ = name.rsplit(".", 1)[-1]
    return absent


def install_guards() -> None:
    """Replaces open, os.system/popen/getenv, subprocess and socket entry points with
    guards that raise `SandboxError` while a step runs. Idempotent."""
    global _installed
    if _installed:
        return
    _installed = True
    builtins.open = _guard(builtins.open, "open", "open")
    # The sandbox's Python (WASI) has no os.system; a step calling it must still learn why.
    for name in ("system", "popen"):
        setattr(os, name, _guard(getattr(os, name, _absent(f"os.{name}")), f"os.{name}", "process"))
    original_getenv = os.getenv

    def getenv(key: str, default: Any = None) -> Any:
        if not _in_step:
            return original_getenv(key, default)
        if default is None:
            raise SandboxError(f"os.getenv({key!r}): {_HINTS['environ']}")
        return default

    os.getenv = getenv
    try:
        import subprocess

        for name in ("run", "call", "check_call", "check_output", "Popen", "getoutput", "getstatusoutput"):
            if hasattr(subprocess, name):
                setattr(subprocess, name, _guard(getattr(subprocess, name), f"subprocess.{name}", "process"))
    except ImportError:
        pass


class _Missing:
    """A name imported from a stubbed module (`from github import Github`): importing it
    works, calling it or reading its attributes raises `SandboxError`."""

    def __init__(self, name: str, reason: str):
        self._name = name
        self._reason = reason

    def _fail(self) -> Any:
        raise SandboxError(f"{self._name}: the module {self._name.split('.')[0]} cannot run in the sandbox: {self._reason}")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._fail()

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__"):
            raise AttributeError(attr)
        return self._fail()

    def __repr__(self) -> str:
        return f"<{self._name}: not in the sandbox>"


class _Stub(types.ModuleType):
    """A module that is not in the sandbox: importing it works (so the package builds and
    the steps that do not use it run), using what it holds raises `SandboxError`."""

    def __init__(self, name: str, reason: str):
        super().__init__(name)
        self.__dict__["_reason"] = reason
        self.__dict__["__path__"] = []

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__"):
            raise AttributeError(attr)
        return _Missing(f"{self.__name__}.{attr}", self._reason)


class _StubFinder:
    """Finds the stubbed modules, after every real finder failed."""

    def __init__(self) -> None:
        self.reasons: Dict[str, str] = {}

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        import importlib.machinery

        root = name.split(".")[0]
        if root not in self.reasons:
            return None
        return importlib.machinery.ModuleSpec(name, self)

    def create_module(self, spec: Any) -> Any:
        return _Stub(spec.name, self.reasons[spec.name.split(".")[0]])

    def exec_module(self, module: Any) -> None:
        pass


_finder = _StubFinder()


def stub_modules(reasons: Dict[str, str]) -> None:
    """Lets modules that are not in the sandbox (C extensions, packages not vendored) be
    imported as stubs: `reasons` maps a top-level module name to what to do instead.
    A module that does exist is imported as usual."""
    _finder.reasons.update(reasons)
    if _finder not in sys.meta_path:
        sys.meta_path.append(_finder)


def stubbed(names: Iterable[str]) -> Dict[str, str]:
    """The reasons registered for `names` (for tests)."""
    return {n: _finder.reasons[n] for n in names if n in _finder.reasons}
