"""Webhook deliveries over real sockets on 127.0.0.1: where the POST goes when DNS changes its
answer, receivers that misbehave, and the delivery id. The sender is the one the app builds for
local mode (a bounded pool of threads)."""

import json
import logging
import re
import socket
import time
from collections.abc import Callable, Iterator

import pytest

from app.pipeline.media.probe import MediaInfo
from app.pipeline.timeline import SyncMode
from app.services.tasks.choices import RenderChoices
from app.services.tasks.memory_registry import InMemoryTaskRegistry
from app.services.tasks.model import TaskEvent, TaskInfo
from app.services.webhooks.sender import WebhookSender
from tests.conftest import wait_until
from tests.webhook_receiver import RawReceiver, Receiver

SECRET = "webhook-test-secret"
_REAL_GETADDRINFO = socket.getaddrinfo


def announce(sender: WebhookSender, url: str, event: TaskEvent = TaskEvent.STARTED) -> None:
    registry = InMemoryTaskRegistry()
    task = TaskInfo(
        task_id=f"task-{time.monotonic_ns()}",
        model_choice="model1",
        engine="viseme",
        choices=RenderChoices(SyncMode.BOUNCE),
        audio_extension="wav",
        media=MediaInfo(1.0, True, True),
        webhook_url=url,
    )
    registry.add(task)
    sender.announce(registry, task.task_id, event)


@pytest.fixture
def rebinding_dns(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[list[str]], None]]:
    """Makes `hooks.rebind.test` answer the given addresses in turn (the last one from then on),
    at the resolver everything in this process calls."""
    answers: list[str] = []

    def getaddrinfo(host, port, *args, **kwargs):
        if host != "hooks.rebind.test":
            return _REAL_GETADDRINFO(host, port, *args, **kwargs)
        address = answers.pop(0) if len(answers) > 1 else answers[0]
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        sockaddr = (address, int(port), 0, 0) if family == socket.AF_INET6 else (address, int(port))
        return [(family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", sockaddr)]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    yield answers.extend


def test_the_post_goes_to_the_checked_address_not_to_a_second_dns_answer(rebinding_dns):
    checked, other = Receiver("127.0.0.1"), Receiver("127.0.0.2")
    try:
        other.close()
        other = Receiver("127.0.0.2", checked.port)  # the same port: only the address differs
        rebinding_dns(["127.0.0.1", "127.0.0.2"])
        announce(WebhookSender(SECRET, True, 0.05), f"http://hooks.rebind.test:{checked.port}/hook")
        checked.wait_for(1, timeout_s=10)
        assert checked.received[0][0]["host"] == f"hooks.rebind.test:{checked.port}"
        assert other.received == []
    finally:
        checked.close()
        other.close()


def test_a_name_that_answers_public_then_loopback_gets_nothing_onto_loopback(rebinding_dns, caplog):
    loopback = Receiver()
    # A global address with no route from a test machine, then loopback for every later lookup.
    rebinding_dns(["2001:4860:4860::8888", "127.0.0.1"])
    try:
        with caplog.at_level(logging.INFO, logger="app.services.webhooks.sender"):
            announce(WebhookSender(SECRET, False, 0.01, deadline_s=2), f"http://hooks.rebind.test:{loopback.port}/hook")
            wait_until(lambda: re.search(r"webhook\.(delivered|given_up)", caplog.text), 30, "the last try")
        assert loopback.received == []
        assert "outcome=refused_target" in caplog.text
    finally:
        loopback.close()


@pytest.mark.parametrize(
    "answer",
    [
        b"garbage\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n" + b"X-Junk: 1\r\n" * 500 + b"\r\n",
        b"HTTP/1.1 200 OK\r\n" + b"X" * 200_000,
    ],
    ids=["no_status_line", "too_many_headers", "endless_header"],
)
def test_a_receiver_answering_garbage_harms_no_later_delivery(answer):
    bad, good = RawReceiver(answer), Receiver()
    sender = WebhookSender(SECRET, True, 0.05)
    try:
        announce(sender, bad.url)
        wait_until(lambda: bad.closed_by_sender >= 1, 10, "the bad receiver's first try")
        announce(sender, good.url)
        good.wait_for(1, timeout_s=5)
        if answer.startswith(b"garbage"):  # no status line: a failure, tried again
            wait_until(lambda: bad.connections >= 2, 10, "a second try to the bad receiver")
    finally:
        bad.close()
        good.close()


def test_a_receiver_that_never_answers_delays_no_other_and_is_cut_at_the_deadline():
    silent, good = RawReceiver(None), Receiver()
    sender = WebhookSender(SECRET, True, 60, deadline_s=2)
    try:
        announce(sender, silent.url)
        wait_until(lambda: silent.connections >= 1, 10, "the silent receiver's connection")
        started = time.monotonic()
        announce(sender, good.url)
        good.wait_for(1, timeout_s=5)
        assert time.monotonic() - started < 1.5  # not after the silent one's deadline
        wait_until(lambda: silent.closed_by_sender >= 1, 4, "the silent receiver's try ending at its deadline")
    finally:
        silent.close()
        good.close()


def test_each_event_has_one_delivery_id_in_header_and_body_kept_across_retries():
    receiver = Receiver()
    receiver.answers = [500]
    sender = WebhookSender(SECRET, True, 0.05)
    try:
        announce(sender, receiver.url, TaskEvent.STARTED)
        receiver.wait_for(1)
        announce(sender, receiver.url, TaskEvent.FINISHED)
        receiver.wait_for(2)
    finally:
        receiver.close()
    ids = {}
    for headers, body, _ in receiver.received:
        event = json.loads(body)
        assert re.fullmatch(r"[0-9a-f]{32}", event["delivery_id"])
        assert headers["x-modellab-delivery"] == event["delivery_id"]
        ids.setdefault(event["event"], set()).add(event["delivery_id"])
    assert [status for _, _, status in receiver.received] == [500, 200, 200]
    assert len(ids["started"]) == 1 and len(ids["finished"]) == 1  # the retry kept its id
    assert ids["started"] != ids["finished"]
