"""`dotenv` for step packages: the runner loads `.env` itself (the project's, then
tests/.env) into the workers' environment, so loading it in a step does nothing. Read the
values with `worker.get_env(NAME)`."""

from typing import Any, Dict, Optional


def load_dotenv(*args: Any, **kwargs: Any) -> bool:
    """Does nothing (the runner loaded .env); returns False as when no file was found."""
    return False


def find_dotenv(*args: Any, **kwargs: Any) -> str:
    """No file: steps have no filesystem."""
    return ""


def dotenv_values(*args: Any, **kwargs: Any) -> Dict[str, Optional[str]]:
    """Empty: read a worker's variables with worker.get_env(NAME)."""
    return {}
