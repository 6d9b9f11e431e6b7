"""prometheus-test's `Worker`: `get`, `get_env`, `env`, `get_key`, and the key attributes
older suites read (`staking_public_key`, `public_key`, `staking_signing_key`, ...).

Signing keys are opaque `SigningKey` handles naming a worker's keypair: the private key
stays in the runner, and `prometheus_test.utils.create_signature(handle, payload)` asks
the host to sign.
"""

from typing import Any, Iterator, Optional

import prometheus_step as _native

from ._sandbox import SandboxError, hint

_KEY_TYPES = ("staking_public", "staking_signing", "main_public", "main_signing")


class SigningKey:
    """A worker's signing key, held by the runner. Pass it to `create_signature`."""

    def __init__(self, worker: str, kind: str):
        self.worker = worker
        self.kind = kind

    def sign(self, message: Any) -> Any:
        """Not available: the private key never enters the sandbox."""
        raise SandboxError(f"SigningKey.sign: {hint('keypair')}")

    def __bytes__(self) -> bytes:
        raise SandboxError(f"bytes(SigningKey): {hint('keypair')}")

    @property
    def verify_key(self) -> str:
        """The matching public key (base58; nacl gave a VerifyKey object)."""
        return _native.public_key(self.kind, worker=self.worker)

    def __repr__(self) -> str:
        return f"SigningKey({self.worker} {self.kind}, held by the runner)"


class _Env:
    """`worker.env`: the worker server's environment, read by name."""

    def __init__(self, worker: str):
        self._worker = worker

    def get(self, name: str, default: Optional[str] = None) -> Optional[str]:
        value = _native._worker.env(self._worker, name)
        return default if value is None else value

    def __getitem__(self, name: str) -> str:
        value = _native._worker.env(self._worker, name)
        if value is None:
            raise KeyError(name)
        return value

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and _native._worker.env(self._worker, name) is not None

    def __iter__(self) -> Iterator[str]:
        raise SandboxError(f"listing the environment of {self._worker} is not available to steps: read variables by name")


class Worker:
    """One worker server, as prometheus-test's `Worker` shows it to steps."""

    def __init__(self, name: str):
        self.name = name
        self.env = _Env(name)

    def get(self, key: str, default: Any = None) -> Any:
        """`name`, `url`, `port`, `database_path`, `base_dir`, `server_entrypoint` or any
        workers.json key."""
        return _native.Worker(self.name).get(key, default)

    def get_env(self, key: str) -> Optional[str]:
        """A variable of the environment the worker server runs with."""
        return self.env.get(key)

    def get_key(self, key_type: str) -> Any:
        """"staking_public" / "main_public": the base58 public key; "staking_signing" /
        "main_signing": a `SigningKey` handle for `create_signature`."""
        if key_type not in _KEY_TYPES:
            raise ValueError(
                'key_type must be one of: "staking_public", "staking_signing", '
                '"main_public", "main_signing"'
            )
        kind, use = key_type.split("_")
        if use == "public":
            return _native.public_key(kind, worker=self.name)
        if _native.public_key(kind, worker=self.name) is None:
            return None
        return SigningKey(self.name, kind)

    @property
    def url(self) -> str:
        """The worker's base URL."""
        return _native.Worker(self.name).url

    staking_public_key = property(lambda self: self.get_key("staking_public"), doc="The staking public key.")
    staking_signing_key = property(lambda self: self.get_key("staking_signing"), doc="The staking key handle.")
    main_public_key = property(lambda self: self.get_key("main_public"), doc="The main public key.")
    main_signing_key = property(lambda self: self.get_key("main_signing"), doc="The main key handle.")
    # Older suites call the main keypair "public".
    public_key = main_public_key
    public_signing_key = main_signing_key

    def __repr__(self) -> str:
        return f"Worker({self.name!r})"
