"""The common ground of our ASGI middlewares: HTTP requests only, and what a watching one
(metrics, traces) learns of a request: the route it matched and the status it was answered with."""

from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class HttpMiddleware:
    """Handles HTTP requests (`handle`); lifespan and websocket traffic passes through untouched."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        await self.handle(scope, receive, send)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        raise NotImplementedError


class AnsweredStatus:
    """Passes an app's messages on to `send`, noting the response's status on the way (500 until
    the app answers: what the client gets when the app raises first)."""

    def __init__(self, send: Send) -> None:
        self.status = 500
        self._send = send

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
        await self._send(message)


def route_template(scope: Scope) -> str:
    """The matched route's template; a request refused before routing (API key, upload limits)
    is matched here against the app's routes."""
    route = scope.get("route")
    if route is None and (app := scope.get("app")) is not None:
        for candidate in app.router.routes:
            if candidate.matches(scope)[0] is not Match.NONE:
                route = candidate
                break
    return getattr(route, "path", None) or "unmatched"
