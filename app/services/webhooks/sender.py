"""Task events POSTed to the client's `webhook_url`: `started` and every end state.

The body is JSON `{delivery_id, task_id, status, error, error_code, result_url, quality, event}`
(`error_code` is a failed task's stable code, else null; `quality` a finished task's report), signed in the header
`X-ModelLab-Signature: t=<unix time>,v1=<hex HMAC-SHA256(WEBHOOK_SECRET, "<t>.<body>")>`; the
event's `delivery_id` is also in `X-ModelLab-Delivery` and stays the same across its tries, so a
receiver can drop replays. Each try parses the URL and checks every address its host resolves to
(`target`), then POSTs to a checked address within a total deadline (`post`). A
try that fails is scheduled again with growing delays. Where tries run is the dispatch's
business: a bounded pool of threads here (`ThreadDispatch`), or the broker's `webhooks` queue in
distributed mode (`celery_dispatch`). No job ever waits for a receiver.
"""

import hashlib
import hmac
import json
import logging
import time
import uuid
from dataclasses import dataclass, replace
from typing import Any, Protocol

from app.errors import InvalidUpload, ModelLabError
from app.logs import log_event
from app.metrics import WEBHOOK_DELIVERIES
from app.services.tasks.model import TaskEvent
from app.services.tasks.registry import TaskRegistry
from app.services.webhooks.dispatch import ThreadDispatch
from app.services.webhooks.post import post
from app.services.webhooks.target import Resolve, checked_addresses, parse_webhook_url, resolve_addresses

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-ModelLab-Signature"
DELIVERY_HEADER = "X-ModelLab-Delivery"
# Tries per event; the delay before try n (n >= 1) is retry_base_s * 4**(n - 1): with the default
# 5 s, tries at 0 s, 5 s, 25 s, 1 min 45 s and 7 min 05 s.
ATTEMPTS = 5


def sign(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


@dataclass(frozen=True)
class Delivery:
    """One event for one receiver; plain fields, as it travels through the broker as JSON."""

    delivery_id: str
    url: str
    # The JSON text that is signed and sent.
    body: str
    task_id: str
    event: str
    attempt: int = 1


class WebhookDispatch(Protocol):
    def schedule(self, delivery: Delivery, delay_s: float) -> None:
        """Have `WebhookSender.attempt(delivery)` run in `delay_s` seconds; never raises."""


class WebhookSender:
    """`announce` builds an event's delivery and hands it to the dispatch; `attempt` makes one try."""

    def __init__(
        self,
        secret: str | None,
        allow_private: bool,
        retry_base_s: float,
        *,
        deadline_s: float = 15.0,
        concurrency: int = 8,
        resolve: Resolve = resolve_addresses,
        dispatch: WebhookDispatch | None = None,
    ) -> None:
        self._secret = secret
        self._allow_private = allow_private
        self._retry_base_s = retry_base_s
        self._deadline_s = deadline_s
        self._resolve = resolve
        self._dispatch = dispatch or ThreadDispatch(self.attempt, concurrency)

    def announce(self, registry: TaskRegistry, task_id: str, event: TaskEvent) -> None:
        """Queue the event for the task's webhook, if it has one, with the task's state now (just
        after the event). Never raises: a task store that cannot answer costs only the webhook."""
        try:
            task = registry.get(task_id)
        except ModelLabError:
            log_event(logger, "webhook.not_queued", logging.WARNING, task_id=task_id, webhook_event=event)
            return
        if not task.webhook_url or not self._secret:
            return
        delivery_id = uuid.uuid4().hex
        body = json.dumps(
            {
                "delivery_id": delivery_id,
                "task_id": task.task_id,
                "status": task.status.value,
                "error": task.error,
                "error_code": task.error_code,
                "result_url": task.result_url,
                "quality": task.quality.as_dict() if task.quality else None,
                "event": event.value,
            }
        )
        self._dispatch.schedule(Delivery(delivery_id, task.webhook_url, body, task.task_id, event), 0)

    def attempt(self, delivery: Delivery) -> None:
        """One try; a failed one is scheduled again until ATTEMPTS. Never raises."""
        try:
            outcome = self._post(delivery)
        except Exception:  # a bug in one try must cost that try, never the sender
            logger.exception("webhook try failed unexpectedly")
            outcome = "internal_error"
        WEBHOOK_DELIVERIES.labels(outcome).inc()
        fields: dict[str, Any] = {
            "task_id": delivery.task_id,
            "webhook_event": delivery.event,
            "delivery_id": delivery.delivery_id,
            "attempt": delivery.attempt,
            "outcome": outcome,
        }
        if outcome == "delivered":
            log_event(logger, "webhook.delivered", **fields)
        elif delivery.attempt < ATTEMPTS:
            log_event(logger, "webhook.retrying", logging.WARNING, **fields)
            delay_s = self._retry_base_s * 4 ** (delivery.attempt - 1)
            self._dispatch.schedule(replace(delivery, attempt=delivery.attempt + 1), delay_s)
        else:
            log_event(logger, "webhook.given_up", logging.ERROR, **fields)

    def _post(self, delivery: Delivery) -> str:
        # Parsed and resolved again on each try: DNS may have changed since the last one.
        try:
            target = parse_webhook_url(delivery.url)
            addresses = checked_addresses(target, self._allow_private, self._resolve)
        except InvalidUpload:
            return "refused_target"
        body = delivery.body.encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "ModelLab-Webhooks/1",
            SIGNATURE_HEADER: sign(self._secret or "", int(time.time()), body),
            DELIVERY_HEADER: delivery.delivery_id,
        }
        return post(target, addresses, body, headers, self._deadline_s)
