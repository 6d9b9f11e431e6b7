"""`requests.exceptions`: the names prometheus-test suites catch."""


class RequestException(IOError):
    """Any failure of a request; `response` is set when there was one."""

    def __init__(self, *args, response=None, request=None):
        super().__init__(*args)
        self.response = response
        self.request = request


class HTTPError(RequestException):
    """`raise_for_status()` on a 4xx or 5xx response."""


class ConnectionError(RequestException):
    """The connection could not be made, or the destination is not allowed in the sandbox."""


class Timeout(RequestException):
    """No answer within the timeout."""


ReadTimeout = ConnectTimeout = Timeout


class InvalidURL(RequestException, ValueError):
    """The URL, method or a header is malformed."""


class JSONDecodeError(RequestException, ValueError):
    """`response.json()` on a body that is not JSON."""
