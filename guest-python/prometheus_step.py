"""Write prometheus-wasm steps in Python.

A thin, typed-ish layer over the bindings that componentize-py generates from
`wit/step.wit`, so that a step package reads like a `steps.py` of the Python framework
prometheus-test::

    from prometheus_step import TestStep, export_steps, fail, get, skip

    def check_prepare(runner, worker):
        return {"url": worker.endpoint("/health")}

    def check_execute(runner, worker, data):
        health = get(data["url"]).expect_status(200).json()
        if health["worker"] != worker.name:
            fail(f"{worker.name} answered as {health['worker']}")
        return {"healthy": True}

    steps = [TestStep("check-health", "The worker answers", check_prepare, check_execute, "worker1")]
    WitWorld = export_steps(steps)

`prepare(runner, worker, **params)` returns JSON-serialisable data; `execute(runner,
worker, data, **params)` returns the step's result (any JSON value, `None` included) or
`skip("why")`. `params` are the step's default parameters (what `functools.partial` bound in
prometheus-test), passed as keyword arguments.

Errors: `fail("message")` ends the step with exactly that message. Any other exception
ends it with the exception and its traceback as the step's error message, so the user
sees where it was raised. Nothing traps.

Every step runs in a fresh instance: module-level variables do not survive from one
step to the next; keep what later steps need with `runner.set`.

Build a package: `componentize-py -d wit -w steps componentize MODULE -p DIR -p guest-python
-o steps.wasm`, where MODULE (in DIR) defines `WitWorld = export_steps(...)`.
"""

import json as _json
import traceback as _traceback
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Tuple

from componentize_py_types import Err
from wit_world.imports import config as _config
from wit_world.imports import http as _http
from wit_world.imports import log as _log
from wit_world.imports import mongo as _mongo
from wit_world.imports import state as _state
from wit_world.imports import types as _types
from wit_world.imports import worker as _worker

__all__ = [
    "TestStep",
    "Runner",
    "Worker",
    "Response",
    "StepFailed",
    "HttpError",
    "Skip",
    "skip",
    "fail",
    "MongoError",
    "SigningError",
    "request",
    "get",
    "post",
    "put",
    "patch",
    "delete",
    "collection",
    "public_key",
    "sign",
    "verify",
    "verify_text",
    "export_steps",
]


class StepFailed(Exception):
    """A deliberate step failure: its message is the step's error, without a traceback."""


def fail(message: str) -> None:
    """Ends the step with `message` as its error (like `fail!` in the Rust SDK)."""
    raise StepFailed(message)


@dataclass
class Skip:
    """The outcome of a step that chose not to run; `reason` is shown in the report."""

    reason: str


def skip(reason: str) -> Skip:
    """Returns this from `execute` to record the step as skipped; the run goes on."""
    return Skip(reason)


# runner and worker ----------------------------------------------------------------------


class Runner:
    """The runner's side of a step: state, configuration and logging.

    Mirrors prometheus-test's `runner`: `get`, `set(key, value, scope="round")`,
    dot-notation keys, `current_round`.
    """

    @property
    def current_round(self) -> int:
        """The current round, counting from 1."""
        return _state.current_round()

    @property
    def task_id(self) -> str:
        """`task_id` of config.yaml."""
        return _config.task_id()

    def get(self, key: str, default: Any = None) -> Any:
        """The state value under `key` (round, then global, then config.yaml), or `default`."""
        text = _state.get(key)
        return default if text is None else _json.loads(text)

    def set(self, key: str, value: Any, scope: str = "round") -> None:
        """Stores `value` (JSON-serialisable) under `key`; `scope` is "round" or "global"."""
        scopes = {"round": _state.Scope.ROUND, "global": _state.Scope.GLOBAL}
        if scope not in scopes:
            raise ValueError(f"scope must be 'round' or 'global', not {scope!r}")
        try:
            _state.set(key, _json.dumps(value), scopes[scope])
        except Err as e:
            raise StepFailed(f"cannot set {key!r}: {e.value}") from None

    def config(self, key: str, default: Any = None) -> Any:
        """A value of config.yaml (dot notation reaches into maps), or `default`."""
        text = _config.get(key)
        return default if text is None else _json.loads(text)

    def worker(self, name: Optional[str] = None) -> "Worker":
        """The worker called `name`; the step's own worker when `name` is None."""
        return Worker(name or _worker.current())

    @property
    def workers(self) -> List["Worker"]:
        """Every worker, in workers.json order."""
        return [Worker(name) for name in _worker.names()]

    def log(self, message: str, level: str = "info") -> None:
        """Writes a line under the step's banner; `level` is trace/debug/info/warn/error."""
        _log.log(_log.Level[level.upper()], message)

    def info(self, message: str) -> None:
        """Writes an info line under the step's banner."""
        _log.log(_log.Level.INFO, message)

    def warn(self, message: str) -> None:
        """Writes a warning line under the step's banner."""
        _log.log(_log.Level.WARN, message)


class Worker:
    """One worker server, like prometheus-test's `worker`: `get(key)`, `get_env(name)`."""

    def __init__(self, name: str):
        self.name = name

    def get(self, key: str, default: Any = None) -> Any:
        """A value of the worker: `url`, `port`, `database_path`, or any workers.json key."""
        text = _worker.get(self.name, key)
        return default if text is None else _json.loads(text)

    def get_env(self, name: str) -> Optional[str]:
        """A variable of the environment the worker server runs with."""
        return _worker.env(self.name, name)

    @property
    def url(self) -> str:
        """The worker's base URL, e.g. `http://127.0.0.1:5600`."""
        url = self.get("url")
        if not isinstance(url, str):
            fail(f"worker {self.name!r} has no url")
        return url

    def endpoint(self, path: str) -> str:
        """The worker's URL with `path` appended: `worker.endpoint("/health")`."""
        return self.url.rstrip("/") + "/" + path.lstrip("/")

    def public_key(self, kind: str = "staking") -> Optional[str]:
        """The base58 public key of this worker's `kind` keypair ("staking" or "main"), or
        None when workers.json gives it none."""
        return public_key(kind, worker=self.name)

    def sign(self, payload: Any, kind: str = "staking") -> str:
        """Signs `payload` with this worker's `kind` keypair, as prometheus-test's
        `create_signature`; the host signs, the private key never enters the step."""
        return sign(payload, kind, worker=self.name)

    def __repr__(self) -> str:
        return f"Worker({self.name!r})"


# http -------------------------------------------------------------------------------------


class HttpError(Exception):
    """No response: the destination is denied, unreachable, too slow or too large."""

    def __init__(self, kind: str, message: str):
        super().__init__(f"{kind}: {message}")
        self.kind = kind


_HTTP_ERROR_KINDS = {
    _http.HttpError_Denied: "denied",
    _http.HttpError_InvalidRequest: "invalid request",
    _http.HttpError_Connection: "connection failed",
    _http.HttpError_Timeout: "timeout",
    _http.HttpError_TooLarge: "too large",
}


class Response:
    """An HTTP response; any status, 4xx and 5xx included."""

    def __init__(self, method: str, url: str, raw: "_http.Response"):
        self.method = method
        self.url = url
        self.status: int = raw.status
        self.headers: List[Tuple[str, str]] = list(raw.headers)
        self.body: bytes = bytes(raw.body)

    @property
    def ok(self) -> bool:
        """Whether the status is 2xx."""
        return 200 <= self.status < 300

    def header(self, name: str) -> Optional[str]:
        """The first value of header `name` (any case), or None."""
        name = name.lower()
        return next((v for k, v in self.headers if k.lower() == name), None)

    @property
    def text(self) -> str:
        """The body as UTF-8 text (invalid bytes replaced)."""
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body parsed as JSON; a step failure naming the request when it is not JSON."""
        try:
            return _json.loads(self.body)
        except ValueError as e:
            fail(f"{self.method} {self.url}: the answer is not JSON ({e}): {self.text[:200]}")

    def _detail(self) -> str:
        """The server's `message` (or `error`), else the body, for a failure message."""
        try:
            body = _json.loads(self.body)
            detail = (body.get("message") or body.get("error")) if isinstance(body, dict) else None
        except ValueError:
            detail = None
        return str(detail or self.text)[:200]

    def expect_status(self, *expected: int) -> "Response":
        """This response if its status is one of `expected`; else a step failure that
        quotes the server's `message` (or body)."""
        if self.status not in expected:
            want = " or ".join(str(s) for s in expected)
            fail(f"{self.method} {self.url}: expected status {want}, got {self.status}: {self._detail()}")
        return self

    def error_for_status(self) -> "Response":
        """This response if its status is 2xx; else a step failure quoting the server's
        `message` (like `error_for_status` in the Rust SDK)."""
        if not self.ok:
            fail(f"{self.method} {self.url}: status {self.status}: {self._detail()}")
        return self


def request(
    method: str,
    url: str,
    json: Any = None,
    body: Optional[bytes] = None,
    headers: Optional[Dict[str, str]] = None,
    timeout_ms: Optional[int] = None,
) -> Response:
    """Sends a request; `json` is serialised with `content-type: application/json`."""
    pairs = list((headers or {}).items())
    if json is not None:
        body = _json.dumps(json).encode()
        pairs.append(("content-type", "application/json"))
    try:
        raw = _http.send(_http.Request(method, url, pairs, body, timeout_ms))
    except Err as e:
        kind = _HTTP_ERROR_KINDS.get(type(e.value), "error")
        raise HttpError(kind, f"{method} {url}: {e.value.value}") from None
    return Response(method, url, raw)


def get(url: str, **kwargs: Any) -> Response:
    """`GET url`."""
    return request("GET", url, **kwargs)


def post(url: str, json: Any = None, **kwargs: Any) -> Response:
    """`POST url` with a JSON body."""
    return request("POST", url, json=json, **kwargs)


def put(url: str, json: Any = None, **kwargs: Any) -> Response:
    """`PUT url` with a JSON body."""
    return request("PUT", url, json=json, **kwargs)


def patch(url: str, json: Any = None, **kwargs: Any) -> Response:
    """`PATCH url` with a JSON body."""
    return request("PATCH", url, json=json, **kwargs)


def delete(url: str, **kwargs: Any) -> Response:
    """`DELETE url`."""
    return request("DELETE", url, **kwargs)


# signing ----------------------------------------------------------------------------------


class SigningError(Exception):
    """A signing call failed: no such keypair, a payload that is not JSON, or a signature
    that the key did not make."""


_KEY_KINDS = {"staking": _worker.KeyKind.STAKING, "main": _worker.KeyKind.MAIN, "public": _worker.KeyKind.MAIN}


def _key_kind(kind: str) -> Any:
    if kind not in _KEY_KINDS:
        raise ValueError(f"key kind must be 'staking' or 'main', not {kind!r}")
    return _KEY_KINDS[kind]


def _signing_error(what: str, error: Any) -> SigningError:
    kinds = {
        _worker.SigningError_NoKeypair: "no keypair",
        _worker.SigningError_InvalidPayload: "invalid payload",
        _worker.SigningError_InvalidSignature: "invalid signature",
    }
    return SigningError(f"{what}: {kinds.get(type(error), 'error')}: {error.value}")


def public_key(kind: str = "staking", worker: Optional[str] = None) -> Optional[str]:
    """The base58 public key of a worker's keypair ("staking" or "main"); `worker` None is
    the step's worker. None when workers.json gives that worker no such keypair."""
    return _worker.public_key(worker, _key_kind(kind))


def sign(payload: Any, kind: str = "staking", worker: Optional[str] = None) -> str:
    """Signs `payload` (any JSON value) with a worker's keypair exactly as prometheus-test's
    `create_signature`: `base58(ed25519(p) || p)` with `p = json.dumps(payload,
    sort_keys=True)`. The host signs; the private key never enters the step."""
    text = _json.dumps(payload)
    try:
        return _worker.sign(worker, _key_kind(kind), text)
    except Err as e:
        raise _signing_error(f"cannot sign with the {kind} key of {worker or _worker.current()}", e.value) from None


def verify_text(signature: str, public_key: str) -> str:
    """Opens a signature made by `public_key` (base58) and returns the signed payload text
    exactly as signed; raises `SigningError` when that key did not make it."""
    try:
        return _worker.verify(signature, public_key)
    except Err as e:
        raise _signing_error("signature rejected", e.value) from None


def verify(signature: str, public_key: str) -> Any:
    """Like `verify_text`, returning the signed payload parsed."""
    return _json.loads(verify_text(signature, public_key))


# mongo ------------------------------------------------------------------------------------


class MongoError(Exception):
    """A database call failed; `code` is the server's error code when it gave one
    (11000 for a duplicate key)."""

    def __init__(self, code: Optional[int], message: str):
        super().__init__(message if code is None else f"{message} (code {code})")
        self.code = code


def _dump(value: Any) -> str:
    return _json.dumps(value if value is not None else {})


def _mongo_call(what: str, call: Callable[[], Any]) -> Any:
    try:
        return call()
    except Err as e:
        raise MongoError(e.value.code, f"{what}: {e.value.message}") from None


class Collection:
    """A collection of the test's database (config.yaml's `mongodb.database`).

    Documents and filters are plain dicts; MongoDB types use Extended JSON
    (`{"$oid": ...}`, `{"$date": ...}`).
    """

    def __init__(self, name: str):
        self.name = name

    def _options(self, sort: Any, limit: Optional[int], skip: Optional[int], projection: Any) -> Any:
        return _mongo.FindOptions(
            None if sort is None else _json.dumps(sort),
            limit,
            skip,
            None if projection is None else _json.dumps(projection),
        )

    def find(self, filter: Any = None, sort: Any = None, limit: Optional[int] = None,
             skip: Optional[int] = None, projection: Any = None) -> List[Any]:
        """The matching documents."""
        opts = self._options(sort, limit, skip, projection)
        docs = _mongo_call(f"find in {self.name}", lambda: _mongo.find(self.name, _dump(filter), opts))
        return [_json.loads(d) for d in docs]

    def find_one(self, filter: Any = None, sort: Any = None, projection: Any = None) -> Any:
        """The first matching document, or None."""
        opts = self._options(sort, None, None, projection)
        doc = _mongo_call(f"find_one in {self.name}", lambda: _mongo.find_one(self.name, _dump(filter), opts))
        return None if doc is None else _json.loads(doc)

    def insert_one(self, document: Any) -> Any:
        """Inserts a document; returns its `_id`."""
        return _json.loads(_mongo_call(f"insert_one in {self.name}", lambda: _mongo.insert_one(self.name, _dump(document))))

    def insert_many(self, documents: List[Any]) -> List[Any]:
        """Inserts documents; returns their `_id`s."""
        ids = _mongo_call(f"insert_many in {self.name}", lambda: _mongo.insert_many(self.name, _json.dumps(documents)))
        return [_json.loads(i) for i in ids]

    def update_one(self, filter: Any, update: Any, upsert: bool = False) -> Any:
        """Updates the first match; returns (matched, modified, upserted_id)."""
        r = _mongo_call(f"update_one in {self.name}", lambda: _mongo.update_one(self.name, _dump(filter), _dump(update), upsert))
        return r.matched, r.modified, None if r.upserted_id is None else _json.loads(r.upserted_id)

    def update_many(self, filter: Any, update: Any, upsert: bool = False) -> Any:
        """Updates every match; returns (matched, modified, upserted_id)."""
        r = _mongo_call(f"update_many in {self.name}", lambda: _mongo.update_many(self.name, _dump(filter), _dump(update), upsert))
        return r.matched, r.modified, None if r.upserted_id is None else _json.loads(r.upserted_id)

    def replace_one(self, filter: Any, replacement: Any, upsert: bool = False) -> Any:
        """Replaces the first match, keeping its `_id`; returns (matched, modified, upserted_id)."""
        r = _mongo_call(f"replace_one in {self.name}", lambda: _mongo.replace_one(self.name, _dump(filter), _dump(replacement), upsert))
        return r.matched, r.modified, None if r.upserted_id is None else _json.loads(r.upserted_id)

    def delete_one(self, filter: Any = None) -> int:
        """Deletes the first match; returns how many (0 or 1)."""
        return _mongo_call(f"delete_one in {self.name}", lambda: _mongo.delete_one(self.name, _dump(filter)))

    def delete_many(self, filter: Any = None) -> int:
        """Deletes every match; returns how many."""
        return _mongo_call(f"delete_many in {self.name}", lambda: _mongo.delete_many(self.name, _dump(filter)))

    def count_documents(self, filter: Any = None) -> int:
        """How many documents match."""
        return _mongo_call(f"count_documents in {self.name}", lambda: _mongo.count_documents(self.name, _dump(filter)))

    def aggregate(self, pipeline: List[Any]) -> List[Any]:
        """Runs an aggregation pipeline in this collection."""
        docs = _mongo_call(f"aggregate in {self.name}", lambda: _mongo.aggregate(self.name, _json.dumps(pipeline)))
        return [_json.loads(d) for d in docs]


def collection(name: str) -> Collection:
    """A collection of the test's database, like pymongo's `db[name]`."""
    return Collection(name)


# steps and the export shim ----------------------------------------------------------------


@dataclass
class TestStep:
    """One step, as prometheus-test's `TestStep(name, description, prepare, execute, worker)`.

    `prepare` may be None (no data). `params` (a dict) are passed to both as keyword
    arguments and listed in the manifest.
    """

    name: str
    description: str
    prepare: Optional[Callable[..., Any]]
    execute: Callable[..., Any]
    worker: str
    params: Optional[Dict[str, Any]] = None


# Files whose frames say nothing to a step's author: this module, the prometheus_test
# compatibility layer and the `requests` module it provides.
_HELPER_FILES = ("/prometheus_step.py", "/prometheus_faults.py", "/prometheus_test/", "/requests/")


def _is_helper_frame(filename: str) -> bool:
    return any(part in filename for part in _HELPER_FILES)


def _error_text(error: BaseException) -> str:
    """The step error for an exception: the message of a `fail`, else a summary line and
    the traceback of the user's own frames (the helpers' frames are left out, unless no
    other frame is left)."""
    if isinstance(error, StepFailed):
        return str(error)
    frames = _traceback.extract_tb(error.__traceback__)
    own = _traceback.StackSummary.from_list([f for f in frames if not _is_helper_frame(f.filename)])
    if not own:
        own = frames
    summary = f"{type(error).__name__}: {error}"
    tb = "Traceback (most recent call last):\n" + "".join(own.format())
    return f"{summary}\n{tb}{summary}"


def _guarded(call: Callable[[], Any]) -> Any:
    """Runs `call`, turning any exception into the WIT `err` the runner reports."""
    try:
        return call()
    except Err:
        raise
    except BaseException as e:  # noqa: BLE001 - every failure must reach the user
        raise Err(_error_text(e)) from None


def export_steps(steps: List[TestStep], post_load: Optional[Callable[[Runner], None]] = None) -> type:
    """The class componentize-py exports: `WitWorld = export_steps(steps, post_load)`."""
    by_name = {s.name: s for s in steps}
    runner = Runner()

    def find(name: str) -> TestStep:
        if name not in by_name:
            fail(f"this package has no step {name!r}")
        return by_name[name]

    def prepare(step: str, params: str) -> str:
        s = find(step)
        kwargs = _json.loads(params or "{}")
        data = s.prepare(runner, runner.worker(), **kwargs) if s.prepare else None
        return _json.dumps(data)

    def execute(step: str, params: str, prepared: str) -> _types.Outcome:
        s = find(step)
        kwargs = _json.loads(params or "{}")
        result = s.execute(runner, runner.worker(), _json.loads(prepared or "null"), **kwargs)
        if isinstance(result, Skip):
            return _types.Outcome_Skip(result.reason)
        return _types.Outcome_Done(_json.dumps(result))

    class WitWorld:
        def manifest(self) -> List[_types.StepInfo]:
            return [
                _types.StepInfo(s.name, s.description, s.worker, _json.dumps(s.params or {}))
                for s in steps
            ]

        def prepare(self, step: str, params: str) -> str:
            return _guarded(lambda: prepare(step, params))

        def execute(self, step: str, params: str, prepared: str) -> _types.Outcome:
            return _guarded(lambda: execute(step, params, prepared))

        def post_load(self) -> None:
            if post_load is not None:
                _guarded(lambda: post_load(runner))

    return WitWorld
