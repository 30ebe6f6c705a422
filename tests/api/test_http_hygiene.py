"""P13 HTTP hygiene through the real app: security headers, CORS off by default, result_url from
PUBLIC_URL, escaped log lines, short 422 echoes, ASCII-only face_point, Idempotency-Key freed by
cancel or delete."""

import logging
import re

import pytest

from tests.api.routes.test_bad_input import BOUNDARY, multipart, post_raw
from tests.api.routes.test_process import upload_with_headers
from tests.conftest import upload, wait_for_end
from tests.webhook_receiver import Receiver

CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@pytest.mark.parametrize("path", ["/", "/health", "/models", "/status/not-a-task", "/static/page.js"])
def test_every_answer_says_nosniff_no_framing_and_a_referrer_policy(client, path):
    response = client.get(path)
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


def test_the_page_allows_only_its_own_scripts_and_has_no_inline_ones(client):
    response = client.get("/")
    policy = dict(part.strip().split(" ", 1) for part in response.headers["content-security-policy"].split(";"))
    assert policy["script-src"] == "'self'" and policy["default-src"] == "'self'"
    assert "unsafe-inline" not in response.headers["content-security-policy"]
    # Every <script> loads a file: the policy above would block an inline one.
    assert re.findall(r"<script[^>]*>", response.text) == ['<script src="/static/page.js">']
    assert "<style" not in response.text and " on" + "click=" not in response.text


def test_cors_is_closed_by_default(client):
    response = client.options(
        "/models",
        headers={
            "Origin": "https://elsewhere.example",
            "Access-Control-Request-Method": "GET",
        },
    )
    assert "access-control-allow-origin" not in response.headers
    answer = client.get("/models", headers={"Origin": "https://elsewhere.example"})
    assert answer.status_code == 200 and "access-control-allow-origin" not in answer.headers


@pytest.mark.e2e
def test_result_url_comes_from_public_url_not_the_clients_host(make_client, face_video, short_audio):
    receiver = Receiver()
    try:
        client = make_client(webhook_secret="s", webhook_allow_private=True, public_url="https://lipsync.example.com/")
        client.headers["Host"] = "attacker.example"
        task_id = upload(client, face_video, short_audio, webhook_url=receiver.url).json()["task_id"]
        receiver.wait_for(1)
        assert receiver.events()[0]["result_url"] == f"https://lipsync.example.com/result/{task_id}"
        wait_for_end(client, task_id)
    finally:
        receiver.close()


def test_a_public_url_without_trailing_slash_still_joins_cleanly(make_client):
    settings = make_client(public_url="https://lipsync.example.com/api").app.state.settings
    assert settings.public_url == "https://lipsync.example.com/api/"


def test_a_422_echoes_only_a_short_prefix_of_a_bad_value(client):
    response = client.post("/process/", headers={"Idempotency-Key": "k" * 20_000})
    assert response.status_code == 422
    assert len(response.content) < 1000
    echoed = [error["input"] for error in response.json()["detail"] if error["loc"] == ["header", "idempotency-key"]]
    assert echoed == ["k" * 64 + "…"]


def test_client_text_is_escaped_in_log_lines(client, caplog):
    # A field name with NUL, ESC and VT, sent twice (400 naming it); a path with CR LF (404).
    forged = (b'Content-Disposition: form-data; name="x\0\x1b[31m\x0bevent=forged"', b"1")
    with caplog.at_level(logging.INFO):
        post_raw(client, multipart(forged, forged), f"multipart/form-data; boundary={BOUNDARY}")
        client.get("/status/%0d%0aevent=forged")
    refusals = [record.getMessage() for record in caplog.records if "event=request.refused" in record.getMessage()]
    assert [line.split("status=")[1][:3] for line in refusals] == ["400", "404"]
    assert not any(CONTROL.search(line) for line in refusals), refusals
    assert r"x\x00\x1b[31m\x0bevent=forged" in refusals[0]
    assert r"\r\nevent=forged" in refusals[1]


@pytest.mark.parametrize("face_point", ["١٢,٣٤", "12,３4", "1²,2", "12,\u0e53"])
def test_face_point_takes_ascii_digits_only(client, face_video, short_audio, face_point):
    response = upload(client, face_video, short_audio, face_point=face_point)
    assert response.status_code == 422
    assert [error["loc"] for error in response.json()["detail"]] == [["body", "face_point"]]


@pytest.mark.e2e
@pytest.mark.parametrize("reuse_with", ["same uploads", "other uploads"])
def test_an_idempotency_key_is_free_again_once_its_task_is_cancelled(
    make_client, face_video, speech_audio, short_audio, reuse_with
):
    client = make_client(max_concurrent_jobs=1)
    running = upload(client, face_video, speech_audio).json()["task_id"]
    headers = {"Idempotency-Key": "order-7"}
    first = upload_with_headers(client, face_video, short_audio, headers).json()["task_id"]
    assert client.delete(f"/tasks/{first}").status_code == 204
    assert client.get(f"/status/{first}").json()["status"] == "cancelled"
    again = upload_with_headers(
        client, face_video, short_audio if reuse_with == "same uploads" else speech_audio, headers
    )
    assert again.status_code == 202 and again.json()["task_id"] != first
    for task_id in (running, again.json()["task_id"]):
        client.delete(f"/tasks/{task_id}")


@pytest.mark.e2e
def test_an_idempotency_key_is_free_again_once_its_finished_task_is_deleted(client, face_video, short_audio):
    headers = {"Idempotency-Key": "order-8"}
    first = upload_with_headers(client, face_video, short_audio, headers).json()["task_id"]
    assert wait_for_end(client, first)["status"] == "finished"
    assert client.delete(f"/tasks/{first}").status_code == 204
    again = upload_with_headers(client, face_video, short_audio, headers)
    assert again.status_code == 202 and again.json()["task_id"] != first
