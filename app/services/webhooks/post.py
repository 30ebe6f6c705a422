"""One POST of a webhook to addresses already checked, within a total deadline.

The connection goes to one of those addresses (the first that answers) while the Host header and
TLS (SNI and certificate check) keep the URL's host name, so a second DNS answer never decides
where the request goes. Only the status line of the answer is read, at most `MAX_ANSWER_BYTES`: a
receiver that answers garbage, endless headers or nothing at all costs this one delivery its
deadline, never more.
"""

import http.client
import re
import socket
import ssl
import time

from app.services.webhooks.target import WebhookTarget

MAX_ANSWER_BYTES = 64 * 1024
_STATUS_LINE = re.compile(rb"HTTP/1\.[01] ([1-5][0-9]{2})(?: [^\r\n]*)?\r?\n")


class _Deadline:
    def __init__(self, seconds: float) -> None:
        self._end = time.monotonic() + seconds

    def left(self) -> float:
        """Seconds left; TimeoutError once there are none."""
        left = self._end - time.monotonic()
        if left <= 0:
            raise TimeoutError("the delivery's deadline passed")
        return left


def _connect(addresses: list[str], port: int, deadline: _Deadline) -> socket.socket:
    """A connection to the first of `addresses` that accepts one, as `socket.create_connection`
    does for a name, but without resolving anything."""
    error: OSError = OSError("no address to connect to")
    for address in addresses:
        try:
            return socket.create_connection((address, port), timeout=deadline.left())
        except TimeoutError:
            raise
        except OSError as refused:
            error = refused
    raise error


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to the checked addresses, whatever `host` resolves to now."""

    def __init__(self, target: WebhookTarget, addresses: list[str], deadline: _Deadline) -> None:
        super().__init__(target.host, target.port, timeout=deadline.left())
        self._addresses = addresses
        self._deadline = deadline

    def connect(self) -> None:
        self.sock = _connect(self._addresses, self.port, self._deadline)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, target: WebhookTarget, addresses: list[str], deadline: _Deadline) -> None:
        super().__init__(target.host, target.port, timeout=deadline.left(), context=ssl.create_default_context())
        self._addresses = addresses
        self._deadline = deadline

    def connect(self) -> None:
        sock = _connect(self._addresses, self.port, self._deadline)
        # The handshake runs under the same deadline; the certificate must name the URL's host.
        # HTTPSConnection keeps its `context` argument as `_context`, which typeshed does not declare.
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


def post(target: WebhookTarget, addresses: list[str], body: bytes, headers: dict[str, str], deadline_s: float) -> str:
    """POST and say how it went: "delivered" (2xx), "status_<code>", "bad_answer", "deadline", or
    the name of the error. Raises nothing that a receiver can cause."""
    deadline = _Deadline(deadline_s)
    connection_class = _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
    connection = connection_class(target, addresses, deadline)
    try:
        connection.connect()
        connection.sock.settimeout(deadline.left())  # sendall: the total time to send it all
        connection.request("POST", target.path, body, {**headers, "Connection": "close"})
        status = _read_status(connection.sock, deadline)
    except TimeoutError:
        return "deadline"
    except (OSError, http.client.HTTPException, ValueError) as error:
        return type(error).__name__
    finally:
        connection.close()
    if status is None:
        return "bad_answer"
    return "delivered" if 200 <= status < 300 else f"status_{status}"


def _read_status(sock: socket.socket, deadline: _Deadline) -> int | None:
    """The answer's status code, or None when its first line is not an HTTP/1 status line."""
    answer = b""
    while b"\n" not in answer and len(answer) < MAX_ANSWER_BYTES:
        sock.settimeout(deadline.left())
        chunk = sock.recv(MAX_ANSWER_BYTES - len(answer))
        if not chunk:
            break
        answer += chunk
    match = _STATUS_LINE.match(answer)
    return int(match[1]) if match else None
