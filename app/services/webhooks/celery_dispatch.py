"""Webhook tries in distributed mode: Celery tasks on the `webhooks` queue of the broker the jobs
already use. A delivery (its first try and each retry, with its countdown) is a message in Redis,
not a thread, so it outlives the API host or worker that scheduled it; the worker that holds a
message acknowledges it only once the try has run. `app.worker`'s `send_webhook` runs them
(`celery -A app.worker worker -Q webhooks --pool threads`)."""

import logging
from dataclasses import asdict

from celery import Celery
from kombu.exceptions import OperationalError

from app.logs import log_event
from app.services.execution.celery_queue import WEBHOOK_QUEUE, WEBHOOK_TASK
from app.services.webhooks.sender import Delivery

logger = logging.getLogger(__name__)


class CeleryWebhookDispatch:
    def __init__(self, app: Celery) -> None:
        self._app = app

    def schedule(self, delivery: Delivery, delay_s: float) -> None:
        try:
            self._app.send_task(WEBHOOK_TASK, args=[asdict(delivery)], queue=WEBHOOK_QUEUE, countdown=delay_s or None)
        except OperationalError as error:
            log_event(
                logger,
                "webhook.not_queued",
                logging.ERROR,
                task_id=delivery.task_id,
                webhook_event=delivery.event,
                reason=str(error)[:200],
            )
