"""At most MAX_CONCURRENT_UPLOADS bodies of POST /process/ are received at once (per process).

Each upload holds a connection, a task folder and disk bandwidth for as long as its client takes
to send it; past the cap a new one is answered 503 with Retry-After at once, before its body is
read, instead of piling up until the disk or the file descriptors run out.
"""

from starlette.types import ASGIApp, Receive, Scope, Send

from app.errors import ErrorCode
from app.routes.errors import error_response, log_refusal

UPLOAD_PATHS = frozenset({"/process", "/process/"})
# Seconds a refused client waits before trying again: an upload usually takes longer than that.
RETRY_AFTER_S = 10


class UploadSlots:
    def __init__(self, app: ASGIApp, max_uploads: int) -> None:
        self._app = app
        self._max = max_uploads
        # Only the event loop's thread touches it: no lock needed.
        self._active = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] not in UPLOAD_PATHS:
            await self._app(scope, receive, send)
            return
        if self._active >= self._max:
            log_refusal(scope["method"], scope["path"], 503, "too many uploads at once")
            response = error_response(
                503,
                ErrorCode.SERVER_BUSY,
                f"the server is receiving {self._max} uploads already; try again later (after Retry-After seconds)",
                headers={"Retry-After": str(RETRY_AFTER_S)},
            )
            await response(scope, receive, send)
            return
        self._active += 1
        try:
            await self._app(scope, receive, send)
        finally:
            self._active -= 1
