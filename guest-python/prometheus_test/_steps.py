"""prometheus-test's `TestStep` and the exports of a package built from a `steps` list.

`functools.partial` keywords become the step's params: the manifest lists them (those
that are JSON values), a plan may override them, and each goes only to the function whose
partial bound it — as in prometheus-test, where `prepare=partial(f, role="worker")` gives
`role` to `prepare` alone.

Outcomes follow prometheus-test: `execute` returning a dict whose `success` is false fails
the step with its `error` (or `message`); returning None skips it (prometheus-test's README
skips this way; its runner crashed on it); anything else completes it.
"""

import functools
import json
from typing import Any, Callable, Dict, List, Optional, Tuple

import prometheus_step as _native

from ._runner import Runner
from ._sandbox import set_in_step
from ._worker import Worker

_FIELDS_SEED = ("worker", "prepare", "execute", "validate")
_FIELDS_ISSUE = ("prepare", "execute", "worker", "validate")


class TestStep:
    """`TestStep(name, description, worker, prepare, execute)` (prometheus-test's field
    order), `TestStep(name, description, prepare, execute, worker)`, or keywords."""

    def __init__(self, name: str, description: str, *args: Any, **kwargs: Any):
        order = _FIELDS_SEED if args and isinstance(args[0], str) else _FIELDS_ISSUE
        if len(args) > len(order):
            raise TypeError(f"TestStep {name!r}: too many positional arguments")
        fields: Dict[str, Any] = dict(zip(order, args))
        for key, value in kwargs.items():
            if key not in _FIELDS_SEED:
                raise TypeError(f"TestStep {name!r}: unexpected keyword argument {key!r}")
            if key in fields:
                raise TypeError(f"TestStep {name!r}: {key} given twice")
            fields[key] = value
        self.name = name
        self.description = description
        self.worker: str = fields.get("worker")  # type: ignore[assignment]
        self.prepare: Optional[Callable[..., Any]] = fields.get("prepare")
        self.execute: Callable[..., Any] = fields.get("execute")  # type: ignore[assignment]
        # Kept for the seed's signature; prometheus-test 0.1.10 never calls it either.
        self.validate = fields.get("validate")
        if not isinstance(self.worker, str) or not callable(self.execute):
            raise TypeError(f"TestStep {name!r} needs a worker name and an execute function")

    def __repr__(self) -> str:
        return f"TestStep({self.name!r}, worker={self.worker!r})"


def _unwrap(fn: Optional[Callable[..., Any]]) -> Tuple[Optional[Callable[..., Any]], Tuple[Any, ...], Dict[str, Any]]:
    """A function, its bound positional arguments and its partial keywords (nested
    partials flattened)."""
    args: Tuple[Any, ...] = ()
    keywords: Dict[str, Any] = {}
    while isinstance(fn, functools.partial):
        args = fn.args + args
        keywords = {**fn.keywords, **keywords}
        fn = fn.func
    return fn, args, keywords


def _is_json(value: Any) -> bool:
    try:
        json.dumps(value, allow_nan=False)
        return True
    except (TypeError, ValueError):
        return False


def _default_params(step: TestStep) -> Dict[str, Any]:
    params: Dict[str, Any] = {}
    for fn in (step.prepare, step.execute):
        for key, value in _unwrap(fn)[2].items():
            if _is_json(value):
                params[key] = value
    return params


def _call(fn: Callable[..., Any], params: Dict[str, Any], *positional: Any) -> Any:
    func, bound, keywords = _unwrap(fn)
    assert func is not None
    merged = {key: params.get(key, value) for key, value in keywords.items()}
    return func(*bound, *positional, **merged)


def _outcome(step: TestStep, result: Any) -> Any:
    if isinstance(result, _native.Skip):
        return result
    if result is None:
        return _native.skip(f"{step.name}: execute returned None")
    if isinstance(result, dict) and not result.get("success"):
        detail = result.get("error") or result.get("message")
        if detail is None:
            detail = "execute returned a result without \"success\": true"
        _native.fail(f"Step {step.name} failed: {detail}")
    return result


def export_steps(steps: List[TestStep], post_load: Optional[Callable[[Any], None]] = None) -> type:
    """The class componentize-py exports: `WitWorld = export_steps(steps, post_load)`.
    `post_load` is prometheus-test's `post_load_callback(db)`; it gets a pymongo-like
    database."""
    by_name = {s.name: s for s in steps}
    if len(by_name) != len(steps):
        raise ValueError("two steps have the same name; step names must be unique")

    def find(name: str) -> TestStep:
        if name not in by_name:
            _native.fail(f"this package has no step {name!r}")
        return by_name[name]

    def in_step(call: Callable[[], Any]) -> Any:
        set_in_step(True)
        try:
            return call()
        finally:
            set_in_step(False)

    def prepare(name: str, params: str) -> str:
        step = find(name)
        runner = Runner()
        data = _call(step.prepare, json.loads(params or "{}"), runner, Worker(step_worker())) if step.prepare else None
        runner._flush_state()
        return json.dumps(data)

    def execute(name: str, params: str, prepared: str) -> Any:
        step = find(name)
        runner = Runner()
        data = json.loads(prepared or "null")
        returned = _call(step.execute, json.loads(params or "{}"), runner, Worker(step_worker()), data)
        # Changes made in place to values of runner.state are saved like the seed saved its
        # dict: the step's function has returned, nothing else will change them.
        runner._flush_state()
        result = _outcome(step, returned)
        if isinstance(result, _native.Skip):
            return _native._types.Outcome_Skip(result.reason)
        return _native._types.Outcome_Done(json.dumps(result))

    def step_worker() -> str:
        return _native._worker.current()

    class WitWorld:
        def manifest(self) -> List[Any]:
            return [
                _native._types.StepInfo(s.name, s.description, s.worker, json.dumps(_default_params(s)))
                for s in steps
            ]

        def prepare(self, step: str, params: str) -> str:
            return _native._guarded(lambda: in_step(lambda: prepare(step, params)))

        def execute(self, step: str, params: str, prepared: str) -> Any:
            return _native._guarded(lambda: in_step(lambda: execute(step, params, prepared)))

        def post_load(self) -> None:
            if post_load is not None:
                from ._db import Database

                _native._guarded(lambda: in_step(lambda: post_load(Database())))

    return WitWorld
