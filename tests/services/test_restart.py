"""Durability: a real uvicorn killed with SIGKILL mid-job and started again loses no task."""

import json
import uuid

import httpx
import pytest

from tests.conftest import wait_until
from tests.live_server import LiveServer
from tests.media_tools import ffprobe, stream

pytestmark = pytest.mark.e2e


def submit(server: LiveServer, video, audio) -> str:
    with video.open("rb") as v, audio.open("rb") as a:
        response = httpx.post(
            f"{server.url}/process/",
            files={"video_file": ("v.mp4", v, "video/mp4"), "audio_file": ("a.wav", a, "audio/wav")},
            data={"model_choice": "model1"},
            timeout=60,
        )
    assert response.status_code == 202, response.text
    return response.json()["task_id"]


def status(server: LiveServer, task_id: str) -> dict:
    return httpx.get(f"{server.url}/status/{task_id}", timeout=10).json()


def test_sigkill_mid_job_then_restart_finishes_everything(tmp_path, face_video, speech_audio, short_audio):
    uploads = tmp_path / "uploads"
    env = {"UPLOAD_DIR": str(uploads), "MAX_CONCURRENT_JOBS": "1"}
    server = LiveServer(env, tmp_path / "server.log").start()
    try:
        done = submit(server, face_video, short_audio)
        wait_until(lambda: status(server, done)["status"] == "finished", 120, "the first task's end")
        running = submit(server, face_video, speech_audio)
        queued = submit(server, face_video, speech_audio)
        wait_until(lambda: status(server, running)["progress"] > 0, 120, "the second task's progress")
        assert status(server, queued)["status"] == "queued"
        server.kill()
    finally:
        server.kill()

    # What a crash leaves: records say processing/queued; a partial result may exist.
    record = json.loads((uploads / running / "task.json").read_text())
    assert record["status"] == "processing"
    broken = uploads / str(uuid.uuid4())
    broken.mkdir()
    (broken / "task.json").write_text("{not json")

    server = LiveServer(env, tmp_path / "server.log", port=server.port).start()
    try:
        assert httpx.get(f"{server.url}/result/{done}").headers["content-type"] == "video/mp4"
        for task_id in (running, queued):
            wait_until(lambda task_id=task_id: status(server, task_id)["status"] == "finished", 120, "every task's end")
            result = tmp_path / f"{task_id}.mp4"
            result.write_bytes(httpx.get(f"{server.url}/result/{task_id}", timeout=30).content)
            assert stream(ffprobe(result), "video")["codec_name"] == "h264"
        assert httpx.get(f"{server.url}/status/{broken.name}").status_code == 404
        assert httpx.get(f"{server.url}/health").json()["status"] == "ok"
        assert not list((uploads / "results").glob("*.part"))
        assert "event=record.broken" in (tmp_path / "server.log").read_text()
    finally:
        server.stop()
