"""When API_KEY is set, every request but the open paths must carry it as X-API-Key (else 401).

A middleware rather than a route dependency, so unknown paths and the OpenAPI docs are covered
too; it sits inside CORS so browsers' preflight requests (which carry no custom headers) pass.
"""

import hmac

from starlette.types import ASGIApp, Receive, Scope, Send

from app.errors import ErrorCode
from app.routes.errors import error_response, log_refusal

API_KEY_HEADER = "X-API-Key"
# Open without a key: the health check and its probes, the API docs (their Authorize button takes
# the key) and the web page with its assets (it asks for the key). GET /metrics is added to them
# unless METRICS_REQUIRE_KEY (a scraper sends no key by default).
OPEN_PATHS = frozenset({"/health", "/health/live", "/health/ready", "/docs", "/openapi.json", "/"})
_OPEN_PREFIXES = ("/docs-assets/", "/static/")


def is_open_path(path: str) -> bool:
    return path in OPEN_PATHS or path.startswith(_OPEN_PREFIXES)


class ApiKeyGuard:
    def __init__(self, app: ASGIApp, api_key: str | None, also_open: frozenset[str] = frozenset()) -> None:
        self._app = app
        self._key = api_key.encode() if api_key else None
        self._also_open = also_open

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if self._key is None or scope["type"] != "http" or is_open_path(path) or path in self._also_open:
            await self._app(scope, receive, send)
            return
        presented = dict(scope["headers"]).get(API_KEY_HEADER.lower().encode(), b"")
        # compare_digest takes the same time wherever the first difference is.
        if not hmac.compare_digest(presented, self._key):
            log_refusal(scope["method"], scope["path"], 401, "missing or wrong API key")
            response = error_response(
                401,
                ErrorCode.UNAUTHORIZED,
                "missing or wrong API key: send it in the X-API-Key header",
                headers={"WWW-Authenticate": "X-API-Key"},
            )
            await response(scope, receive, send)
            return
        await self._app(scope, receive, send)
