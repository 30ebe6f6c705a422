import io
import logging
import time

import pytest

from app import logs
from tests.conftest import wait_for_end
from tests.log_capture import root_lines


def test_log_event_formats_key_values():
    stream = io.StringIO()
    logger = logging.getLogger("tests.logs.format")
    handler = logging.StreamHandler(stream)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        logs.log_event(logger, "thing.happened", seconds=1.23456, note="two words", count=3)
    finally:
        logger.removeHandler(handler)
    assert stream.getvalue().strip() == 'event=thing.happened seconds=1.235 note="two words" count=3'


@pytest.fixture
def captured_lines():
    """Root-logger lines in the service's own format, task ids included."""
    logs.configure_logging()
    with root_lines(logging.Formatter(logs.LOG_FORMAT)) as stream:
        yield stream


@pytest.mark.e2e
def test_task_events_carry_the_task_id_and_no_paths_or_secrets(make_client, captured_lines, face_video, short_audio):
    key = "very-secret-key"
    client = make_client(api_key=key)
    with face_video.open("rb") as video, short_audio.open("rb") as audio:
        task_id = client.post(
            "/process/",
            headers={"X-API-Key": key},
            data={"model_choice": "model1"},
            files={"video_file": ("v.mp4", video, "video/mp4"), "audio_file": ("a.wav", audio, "audio/wav")},
        ).json()["task_id"]
    client.headers["X-API-Key"] = key
    assert wait_for_end(client, task_id)["status"] == "finished"
    # The worker logs `task.finished` just after the status turns finished: give it a moment.
    deadline = time.monotonic() + 10
    while "event=task.finished" not in captured_lines.getvalue() and time.monotonic() < deadline:
        time.sleep(0.05)
    text = captured_lines.getvalue()
    lines = text.splitlines()
    assert any("event=task.accepted" in line and f"task_id={task_id}" in line for line in lines)
    worker_lines = [line for line in lines if f"task_id={task_id} event=" in line]
    events = {line.split("event=")[1].split()[0] for line in worker_lines}
    assert {"task.stage", "pipeline.planned", "pipeline.rendered", "task.finished"} <= events
    assert all("duration_s=" in line for line in worker_lines if "event=task.finished" in line)
    assert str(client.app.state.settings.upload_dir) not in text
    assert key not in text
