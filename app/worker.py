"""The worker of distributed mode: `celery -A app.worker worker -Q lipsync`, one per GPU.

Start one process per GPU with CUDA_VISIBLE_DEVICES set, with the same settings as the API
(EXECUTION=celery, STORAGE=s3). Concurrency 1 and prefetch 1 come from `celery_queue`. The
engines load in the pool's child process after it forks (`worker_process_init`): CUDA and the
face models never live in the forking parent.

Webhook tries run apart, so that none waits behind a job: `celery -A app.worker worker -Q webhooks
--pool threads --concurrency 8` (no engines load there).
"""

import functools
import logging
from typing import Any

from celery import Task
from celery.signals import after_setup_logger, after_setup_task_logger, worker_process_init, worker_process_shutdown
from prometheus_client import start_http_server

from app import tracing, wiring
from app.config import get_settings
from app.logs import configure_logging, line_formatter
from app.metrics import REGISTRY
from app.services.execution.celery_queue import RENDER_TASK, WEBHOOK_TASK, celery_app
from app.services.execution.executor import TaskExecutor
from app.services.webhooks.sender import Delivery, WebhookSender

settings = get_settings()
app = celery_app(settings)
_SERVICE_NAME = "modellab-worker"  # the traces' default service.name (OTEL_SERVICE_NAME overrides)
_executor: TaskExecutor | None = None


@after_setup_logger.connect
@after_setup_task_logger.connect
def _log_task_ids(logger: logging.Logger | None = None, **_: Any) -> None:
    """Celery's handlers print our line format (`celery_queue`), task id included; with
    LOG_FORMAT=json, our JSON lines instead."""
    configure_logging(settings.log_format)
    if settings.log_format == "json" and logger is not None:
        for handler in logger.handlers:
            handler.setFormatter(line_formatter("json"))


@worker_process_init.connect
def _load_engines(**_: Any) -> None:
    global _executor
    _serve_metrics()
    # In the pool's child, after the fork: the exporter's thread lives where the jobs run.
    tracing.start(settings, _SERVICE_NAME)
    _executor = wiring.build_worker_executor(settings)


@worker_process_shutdown.connect
def _flush_traces(**_: Any) -> None:
    """A pool's child ends without running `atexit`: the spans still waiting are sent now."""
    tracing.flush()


@functools.cache
def _serve_metrics() -> None:
    """This process's metrics (jobs, webhooks, failures) on WORKER_METRICS_PORT, if set. Started in
    the process that runs the tasks: the pool's child (prefork), or the worker itself (threads,
    solo), on its first task. The task counts and queue depth are the API's (from Redis)."""
    if settings.worker_metrics_port is not None:
        start_http_server(settings.worker_metrics_port, registry=REGISTRY)


@app.task(name=RENDER_TASK, bind=True)
def render(self: Task, task_id: str) -> None:
    """Run the task to its end; its outcome is in the task's record, not in Celery's. The job's
    span continues the trace of the request that queued it (`traceparent` in the message headers)."""
    global _executor
    _serve_metrics()
    if _executor is None:  # a pool without child processes (--pool solo) sends no process init
        tracing.start(settings, _SERVICE_NAME)
        _executor = wiring.build_worker_executor(settings)
    with tracing.resumed(self.request.headers or {}):
        _executor.run(task_id)


@app.task(name=WEBHOOK_TASK)
def send_webhook(delivery: dict[str, Any]) -> None:
    """One try of a webhook; a failed one is queued again with its delay (`WebhookSender.attempt`)."""
    _serve_metrics()
    _webhook_sender().attempt(Delivery(**delivery))


@functools.cache
def _webhook_sender() -> WebhookSender:
    return wiring.webhook_sender(settings)
