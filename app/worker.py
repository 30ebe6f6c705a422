"""The worker of distributed mode: `celery -A app.worker worker -Q lipsync`, one per GPU.

Start one process per GPU with CUDA_VISIBLE_DEVICES set, with the same settings as the API
(EXECUTION=celery, STORAGE=s3). Concurrency 1 and prefetch 1 come from `celery_queue`. The
engines load in the pool's child process after it forks (`worker_process_init`): CUDA and the
face models never live in the forking parent.

Webhook tries run apart, so that none waits behind a job: `celery -A app.worker worker -Q webhooks
--pool threads --concurrency 8` (no engines load there).
"""

import functools
from typing import Any

from celery.signals import after_setup_logger, worker_process_init

from app import wiring
from app.config import get_settings
from app.logs import configure_logging
from app.services.execution.celery_queue import RENDER_TASK, WEBHOOK_TASK, celery_app
from app.services.execution.executor import TaskExecutor
from app.services.webhooks.sender import Delivery, WebhookSender

settings = get_settings()
app = celery_app(settings)
_executor: TaskExecutor | None = None


@after_setup_logger.connect
def _log_task_ids(**_: Any) -> None:
    """Celery's handlers print our line format (`celery_queue`), task id included."""
    configure_logging()


@worker_process_init.connect
def _load_engines(**_: Any) -> None:
    global _executor
    _executor = wiring.build_worker_executor(settings)


@app.task(name=RENDER_TASK)
def render(task_id: str) -> None:
    """Run the task to its end; its outcome is in the task's record, not in Celery's."""
    global _executor
    if _executor is None:  # a pool without child processes (--pool solo) sends no process init
        _executor = wiring.build_worker_executor(settings)
    _executor.run(task_id)


@app.task(name=WEBHOOK_TASK)
def send_webhook(delivery: dict[str, Any]) -> None:
    """One try of a webhook; a failed one is queued again with its delay (`WebhookSender.attempt`)."""
    _webhook_sender().attempt(Delivery(**delivery))


@functools.cache
def _webhook_sender() -> WebhookSender:
    return wiring.webhook_sender(settings)
