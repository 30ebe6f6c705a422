"""The middleware that traces each HTTP request (installed only when tracing is on, `app.tracing`).

One server span per request, named `<method> <route template>` as OpenTelemetry's HTTP
conventions name it (never the raw path: `/status/{task_id}`), with the method, route, status and
the task id of routes that have one. It continues the trace of an incoming W3C `traceparent`, and
stays current while the app answers, so the jobs a request queues join its trace (`handover`).
"""

from opentelemetry.trace import SpanKind, Status, StatusCode
from starlette.types import Receive, Scope, Send

from app import tracing
from app.routes.answered import AnsweredStatus, HttpMiddleware, route_template

# Request headers that carry a trace context (W3C Trace Context).
_TRACE_HEADERS = frozenset({"traceparent", "tracestate"})


class RequestTracing(HttpMiddleware):
    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope["method"]
        answered = AnsweredStatus(send)
        incoming = {
            name.decode("latin-1").lower(): value.decode("latin-1")
            for name, value in scope["headers"]
            if name.decode("latin-1").lower() in _TRACE_HEADERS
        }

        with tracing.span(method, parent=incoming, kind=SpanKind.SERVER, **{"http.request.method": method}) as span:
            try:
                await self._app(scope, receive, answered.send)
            finally:
                route = route_template(scope)
                span.update_name(f"{method} {route}")
                span.set_attribute("http.route", route)
                span.set_attribute("http.response.status_code", answered.status)
                if task_id := scope.get("path_params", {}).get("task_id"):
                    span.set_attribute("task_id", task_id)
                if answered.status >= 500:  # a client's error (4xx) is no failure of the server's
                    span.set_status(Status(StatusCode.ERROR))
