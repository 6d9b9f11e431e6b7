"""A `requests` for step packages, backed by the runner's `http` interface.

`requests.get/post/put/patch/delete/head/request`, `Session`, and `Response` with
`status_code`, `ok`, `json()`, `text`, `content`, `headers`, `raise_for_status()` behave as
in the `requests` library for what steps do. The sandbox reaches only the test's workers,
`middle_server_url` and `allowed_hosts` of config.yaml: another destination raises
`ConnectionError` naming the config key that would allow it. What it does not offer
(streaming, files, cookies across hosts, proxies, certificates) raises `TypeError` for an
unknown argument.
"""

import json as _json
from typing import Any, Dict, Iterator, Mapping, Optional
from urllib.parse import urlencode, urlsplit, urlunsplit

import prometheus_step as _native

from . import exceptions
from .exceptions import ConnectionError, HTTPError, InvalidURL, JSONDecodeError, RequestException, Timeout

__all__ = [
    "request", "get", "post", "put", "patch", "delete", "head", "options", "Session", "Response",
    "exceptions", "RequestException", "HTTPError", "ConnectionError", "Timeout", "InvalidURL",
    "JSONDecodeError", "codes",
]

# The seconds requests takes as `timeout` become the interface's milliseconds; this caps
# them so a float of days cannot overflow the u32.
_MAX_TIMEOUT_MS = 3_600_000


class CaseInsensitiveDict(dict):
    """Response headers: `headers["Content-Type"]` and `headers.get("content-type")`."""

    def __init__(self, pairs: Any = ()):
        super().__init__()
        for key, value in (pairs.items() if isinstance(pairs, Mapping) else pairs):
            self[key] = value

    def __setitem__(self, key: str, value: str) -> None:
        super().__setitem__(key.lower(), value)

    def __getitem__(self, key: str) -> str:
        return super().__getitem__(key.lower())

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and super().__contains__(key.lower())

    def get(self, key: str, default: Any = None) -> Any:
        return super().get(key.lower(), default)


class Response:
    """An HTTP response; any status, 4xx and 5xx included."""

    def __init__(self, method: str, url: str, native: "_native.Response"):
        self.status_code: int = native.status
        self.headers = CaseInsensitiveDict(native.headers)
        self.content: bytes = native.body
        self.url = url
        self.request_method = method
        self.encoding = "utf-8"

    @property
    def ok(self) -> bool:
        """Whether the status is below 400, as in requests."""
        return self.status_code < 400

    @property
    def text(self) -> str:
        return self.content.decode(self.encoding or "utf-8", errors="replace")

    @property
    def reason(self) -> str:
        return _REASONS.get(self.status_code, "")

    def json(self, **kwargs: Any) -> Any:
        try:
            return _json.loads(self.content, **kwargs)
        except ValueError as e:
            raise JSONDecodeError(
                f"{self.request_method} {self.url}: the answer (status {self.status_code}) is not JSON: "
                f"{e}: {self.text[:200]!r}",
                response=self,
            ) from None

    def raise_for_status(self) -> None:
        """Raises `HTTPError` for a 4xx or 5xx status, quoting the server's `message`."""
        if self.status_code >= 400:
            kind = "Client" if self.status_code < 500 else "Server"
            raise HTTPError(
                f"{self.status_code} {kind} Error: {self.reason} for url: {self.url}: {self._server_message()}",
                response=self,
            )

    def _server_message(self) -> str:
        """The server's `message` (or `error`), else the body, shortened."""
        try:
            body = _json.loads(self.content)
            detail = (body.get("message") or body.get("error")) if isinstance(body, dict) else None
        except ValueError:
            detail = None
        return str(detail or self.text)[:200]

    def iter_content(self, chunk_size: int = 1, decode_unicode: bool = False) -> Iterator[Any]:
        data: Any = self.text if decode_unicode else self.content
        for i in range(0, len(data), max(1, chunk_size or len(data) or 1)):
            yield data[i:i + chunk_size] if chunk_size else data

    def __bool__(self) -> bool:
        return self.ok

    def __repr__(self) -> str:
        return f"<Response [{self.status_code}]>"


_REASONS = {200: "OK", 201: "Created", 202: "Accepted", 204: "No Content", 301: "Moved Permanently",
            302: "Found", 304: "Not Modified", 400: "Bad Request", 401: "Unauthorized",
            403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 409: "Conflict",
            422: "Unprocessable Entity", 429: "Too Many Requests", 500: "Internal Server Error",
            502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}


class _Codes:
    ok = 200
    created = 201
    no_content = 204
    bad_request = 400
    unauthorized = 401
    forbidden = 403
    not_found = 404
    conflict = 409
    internal_server_error = 500


codes = _Codes()


def _with_params(url: str, params: Any) -> str:
    if not params:
        return url
    parts = urlsplit(url)
    query = urlencode(params, doseq=True)
    return urlunsplit(parts._replace(query=f"{parts.query}&{query}" if parts.query else query))


def _timeout_ms(timeout: Any) -> Optional[int]:
    if timeout is None:
        return None
    if isinstance(timeout, tuple):  # (connect, read): the interface has one timeout
        timeout = max(t for t in timeout if t is not None)
    return min(int(float(timeout) * 1000), _MAX_TIMEOUT_MS)


def request(method: str, url: str, params: Any = None, data: Any = None, json: Any = None,
            headers: Optional[Dict[str, str]] = None, timeout: Any = None,
            allow_redirects: bool = True, **unsupported: Any) -> Response:
    """Sends a request through the runner; see the module's doc."""
    if unsupported:
        raise TypeError(f"requests.{method.lower()}: {', '.join(sorted(unsupported))} is not supported in the sandbox")
    method = method.upper()
    url = _with_params(url, params)
    body: Optional[bytes] = None
    pairs = dict(headers or {})
    if json is not None:
        body = _json.dumps(json).encode()
        pairs.setdefault("Content-Type", "application/json")
    elif isinstance(data, dict):
        body = urlencode(data, doseq=True).encode()
        pairs.setdefault("Content-Type", "application/x-www-form-urlencoded")
    elif isinstance(data, str):
        body = data.encode()
    elif data is not None:
        body = bytes(data)
    try:
        native = _native.request(method, url, body=body, headers=pairs, timeout_ms=_timeout_ms(timeout))
    except _native.HttpError as e:
        error = {"timeout": Timeout, "invalid request": InvalidURL}.get(e.kind, ConnectionError)
        raise error(str(e)) from None
    return Response(method, url, native)


def get(url: str, params: Any = None, **kwargs: Any) -> Response:
    return request("GET", url, params=params, **kwargs)


def post(url: str, data: Any = None, json: Any = None, **kwargs: Any) -> Response:
    return request("POST", url, data=data, json=json, **kwargs)


def put(url: str, data: Any = None, **kwargs: Any) -> Response:
    return request("PUT", url, data=data, **kwargs)


def patch(url: str, data: Any = None, **kwargs: Any) -> Response:
    return request("PATCH", url, data=data, **kwargs)


def delete(url: str, **kwargs: Any) -> Response:
    return request("DELETE", url, **kwargs)


def head(url: str, **kwargs: Any) -> Response:
    return request("HEAD", url, **kwargs)


def options(url: str, **kwargs: Any) -> Response:
    return request("OPTIONS", url, **kwargs)


class Session:
    """`requests.Session`: default headers, and the same calls."""

    def __init__(self) -> None:
        self.headers: Dict[str, str] = {}

    def request(self, method: str, url: str, headers: Optional[Dict[str, str]] = None, **kwargs: Any) -> Response:
        return request(method, url, headers={**self.headers, **(headers or {})}, **kwargs)

    def get(self, url: str, **kwargs: Any) -> Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, data: Any = None, json: Any = None, **kwargs: Any) -> Response:
        return self.request("POST", url, data=data, json=json, **kwargs)

    def put(self, url: str, data: Any = None, **kwargs: Any) -> Response:
        return self.request("PUT", url, data=data, **kwargs)

    def patch(self, url: str, data: Any = None, **kwargs: Any) -> Response:
        return self.request("PATCH", url, data=data, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> Response:
        return self.request("DELETE", url, **kwargs)

    def close(self) -> None:
        pass

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, *exc: Any) -> None:
        pass
