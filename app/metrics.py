"""Prometheus metrics of this process: the metric objects, and what records them.

One module-level `REGISTRY` (not prometheus_client's global one, which also holds the default
process collectors): what services record (jobs, webhooks, uploads, failures) happens once per
process whatever number of apps it builds, so one set of metric objects is right, and tests that
build many apps never register a name twice. What depends on one app's service (tasks by status,
queue depth) is read at scrape time by `routes/metrics`, never registered here.

The API serves these at GET /metrics; a Celery worker on WORKER_METRICS_PORT (`app.worker`).
"""

from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Histogram

from app.services.tasks.model import TaskState

if TYPE_CHECKING:  # the executor's type; importing it here would pull the pipeline into every route
    from app.services.execution.outcome import Outcome

REGISTRY = CollectorRegistry(auto_describe=True)

# Seconds: from an API answer (milliseconds) to an upload of hundreds of MB (minutes).
_REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
# Seconds: a short clip with the viseme engine (seconds) to a long one with MuseTalk (an hour).
_JOB_BUCKETS = (1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600)
# Output frames rendered per second of the run: MuseTalk on the CPU (<1) to viseme on a GPU (hundreds).
_FPS_BUCKETS = (0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500)

HTTP_REQUESTS = Counter(
    "modellab_http_requests",
    "HTTP requests answered, by method, route template and status",
    ["method", "route", "status"],
    registry=REGISTRY,
)
HTTP_DURATION = Histogram(
    "modellab_http_request_duration_seconds",
    "Time to answer an HTTP request (to its last body byte), by method and route template",
    ["method", "route"],
    buckets=_REQUEST_BUCKETS,
    registry=REGISTRY,
)
JOB_DURATION = Histogram(
    "modellab_job_duration_seconds",
    "Wall time of a run that ended finished or failed, by engine and end state",
    ["engine", "status"],
    buckets=_JOB_BUCKETS,
    registry=REGISTRY,
)
JOB_FPS = Histogram(
    "modellab_job_frames_per_second",
    "Output frames per second of wall time of a finished run, by engine",
    ["engine"],
    buckets=_FPS_BUCKETS,
    registry=REGISTRY,
)
FAILURES = Counter(
    "modellab_failures",
    "Refused requests (source=request) and failed tasks (source=task), by error_code",
    ["source", "error_code"],
    registry=REGISTRY,
)
WEBHOOK_DELIVERIES = Counter(
    "modellab_webhook_deliveries",
    "Webhook tries, by outcome (delivered, status_<http status>, deadline, refused_target...)",
    ["outcome"],
    registry=REGISTRY,
)
UPLOAD_BYTES = Counter(
    "modellab_upload_bytes",
    "Bytes of uploaded files received, by form field",
    ["field"],
    registry=REGISTRY,
)


def observe_run(engine: str, outcome: "Outcome | None", duration_s: float) -> None:
    """Record a run's end (a cancelled or replaced run, with no outcome, is not a job's duration)."""
    if outcome is None:
        return
    JOB_DURATION.labels(engine, outcome.status.value).observe(duration_s)
    if outcome.status is TaskState.FINISHED and outcome.output is not None and duration_s > 0:
        JOB_FPS.labels(engine).observe(outcome.output.frames / duration_s)
    elif outcome.status is TaskState.FAILED:
        count_task_failure(outcome.error_code.value if outcome.error_code else "internal")


def count_task_failure(error_code: str) -> None:
    """A task ended failed: by its run, or before one (never queued, out of attempts)."""
    FAILURES.labels("task", error_code).inc()
