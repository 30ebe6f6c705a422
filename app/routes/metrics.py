"""GET /metrics (Prometheus text format) and the middleware that counts HTTP requests.

Requests are labelled by their route's path template (`/status/{task_id}`), never the raw path,
so a client cannot grow the number of series; a path no route matches is `unmatched`. The task
counts and the queue depth are read from the service's registry at scrape time: in distributed
mode that is Redis, so every API host reports the same shared numbers.
"""

import time

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Gauge, generate_latest
from starlette.types import Receive, Scope, Send

from app.metrics import HTTP_DURATION, HTTP_REQUESTS, REGISTRY
from app.routes.answered import AnsweredStatus, HttpMiddleware, route_template
from app.routes.deps import ServiceDep
from app.services.tasks.model import TaskState

METRICS_PATH = "/metrics"

router = APIRouter(include_in_schema=False)


@router.get(METRICS_PATH)
async def metrics(service: ServiceDep) -> Response:
    counts = await service.count_by_state()
    # A registry per scrape for what this app's service knows; the process-wide one for the rest.
    scrape = CollectorRegistry(auto_describe=True)
    tasks = Gauge("modellab_tasks", "Tasks in the registry, by status", ["status"], registry=scrape)
    for state in TaskState:
        tasks.labels(state.value).set(counts.get(state, 0))
    depth = Gauge("modellab_queue_depth", "Tasks accepted and waiting for a worker", registry=scrape)
    depth.set(counts.get(TaskState.QUEUED, 0))
    return Response(generate_latest(REGISTRY) + generate_latest(scrape), media_type=CONTENT_TYPE_LATEST)


class RequestMetrics(HttpMiddleware):
    """Counts each HTTP request by method, route template and status, and times it."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        answered = AnsweredStatus(send)
        try:
            await self._app(scope, receive, answered.send)
        finally:
            route = route_template(scope)
            HTTP_REQUESTS.labels(scope["method"], route, str(answered.status)).inc()
            HTTP_DURATION.labels(scope["method"], route).observe(time.perf_counter() - started)
