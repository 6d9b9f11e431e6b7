"""`prometheus_test.utils`: `create_signature` signs on the host with a key handle."""

from typing import Any

import prometheus_step as _native

from ._sandbox import SandboxError, hint
from ._worker import SigningKey


def create_signature(signing_key: SigningKey, payload: Any) -> str:
    """`base58(ed25519(p) || p)` with `p = json.dumps(payload, sort_keys=True)`, byte for
    byte as prometheus-test's; `signing_key` comes from `worker.get_key("..._signing")`."""
    if not isinstance(signing_key, SigningKey):
        raise TypeError(
            "create_signature needs the key handle from worker.get_key('staking_signing') "
            f"or worker.get_key('main_signing'), not {type(signing_key).__name__}"
            + (" (the worker has no such keypair in workers.json)" if signing_key is None else "")
        )
    return _native.sign(payload, signing_key.kind, worker=signing_key.worker)


def load_keypair(keypair_path: str) -> Any:
    """Not available: keypair files are read by the runner (workers.json `keypairs`)."""
    raise SandboxError(f"load_keypair({keypair_path!r}): {hint('keypair')}")
