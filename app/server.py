"""`python -m app.server`: run the API under uvicorn with the connection limits from Settings.

uvicorn alone keeps every connection it accepts for as long as the client likes until the
request's headers are complete (its keep-alive timeout only runs between requests), and its
`--limit-concurrency` answers a bare text 503. Here each connection must send its request head
within REQUEST_HEAD_TIMEOUT_S (or it is closed), and past MAX_CONNECTIONS open connections a new
one's request is answered 503 with Retry-After and a JSON detail, as every error of the API.
"""

import asyncio
import functools
import json

import uvicorn
from starlette.types import Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from app.config import get_settings
from app.errors import ErrorCode
from app.logs import configure_logging

# Seconds a client refused for too many connections waits before trying again.
RETRY_AFTER_S = 5
# uvicorn's default: a connection idle this long between two requests is closed.
KEEP_ALIVE_S = 5
_BUSY_BODY = json.dumps(
    {
        "detail": f"the server has too many open connections; try again later (in {RETRY_AFTER_S} s)",
        "error_code": ErrorCode.SERVER_BUSY.value,
    }
).encode()


async def _too_many_connections(scope: Scope, receive: Receive, send: Send) -> None:
    """The ASGI answer to every request of a connection over the cap (closed after it)."""
    await send(
        {
            "type": "http.response.start",
            "status": 503,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(_BUSY_BODY)).encode()),
                (b"retry-after", str(RETRY_AFTER_S).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": _BUSY_BODY})


class GuardedH11Protocol(H11Protocol):
    """uvicorn's HTTP/1.1 protocol with a connection cap and a deadline for each request head."""

    def __init__(self, *args: object, max_connections: int, head_timeout_s: float, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._max_connections = max_connections
        self._head_timeout_s = head_timeout_s
        self._head_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self._max_connections:  # this one included
            self.app = _too_many_connections
        self._arm_head_deadline()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # The next request on this kept-alive connection has the same time for its head.
        self._arm_head_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
        super().connection_lost(exc)

    def _arm_head_deadline(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
        self._head_deadline = self.loop.call_later(self._head_timeout_s, self._close_if_no_request)

    def _close_if_no_request(self) -> None:
        # A request whose head arrived is being answered (its body has the app's own timeouts).
        answering = self.cycle is not None and not self.cycle.response_complete
        if not answering and not self.transport.is_closing():
            self.transport.close()


def main() -> None:
    settings = get_settings()
    protocol = functools.partial(
        GuardedH11Protocol,
        max_connections=settings.max_connections,
        head_timeout_s=settings.request_head_timeout_s,
    )
    json_logs = settings.log_format == "json"
    if json_logs:
        configure_logging("json")  # before uvicorn's first line, which then goes through our handler
    uvicorn.run(
        "app.main:app",
        host=settings.host,
        port=settings.port,
        http=protocol,  # type: ignore[arg-type]
        timeout_keep_alive=KEEP_ALIVE_S,
        # LOG_FORMAT=json: uvicorn installs no handlers of its own; its lines (access log included)
        # reach the root logger's JSON handler. Text: uvicorn's own lines, as before.
        log_config=None if json_logs else uvicorn.config.LOGGING_CONFIG,
    )


if __name__ == "__main__":
    main()
