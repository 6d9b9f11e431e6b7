"""`runner.state`: prometheus-test's state dict, served by the runner's named reads and
writes (`state.get(key)` / `state.set(key, value, scope)`), the only state calls a step has.

What a step sees::

    runner.state                          RunnerState: rounds, global, current_round,
                                          last_completed_step
    runner.state["rounds"]                StateRounds: only the current round is there
    runner.state["rounds"][str(round)]    StateScope of the current round
    runner.state["global"]                StateScope of the global scope
    round_state["pr_urls"]                a plain dict (list, str, ...) read from the runner

A scope is a live view: its keys are read and written by name, so `get` (with a default),
`setdefault`, `[k] = v`, `del`, `in`, `update`, `pop` work. What needs the list of its keys
(iteration, `keys()`, `items()`, `len`, truth value, `==`, a copy, `json.dumps` of the
scope itself) cannot be served: the runner has no call that lists a scope, so these raise
`SandboxError` saying what to do instead.

The values under a scope's keys are real dicts and lists (so `json.dumps`, `isinstance(v,
dict)`, iteration and copies work on them). Why not proxies: the seed's code passes them
to json, to requests, to `copy.deepcopy` and compares them with `==`, all of which want a
real dict. They still write back, like the seed's dict did when it saved its state: a
per-step cache (`StateStore`) hands out the same object for a key for the whole step, so
`round_state["pr_urls"]["leader"] = url` or `inner = {}; round_state["x"] = inner;
inner["y"] = 1` change that object, and the store writes every changed value back (`set`
of the whole value under its key) when the step's function returns and before any
`runner.get` that could read it. A direct assignment (`round_state["x"] = v`) is written at
once, so a value the runner refuses (too large, too deep) fails on the user's line.

The runner's state has no delete: `del scope[k]` and `scope.pop(k)` store null, which every
read of the compatibility layer (and `runner.get`) treats as absent. So a key holding None
counts as absent too.
"""

import json
from typing import Any, Dict, Iterable, Optional, Tuple

import prometheus_step as _native
from componentize_py_types import Err

from ._sandbox import SandboxError

# A key's value when the runner holds none (or null): distinct from every JSON value.
_ABSENT = object()

_SCOPES = {"round": _native._state.Scope.ROUND, "global": _native._state.Scope.GLOBAL}

# The keys of prometheus-test's state dict. The runner owns all but the scopes' contents.
_STATE_KEYS = ("rounds", "global", "current_round", "last_completed_step")


def _write(key: str, text: str, scope: str) -> None:
    """`state.set` of JSON text, failing the step with the runner's reason (as
    `runner.set` does)."""
    try:
        _native._state.set(key, text, _SCOPES[scope])
    except Err as e:
        raise _native.StepFailed(f"cannot set {key!r}: {e.value}") from None


def _read(key: str) -> Any:
    """`state.get`: the value (round, then global, then config.yaml), or `_ABSENT`."""
    text = _native._state.get(key)
    if text is None:
        return _ABSENT
    value = json.loads(text)
    return _ABSENT if value is None else value


def _dumps(value: Any, where: str) -> str:
    try:
        return json.dumps(value)
    except (TypeError, ValueError) as e:
        raise TypeError(f"{where} cannot be stored in the runner's state: {e}") from None


class _Entry:
    """A key's value as handed out in this step, and its JSON as the runner last had it."""

    __slots__ = ("value", "saved")

    def __init__(self, value: Any, saved: Optional[str]):
        self.value = value
        self.saved = saved


class StateStore:
    """The values of state keys handed out during one step call, by (scope, key): the
    same object for a key all along the call, written back when it changed."""

    def __init__(self) -> None:
        self._entries: Dict[Tuple[str, str], _Entry] = {}

    def read(self, scope: str, key: str) -> Any:
        """The value under `key` as a scope view reads it, or `_ABSENT`."""
        entry = self._entries.get((scope, key))
        if entry is None:
            value = _read(key)
            saved = None if value is _ABSENT else json.dumps(value)
            entry = self._entries[(scope, key)] = _Entry(value, saved)
        return entry.value

    def assign(self, scope: str, key: str, value: Any, where: str) -> None:
        """`scope[key] = value`: written at once; `value` itself is what later reads of the
        key return in this step (the seed stored the object, not a copy)."""
        self.settle(key)
        text = _dumps(value, where)
        _write(key, text, scope)
        self._entries[(scope, key)] = _Entry(_ABSENT if value is None else value, text)

    def delete(self, scope: str, key: str) -> None:
        """`del scope[key]`: the runner has no delete, so null is stored."""
        self.settle(key)
        _write(key, "null", scope)
        self._entries[(scope, key)] = _Entry(_ABSENT, None)

    def flush_key(self, key: str) -> None:
        """Writes back what changed under `key` (a dotted key: its first part) in either
        scope, so the runner's next read of it sees the change."""
        top = key.split(".", 1)[0]
        for scope in _SCOPES:
            entry = self._entries.get((scope, top))
            if entry is not None:
                self._flush(scope, top, entry)

    def settle(self, key: str) -> None:
        """Writes back, then forgets, the values under `key`'s first part: the runner is
        about to change it, and later reads must see what it then holds. (The round and
        global views both read through the round first, so both are forgotten.)"""
        self.flush_key(key)
        top = key.split(".", 1)[0]
        for scope in _SCOPES:
            self._entries.pop((scope, top), None)

    def flush(self) -> None:
        """Writes back every value that changed since it was read or written."""
        for (scope, key), entry in list(self._entries.items()):
            self._flush(scope, key, entry)

    def _flush(self, scope: str, key: str, entry: _Entry) -> None:
        if entry.value is _ABSENT:
            return
        text = _dumps(entry.value, _scope_path(scope, key))
        if text != entry.saved:
            _write(key, text, scope)
            entry.saved = text


def _scope_path(scope: str, key: Optional[str] = None) -> str:
    if scope == "global":
        path = "runner.state['global']"
    else:
        path = f"runner.state['rounds'][{str(_native._state.current_round())!r}]"
    return path if key is None else f"{path}[{key!r}]"


def _state_key(key: Any, path: str) -> str:
    """A scope's key as the runner addresses it: a string without dots (the runner reads
    a dot as nesting); ints are taken as their text, as json.dump wrote them."""
    if isinstance(key, bool) or not isinstance(key, (str, int)):
        raise TypeError(f"{path}: keys of the runner's state are strings, not {type(key).__name__}")
    key = str(key)
    if "." in key:
        raise SandboxError(
            f"{path}[{key!r}]: the runner's state reads a dot in a key as nesting; use a key "
            f"without dots, or runner.set({key!r}, value) if the nesting is meant"
        )
    return key


class _View:
    """What the three views share: no listing, no copy, no hidden class names."""

    _path = "runner.state"
    _listing_hint = ""

    def _not_listable(self, what: str) -> SandboxError:
        return SandboxError(f"{what} would list {self._path}: {self._listing_hint}")

    def __iter__(self) -> Any:
        raise self._not_listable("iteration")

    def __len__(self) -> int:
        raise self._not_listable("len()")

    def __bool__(self) -> bool:
        raise self._not_listable("a truth value (if ...:)")

    def __eq__(self, other: Any) -> bool:
        if other is self:
            return True
        raise self._not_listable("== comparison")

    def __ne__(self, other: Any) -> bool:
        return not self.__eq__(other)

    __hash__ = None  # type: ignore[assignment]

    def keys(self) -> Any:
        """Not available: the runner cannot list a scope."""
        raise self._not_listable("keys()")

    def values(self) -> Any:
        """Not available: the runner cannot list a scope."""
        raise self._not_listable("values()")

    def items(self) -> Any:
        """Not available: the runner cannot list a scope."""
        raise self._not_listable("items()")

    def copy(self) -> Any:
        """Not available: a copy lists the scope."""
        raise self._not_listable("copy()")

    def popitem(self) -> Any:
        """Not available: it picks a key from the list of keys."""
        raise self._not_listable("popitem()")

    def clear(self) -> None:
        """Not available: clearing deletes every key, which needs their list."""
        raise self._not_listable("clear()")

    def __reversed__(self) -> Any:
        raise self._not_listable("reversed()")

    def __or__(self, other: Any) -> Any:
        raise self._not_listable("| (merging)")

    __ror__ = __or__

    def __copy__(self) -> Any:
        raise self._not_listable("copy.copy()")

    def __deepcopy__(self, memo: Any) -> Any:
        raise self._not_listable("copy.deepcopy()")

    def __reduce_ex__(self, protocol: Any) -> Any:
        raise self._not_listable("pickling")

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        raise AttributeError(f"{self._path} has no attribute {name!r}: {self._attributes}")

    _attributes = ""

    def __repr__(self) -> str:
        return f"<{self._path}, read and written by key>"


class StateScope(_View):
    """A scope of the runner's state (the current round, or global), as the dict it was in
    prometheus-test, read and written by key."""

    _attributes = "it is read and written by key: [key], get, setdefault, update, pop, del, in"

    def __init__(self, store: StateStore, scope: str):
        self._store = store
        self._scope = scope
        self._path = _scope_path(scope)
        self._listing_hint = (
            "the runner reads a scope's keys only by name; use the keys you know "
            f"({self._path}['key'], .get('key', default), 'key' in ...), or keep what you "
            "need to list under one key and list its value, a plain dict "
            f"({self._path}.setdefault('by_worker', {{}})[name] = value; "
            f"{self._path}['by_worker'].items())"
        )

    def _key(self, key: Any) -> str:
        return _state_key(key, self._path)

    def __getitem__(self, key: Any) -> Any:
        value = self._store.read(self._scope, self._key(key))
        if value is _ABSENT:
            raise KeyError(key)
        return value

    def get(self, key: Any, default: Any = None) -> Any:
        """The value under `key`, or `default`."""
        value = self._store.read(self._scope, self._key(key))
        return default if value is _ABSENT else value

    def __contains__(self, key: Any) -> bool:
        return self._store.read(self._scope, self._key(key)) is not _ABSENT

    def __setitem__(self, key: Any, value: Any) -> None:
        if isinstance(value, _View):
            raise value._not_listable(f"storing it under {self._path}[{key!r}]")
        key = self._key(key)
        self._store.assign(self._scope, key, value, f"{self._path}[{key!r}]")

    def __delitem__(self, key: Any) -> None:
        key = self._key(key)
        if self._store.read(self._scope, key) is _ABSENT:
            raise KeyError(key)
        self._store.delete(self._scope, key)

    def setdefault(self, key: Any, default: Any = None) -> Any:
        """The value under `key`; when there is none, `default`, stored under it."""
        key = self._key(key)
        value = self._store.read(self._scope, key)
        if value is _ABSENT:
            self[key] = default
            return default
        return value

    def pop(self, key: Any, *default: Any) -> Any:
        """Removes `key` (stores null) and returns its value; `default` (or KeyError) when
        there is none."""
        if len(default) > 1:
            raise TypeError(f"pop expected at most 2 arguments, got {1 + len(default)}")
        key = self._key(key)
        value = self._store.read(self._scope, key)
        if value is _ABSENT:
            if default:
                return default[0]
            raise KeyError(key)
        self._store.delete(self._scope, key)
        return value

    def update(self, values: Any = (), **more: Any) -> None:
        """Stores every key of `values` (a mapping or key-value pairs) and of `more`."""
        if isinstance(values, _View):
            raise values._not_listable(f"{self._path}.update()")
        pairs: Iterable[Any] = (
            ((k, values[k]) for k in values.keys()) if hasattr(values, "keys") else values
        )
        for key, value in pairs:
            self[key] = value
        for key, value in more.items():
            self[key] = value

    def __ior__(self, values: Any) -> "StateScope":
        self.update(values)
        return self


class StateRounds(_View):
    """`runner.state["rounds"]`: the current round's scope, by its number (str or int).
    Other rounds are not readable from a step."""

    _path = "runner.state['rounds']"
    _listing_hint = (
        "a step sees only the current round, runner.state['rounds'][str(runner.current_round)]; "
        "keep what later rounds need with runner.set(key, value, scope='global') and read it "
        "with runner.get(key)"
    )
    _attributes = "it holds the current round: [str(runner.current_round)], get, setdefault, in"

    def __init__(self, store: StateStore):
        self._store = store

    def _round(self, round_key: Any) -> StateScope:
        current = _native._state.current_round()
        if str(round_key) != str(current):
            raise SandboxError(
                f"runner.state['rounds'][{round_key!r}]: a step can read only the current round "
                f"({current!r}); keep what later rounds need with runner.set(key, value, "
                "scope='global') and read it with runner.get(key)"
            )
        return StateScope(self._store, "round")

    def __getitem__(self, round_key: Any) -> StateScope:
        return self._round(round_key)

    def get(self, round_key: Any, default: Any = None) -> StateScope:
        """The current round's scope (another round raises `SandboxError`: it cannot be
        read, and answering `default` would hide that)."""
        return self._round(round_key)

    def __contains__(self, round_key: Any) -> bool:
        self._round(round_key)
        return True

    def setdefault(self, round_key: Any, default: Any = None) -> StateScope:
        """The current round's scope; the keys of `default` it lacks are stored (a round
        that holds nothing yet starts as `default`)."""
        scope = self._round(round_key)
        if default is not None:
            for key, value in _mapping_items(default, f"runner.state['rounds'][{round_key!r}]"):
                scope.setdefault(key, value)
        return scope

    def __setitem__(self, round_key: Any, values: Any) -> None:
        scope = self._round(round_key)
        if isinstance(values, StateScope) and values._scope == "round":
            return  # rounds[r] = rounds.setdefault(r, {}): the round already is itself
        # Stores every key given. Keys the round already holds and `values` lacks stay:
        # the runner cannot list them to remove them (delete them by name).
        for key, value in _mapping_items(values, f"runner.state['rounds'][{round_key!r}]"):
            scope[key] = value

    def __delitem__(self, round_key: Any) -> None:
        self._round(round_key)
        raise SandboxError(
            f"del runner.state['rounds'][{round_key!r}]: deleting a round deletes every key "
            "in it, which the runner cannot list; delete the keys you stored by name "
            "(del round_state['key'])"
        )

    def pop(self, round_key: Any, *default: Any) -> Any:
        """Not available: see `del`."""
        self.__delitem__(round_key)

    def update(self, values: Any = (), **more: Any) -> None:
        """`rounds[r] = mapping` for each round given (only the current one)."""
        for round_key, value in _mapping_items(values, self._path):
            self[round_key] = value
        for round_key, value in more.items():
            self[round_key] = value


def _mapping_items(values: Any, path: str) -> Iterable[Tuple[Any, Any]]:
    if isinstance(values, _View):
        raise values._not_listable(f"assigning to {path}")
    if hasattr(values, "keys"):
        return [(k, values[k]) for k in values.keys()]
    try:
        return [(k, v) for k, v in values]
    except (TypeError, ValueError):
        raise TypeError(f"{path} holds a dict of keys: assign a dict, or keys one by one") from None


class RunnerState(_View):
    """`runner.state`: prometheus-test's state dict. Its four keys are known, so it can be
    listed; `rounds` and `global` are views; the runner owns the rest."""

    _listing_hint = (
        "its rounds and global are read by key; serialise a value instead "
        "(runner.state['global']['key'], runner.get('key'))"
    )
    _attributes = "it holds rounds, global, current_round and last_completed_step"

    def __init__(self, store: StateStore):
        self._store = store

    def __getitem__(self, key: str) -> Any:
        if key == "rounds":
            return StateRounds(self._store)
        if key == "global":
            return StateScope(self._store, "global")
        if key in ("current_round", "last_completed_step"):
            text = _native._state.get(key)
            return None if text is None else json.loads(text)
        raise KeyError(
            f"{key!r}: runner.state holds rounds, global, current_round and last_completed_step; "
            f"use runner.get({key!r})"
        )

    def get(self, key: str, default: Any = None) -> Any:
        """`rounds`, `global`, `current_round` or `last_completed_step`; else `default`."""
        return self[key] if key in _STATE_KEYS else default

    def __contains__(self, key: Any) -> bool:
        return key in _STATE_KEYS

    def __iter__(self) -> Any:
        return iter(_STATE_KEYS)

    def __len__(self) -> int:
        return len(_STATE_KEYS)

    def __bool__(self) -> bool:
        return True

    def keys(self) -> Any:
        """rounds, global, current_round, last_completed_step."""
        return list(_STATE_KEYS)

    def values(self) -> Any:
        """The values of `keys()` (the scopes as views)."""
        return [self[k] for k in _STATE_KEYS]

    def items(self) -> Any:
        """(key, value) for `keys()` (the scopes as views)."""
        return [(k, self[k]) for k in _STATE_KEYS]

    def setdefault(self, key: str, default: Any = None) -> Any:
        """`rounds` or `global` (any other key raises, as assigning it does)."""
        if key in _STATE_KEYS:
            return self[key]
        self[key] = default

    def __setitem__(self, key: str, value: Any) -> None:
        if key == "global":
            if not (isinstance(value, StateScope) and value._scope == "global"):
                StateScope(self._store, "global").update(value)
            return
        raise SandboxError(self._owned(key))

    def update(self, values: Any = (), **more: Any) -> None:
        """`runner.state[key] = value` for each key given."""
        for key, value in _mapping_items(values, "runner.state"):
            self[key] = value
        for key, value in more.items():
            self[key] = value

    def __delitem__(self, key: str) -> None:
        raise SandboxError(self._owned(key))

    def pop(self, key: str, *default: Any) -> Any:
        """Not available: the runner owns runner.state's keys."""
        if key not in _STATE_KEYS and default:
            return default[0]
        raise SandboxError(self._owned(key))

    @staticmethod
    def _owned(key: Any) -> str:
        if key in ("rounds", "current_round", "last_completed_step"):
            return (
                f"runner.state[{key!r}] is the runner's: write the current round's keys "
                "(runner.state['rounds'][str(runner.current_round)]['key'] = value, or "
                "runner.set(key, value))"
            )
        return (
            f"runner.state[{key!r}]: runner.state holds rounds, global, current_round and "
            f"last_completed_step; store it with runner.set({key!r}, value, scope='global') "
            f"(or runner.state['global'][{key!r}] = value)"
        )


_original_default = json.JSONEncoder.default


def _default(encoder: json.JSONEncoder, value: Any) -> Any:
    """`json.dumps` of a view: SandboxError saying what to serialise instead, rather than
    "Object of type ... is not JSON serializable"."""
    if isinstance(value, _View):
        raise value._not_listable("json.dumps()")
    return _original_default(encoder, value)


json.JSONEncoder.default = _default  # type: ignore[method-assign]
