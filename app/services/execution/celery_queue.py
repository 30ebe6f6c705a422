"""The job queue of distributed mode: Celery on Redis. Messages carry a task id, never media.

Delivery: a worker takes one job at a time (prefetch 1) and acknowledges it only when the job
has ended (late ack), so a job whose worker process dies is delivered again
(`reject_on_worker_lost`); a job whose whole worker host vanished is delivered again after the
visibility timeout, or sooner by the API hosts' watch on heartbeats (`TaskService`).
"""

import logging

import redis
from celery import Celery
from kombu.exceptions import OperationalError

from app import tracing
from app.config import Settings
from app.errors import BackendUnavailable
from app.logs import LOG_FORMAT, log_event

logger = logging.getLogger(__name__)

QUEUE = "lipsync"
RENDER_TASK = "modellab.render"
# Webhook tries (webhook_queue), apart from the jobs: a job holds its worker for minutes.
WEBHOOK_QUEUE = "webhooks"
WEBHOOK_TASK = "modellab.webhook"
# Publishing a job gives up after this long when Redis does not answer (503, not a hung request).
_PUBLISH_TIMEOUT_S = 5.0


def celery_app(settings: Settings) -> Celery:
    app = Celery("modellab", broker=settings.redis_url, set_as_current=False)
    app.conf.update(
        task_default_queue=QUEUE,
        task_routes={RENDER_TASK: {"queue": QUEUE}, WEBHOOK_TASK: {"queue": WEBHOOK_QUEUE}},
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_ignore_result=True,
        task_time_limit=settings.job_time_limit_s,
        worker_prefetch_multiplier=1,
        worker_concurrency=1,
        worker_log_format=LOG_FORMAT,
        worker_task_log_format=LOG_FORMAT,
        broker_connection_retry_on_startup=True,
        broker_transport_options={
            "visibility_timeout": settings.visibility_timeout_s,
            "socket_timeout": _PUBLISH_TIMEOUT_S,
            "socket_connect_timeout": _PUBLISH_TIMEOUT_S,
        },
        task_publish_retry_policy={"max_retries": 2, "interval_start": 0.2, "interval_step": 0.5},
    )
    return app


class CeleryJobRunner:
    def __init__(self, app: Celery) -> None:
        self._app = app

    def submit(self, task_id: str) -> None:
        """Blocking: publishes the job to Redis (call it off the event loop)."""
        try:
            # The message's id is the task's, so that a cancel can revoke every message of it; its
            # headers carry the trace context, which the worker's job span continues.
            self._app.send_task(
                RENDER_TASK, args=[task_id], queue=QUEUE, task_id=task_id, headers=tracing.handover(task_id)
            )
        except OperationalError as error:
            log_event(logger, "queue.unreachable", logging.ERROR, reason=str(error)[:200])
            raise BackendUnavailable("the job queue (Redis) is unreachable; try again shortly") from error

    def withdraw(self, task_id: str) -> None:
        """Revoke the task's messages: the workers running now discard them unstarted. A worker
        started later, or a message redelivered after it, still reaches the claim, which skips a
        cancelled task."""
        try:
            self._app.control.revoke(task_id)
        except (OperationalError, redis.RedisError) as error:
            log_event(logger, "queue.revoke_failed", logging.WARNING, task_id=task_id, reason=type(error).__name__)

    def stop(self) -> None:
        """Jobs run in the workers; closing the connections is all there is to do here."""
        self._app.close()
