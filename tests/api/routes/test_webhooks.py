"""Webhooks to a real HTTP receiver on 127.0.0.1: delivery, signature, retry after a 500, refusals
(unit tests of the URL check and of deliveries: tests/services/test_webhook_*.py)."""

import hashlib
import hmac
import json
import time

import pytest

from tests.api.routes.test_process import leftover_entries
from tests.conftest import upload, wait_for_end
from tests.webhook_receiver import Receiver

pytestmark = pytest.mark.e2e

SECRET = "webhook-test-secret"


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


def verify(headers: dict, body: bytes) -> bool:
    """What a receiver does: recompute the HMAC over "<t>.<body>" and compare in constant time."""
    parts = dict(item.split("=", 1) for item in headers["x-modellab-signature"].split(","))
    expected = hmac.new(SECRET.encode(), f"{parts['t']}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts["v1"]) and abs(time.time() - int(parts["t"])) < 300


def test_started_and_finished_are_delivered_signed_and_a_500_is_retried(make_client, receiver, face_video, short_audio):
    client = make_client(webhook_secret=SECRET, webhook_allow_private=True, webhook_retry_base_s=0.2)
    receiver.answers = [500]  # the first delivery fails
    task_id = upload(client, face_video, short_audio, webhook_url=receiver.url).json()["task_id"]
    assert wait_for_end(client, task_id)["status"] == "finished"
    receiver.wait_for(2)
    assert [event["event"] for event in receiver.events()] == ["started", "finished"]
    finished = receiver.events()[-1]
    assert finished.pop("delivery_id") == receiver.received[-1][0]["x-modellab-delivery"]
    # The report the finished task's status shows, measured on the output.
    assert finished.pop("quality") == client.get(f"/status/{task_id}").json()["quality"]
    assert finished == {
        "task_id": task_id,
        "status": "finished",
        "error": None,
        "error_code": None,
        "result_url": f"http://testserver/result/{task_id}",
        "event": "finished",
    }
    # The refused first try was the same event, sent again.
    assert [json.loads(body)["event"] for _, body, _ in receiver.received][:2] == ["started", "started"]
    assert all(verify(headers, body) for headers, body, _ in receiver.received)
    assert not verify(receiver.received[0][0], b"tampered")


def test_a_failed_task_announces_its_error(make_client, receiver, no_face_video, short_audio):
    client = make_client(webhook_secret=SECRET, webhook_allow_private=True)
    task_id = upload(client, no_face_video, short_audio, webhook_url=receiver.url).json()["task_id"]
    assert wait_for_end(client, task_id)["status"] == "failed"
    receiver.wait_for(2)
    assert receiver.events()[-1]["event"] == "failed"
    assert receiver.events()[-1]["error"].startswith("no face found in the video")
    assert receiver.events()[-1]["error_code"] == "no_face"


@pytest.mark.parametrize(
    ("settings", "url", "detail"),
    [
        (
            {"webhook_secret": SECRET},
            "http://127.0.0.1:9/hook",
            "webhook_url: only globally routable addresses are accepted (WEBHOOK_ALLOW_PRIVATE is off)",
        ),
        (
            {"webhook_secret": SECRET},
            "http://169.254.169.254/latest/meta-data",
            "webhook_url: only globally routable addresses are accepted (WEBHOOK_ALLOW_PRIVATE is off)",
        ),
        ({"webhook_secret": SECRET}, "file:///etc/passwd", "webhook_url: send an http or https URL"),
        ({}, "https://example.com/hook", "webhook_url: this server sends no webhooks (WEBHOOK_SECRET is not set)"),
    ],
)
def test_refused_webhook_targets_get_400_and_leave_nothing(make_client, face_video, short_audio, settings, url, detail):
    client = make_client(**settings)
    response = upload(client, face_video, short_audio, webhook_url=url)
    assert response.status_code == 400
    assert response.json()["detail"] == detail
    assert leftover_entries(client) == []


@pytest.mark.parametrize(
    "url",
    [
        "http://[::1/hook",
        "http://hooks.example.com:99999/",
        "http://hooks.example.com:abc/",
        "http://" + "a" * 64 + ".example.com/",
        "http://hooks..example.com/",
        "http://[v1.x]/",
        "http://user:secret@8.8.8.8/",
        "http://8.8.8%2e8/",
        "http://8.8.8.8/a b",
    ],
)
def test_malformed_webhook_urls_get_400_naming_the_field(make_client, face_video, short_audio, url):
    client = make_client(webhook_secret=SECRET)
    response = upload(client, face_video, short_audio, webhook_url=url)
    assert response.status_code == 400
    assert response.json()["detail"].startswith("webhook_url: ")
    assert leftover_entries(client) == []
