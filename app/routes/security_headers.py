"""Headers every answer carries, so that browsers neither guess types, frame us, nor leak URLs.

The page's policy holds because its script and style are files under /static (no inline code):
a script injected into it would not run. /docs loads its own assets from /docs-assets the same
way, but Swagger UI starts itself with an inline script and styles, which its own policy allows.
"""

from starlette.datastructures import MutableHeaders
from starlette.types import Message, Receive, Scope, Send

from app.routes.answered import HttpMiddleware

# Own files only; media comes from blob: URLs the page makes of uploads and results; XHR and
# fetch go to this origin; no framing, no plugins, forms post here only.
PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "media-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
_DOCS_POLICY = PAGE_POLICY.replace("script-src 'self'", "script-src 'self' 'unsafe-inline'").replace(
    "style-src 'self'", "style-src 'self' 'unsafe-inline'"
)
_FIXED = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


class SecurityHeaders(HttpMiddleware):
    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        policy = _DOCS_POLICY if scope["path"] == "/docs" else PAGE_POLICY

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in _FIXED.items():
                    headers.setdefault(name, value)
                headers.setdefault("Content-Security-Policy", policy)
            await send(message)

        await self._app(scope, receive, send_with_headers)
