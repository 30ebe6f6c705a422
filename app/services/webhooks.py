"""Task events POSTed to the client's `webhook_url`: `started` and every end state.

The body is JSON `{task_id, status, error, result_url, event}`, signed in the header
`X-ModelLab-Signature: t=<unix time>,v1=<hex HMAC-SHA256(WEBHOOK_SECRET, "<t>.<body>")>`.
A delivery that fails (no answer, or not 2xx) is tried again with growing delays, from a thread
of its own: no job ever waits for a receiver. Private, loopback and link-local targets are
refused (at submission and again before each try, as DNS may change) unless
WEBHOOK_ALLOW_PRIVATE is set; redirects are not followed.
"""

import hashlib
import heapq
import hmac
import ipaddress
import itertools
import json
import logging
import socket
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from urllib.parse import urlsplit

from app.errors import InvalidUpload, ModelLabError
from app.logs import log_event
from app.services.registry import TaskRegistry

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-ModelLab-Signature"
# Tries per event; the delay before try n (n >= 1) is retry_base_s * 4**(n - 1): with the default
# 5 s, tries at 0 s, 5 s, 25 s, 1 min 45 s and 7 min 05 s.
ATTEMPTS = 5
_TIMEOUT_S = 10


def check_webhook_url(url: str, allow_private: bool) -> None:
    """Refuse (400, naming the field) a URL that is not http(s) or reaches a private address."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidUpload("webhook_url", "send an http or https URL")
    if not allow_private and _reaches_private(parts.hostname, parts.port):
        raise InvalidUpload(
            "webhook_url", "private, loopback and link-local addresses are refused (WEBHOOK_ALLOW_PRIVATE is off)"
        )


def sign(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


@dataclass(frozen=True)
class _Delivery:
    url: str
    body: bytes
    task_id: str
    event: str
    attempt: int = 1


class WebhookSender:
    """One thread sends due deliveries in order of their time; `notify` only enqueues."""

    def __init__(self, secret: str | None, allow_private: bool, retry_base_s: float) -> None:
        self._secret = secret
        self._allow_private = allow_private
        self._retry_base_s = retry_base_s
        self._due: list[tuple[float, int, _Delivery]] = []
        self._order = itertools.count()
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None

    def announce(self, registry: TaskRegistry, task_id: str, event: str) -> None:
        """Queue the event for the task's webhook, if it has one, with the task's state now (just
        after the event). Never raises: a task store that cannot answer costs only the webhook."""
        try:
            task = registry.get(task_id)
        except ModelLabError:
            log_event(logger, "webhook.not_queued", logging.WARNING, task_id=task_id, webhook_event=event)
            return
        if not task.webhook_url or not self._secret:
            return
        body = json.dumps({"task_id": task.task_id, "status": task.status.value, "error": task.error,
                           "result_url": task.result_url, "event": event}).encode()
        self._schedule(_Delivery(task.webhook_url, body, task.task_id, event), delay_s=0)

    def _schedule(self, delivery: _Delivery, delay_s: float) -> None:
        with self._changed:
            heapq.heappush(self._due, (time.monotonic() + delay_s, next(self._order), delivery))
            if self._thread is None:
                self._thread = threading.Thread(target=self._send_forever, name="webhooks", daemon=True)
                self._thread.start()
            self._changed.notify()

    def _send_forever(self) -> None:
        while True:
            with self._changed:
                while not self._due or self._due[0][0] > time.monotonic():
                    self._changed.wait(timeout=self._due[0][0] - time.monotonic() if self._due else None)
                _, _, delivery = heapq.heappop(self._due)
            self._try(delivery)

    def _try(self, delivery: _Delivery) -> None:
        outcome = self._post(delivery)
        fields = {"task_id": delivery.task_id, "webhook_event": delivery.event, "attempt": delivery.attempt,
                  "outcome": outcome}
        if outcome == "delivered":
            log_event(logger, "webhook.delivered", **fields)
        elif delivery.attempt < ATTEMPTS:
            log_event(logger, "webhook.retrying", logging.WARNING, **fields)
            again = _Delivery(delivery.url, delivery.body, delivery.task_id, delivery.event, delivery.attempt + 1)
            self._schedule(again, self._retry_base_s * 4 ** (delivery.attempt - 1))
        else:
            log_event(logger, "webhook.given_up", logging.ERROR, **fields)

    def _post(self, delivery: _Delivery) -> str:
        try:
            check_webhook_url(delivery.url, self._allow_private)
        except InvalidUpload:
            return "refused_target"
        request = urllib.request.Request(delivery.url, data=delivery.body, method="POST", headers={
            "Content-Type": "application/json", "User-Agent": "ModelLab-Webhooks/1",
            SIGNATURE_HEADER: sign(self._secret or "", int(time.time()), delivery.body),
        })
        try:
            with _NO_REDIRECTS.open(request, timeout=_TIMEOUT_S) as answer:
                return "delivered" if 200 <= answer.status < 300 else f"status_{answer.status}"
        except urllib.error.HTTPError as error:
            return f"status_{error.code}"
        except (urllib.error.URLError, OSError) as error:
            return type(error).__name__


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect could point at a private address after the check: it counts as a failure."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


_NO_REDIRECTS = urllib.request.build_opener(_NoRedirect)


def _reaches_private(host: str, port: int | None) -> bool:
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, port or 443, proto=socket.IPPROTO_TCP)}
    except OSError:
        raise InvalidUpload("webhook_url", f"the host {host[:100]!r} does not resolve") from None
    return any(_is_private(address) for address in addresses)


def _is_private(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return (ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_reserved
            or ip.is_unspecified)
