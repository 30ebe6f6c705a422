"""LOG_FORMAT=json: one JSON object per line, the same fields as the text lines, client text safe."""

import io
import json
import logging

import pytest

from app import logs
from tests.log_capture import root_lines


@pytest.fixture
def json_lines():
    """Root-logger lines through the JSON formatter, as LOG_FORMAT=json installs it."""
    logs.configure_logging("json")
    with root_lines(logs.line_formatter("json")) as stream:
        yield stream


def parsed(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_log_event_fields_are_json_keys(json_lines):
    logger = logging.getLogger("tests.json_logs")
    logs.log_event(logger, "thing.happened", task_id="t-1", seconds=1.23456, note="two words", count=3, gone=None)
    (line,) = parsed(json_lines)
    assert line["event"] == "thing.happened"
    assert line["task_id"] == "t-1"
    assert line["level"] == "INFO"
    assert line["logger"] == "tests.json_logs"
    assert (line["seconds"], line["note"], line["count"], line["gone"]) == (1.235, "two words", 3, None)
    assert line["time"].endswith("+00:00")


def test_plain_messages_and_exceptions(json_lines):
    logger = logging.getLogger("tests.json_logs")
    try:
        raise ValueError("boom")
    except ValueError:
        logger.exception("it broke")
    (line,) = parsed(json_lines)
    assert line["message"] == "it broke"
    assert "ValueError: boom" in line["exc_info"]
    assert line["task_id"] == "-"


def test_a_field_never_replaces_the_line_s_own_keys(json_lines):
    logs.log_event(logging.getLogger("tests.json_logs"), "clash", message="mine", time="mine")
    (line,) = parsed(json_lines)
    assert line["time"] != "mine"
    assert (line["message"], line["field_time"]) == ("mine", "mine")


def test_client_text_cannot_forge_a_line_through_a_real_request(make_client, json_lines):
    client = make_client(log_format="json")
    # The path (logged with the refusal) decodes to a newline, a forged line and U+2028.
    response = client.get("/status/x%0A%7B%22event%22%3A%22forged%22%7D%E2%80%A8")
    assert response.status_code == 404
    lines = parsed(json_lines)  # every line parses: none was broken or added
    assert not any(line.get("event") == "forged" for line in lines)
    (refusal,) = [line for line in lines if line.get("event") == "request.refused"]
    assert (refusal["status"], refusal["method"]) == (404, "GET")
    assert '{"event":"forged"}' in refusal["reason"]  # the client's text stays inside its field
    assert "\u2028" not in json_lines.getvalue()  # written as an escape, as every non-ASCII character
