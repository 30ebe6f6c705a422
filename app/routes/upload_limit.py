"""Refuse an upload whose declared size is already over the limit, before its body is read.

The checks on the bytes received (routes.multipart_form, services.storage.UploadSink) are the
exact ones and cover chunked bodies too; this one spares reading gigabytes that a client
announced and that would be refused anyway.
"""

from starlette.types import ASGIApp, Receive, Scope, Send

from app.errors import ErrorCode
from app.routes.errors import error_response, log_refusal

# Two files plus the multipart framing and form fields.
_FILES_PER_REQUEST = 2
_FRAMING_BYTES = 1024 * 1024


class UploadSizeLimit:
    def __init__(self, app: ASGIApp, max_file_bytes: int) -> None:
        self._app = app
        self._max_body = _FILES_PER_REQUEST * max_file_bytes + _FRAMING_BYTES
        self._max_mb = max_file_bytes // (1024 * 1024)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and self._declared_size(scope) > self._max_body:
            log_refusal(scope["method"], scope["path"], 413, "declared body size over the upload limit")
            response = error_response(
                413,
                ErrorCode.UPLOAD_TOO_LARGE,
                f"request body is larger than two files of {self._max_mb} MB; send smaller files",
            )
            await response(scope, receive, send)
            return
        await self._app(scope, receive, send)

    @staticmethod
    def _declared_size(scope: Scope) -> int:
        for name, value in scope["headers"]:
            if name == b"content-length":
                return int(value) if value.isdigit() else 0
        return 0
