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

from celery.signals import after_setup_logger, after_setup_task_logger, worker_process_init
from prometheus_client import start_http_server

from app import wiring
from app.config import get_settings
from app.logs import configure_logging, line_formatter
from app.metrics import REGISTRY
from app.services.execution.celery_queue import RENDER_TASK, WEBHOOK_TASK, celery_app
from app.services.execution.executor import TaskExecutor
from app.services.webhooks.sender import Delivery, WebhookSender

settings = get_settings()
app = celery_app(settings)
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
    _executor = wiring.build_worker_executor(settings)


@functools.cache
def _serve_metrics() -> None:
    """This process's metrics (jobs, webhooks, failures) on WORKER_METRICS_PORT, if set. Started in
    the process that runs the tasks: the pool's child (prefork), or the worker itself (threads,
    solo), on its first task. The task counts and queue depth are the API's (from Redis)."""
    if settings.worker_metrics_port is not None:
        start_http_server(settings.worker_metrics_port, registry=REGISTRY)


@app.task(name=RENDER_TASK)
def render(task_id: str) -> None:
    """Run the task to its end; its outcome is in the task's record, not in Celery's."""
    global _executor
    _serve_metrics()
    if _executor is None:  # a pool without child processes (--pool solo) sends no process init
        _executor = wiring.build_worker_executor(settings)
    _executor.run(task_id)


@app.task(name=WEBHOOK_TASK)
def send_webhook(delivery: dict[str, Any]) -> None:
    """One try of a webhook; a failed one is queued again with its delay (`WebhookSender.attempt`)."""
    _serve_metrics()
    _webhook_sender().attempt(Delivery(**delivery))


@functools.cache
def _webhook_sender() -> WebhookSender:
    return wiring.webhook_sender(settings)
