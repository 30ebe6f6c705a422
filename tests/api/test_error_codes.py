"""Every error code a client can meet, each reached by a real request where one reaches it (P15):
the body carries `error_code` beside `detail`, a failed task carries it in GET /status, GET
/result and its webhook, and the list is the same in the code, the OpenAPI schema and docs/api.md."""

import json
import re
import socket
from dataclasses import replace
from pathlib import Path

import anyio
import httpx
import skimage.data
from imageio import v3 as iio

from app.config import Settings
from app.errors import ErrorCode
from app.metrics import REGISTRY
from app.schemas.processing import TaskStatusResponse
from app.services.execution.engine_catalog import EngineCatalog
from app.services.execution.executor import TaskExecutor
from app.services.storage.local import LocalTaskStorage
from app.services.tasks.memory_registry import InMemoryTaskRegistry
from app.services.tasks.model import TaskState
from app.services.tasks.records import from_record, to_record
from app.services.uploads.validation import ACCEPTED_FORMATS
from app.services.webhooks.sender import WebhookSender
from tests.conftest import upload, wait_for_end
from tests.services.test_registry import _task

DOCS = Path(__file__).parents[2] / "docs" / "api.md"


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_every_code_is_in_the_docs_table_and_the_openapi_enum(client):
    errors_section = DOCS.read_text().split("\n## Errors\n", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", errors_section, re.MULTILINE))
    assert documented == {code.value for code in ErrorCode}
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    assert set(schemas["ErrorCode"]["enum"]) == {code.value for code in ErrorCode}
    assert schemas["ErrorResponse"]["properties"]["error_code"] == {
        "$ref": "#/components/schemas/ErrorCode",
        "description": "Stable: branch on this, never on `detail`",
    }


def test_accepted_formats_read_the_same_in_refusals_docs_and_openapi(client, tmp_path, speech_audio):
    text = tmp_path / "notes.mp4"
    text.write_text("not a video")
    detail = upload(client, text, speech_audio).json()["detail"]
    form = client.get("/openapi.json").json()["paths"]["/process/"]["post"]["requestBody"]
    fields = form["content"]["multipart/form-data"]["schema"]["properties"]
    for field, formats in ACCEPTED_FORMATS.items():
        assert formats in DOCS.read_text() and formats in fields[field]["description"]
    assert detail == f"video_file: not a readable media file; send a video file ({ACCEPTED_FORMATS['video_file']})"


def test_an_image_sent_as_the_video_is_invalid_media_saying_so(client, tmp_path, speech_audio):
    photo = tmp_path / "face.png"
    iio.imwrite(photo, skimage.data.astronaut())
    response = upload(client, photo, speech_audio, video_type="image/png")
    assert response.status_code == 400
    assert response.json() == {
        "detail": f"video_file: content type 'image/png' is not accepted; send a video file "
        f"({ACCEPTED_FORMATS['video_file']}) labelled with its type or as application/octet-stream",
        "error_code": "invalid_media",
    }
    # Unlabelled, the bytes tell.
    response = upload(client, photo, speech_audio, video_type="application/octet-stream")
    assert response.json() == {
        "detail": "video_file: this is an image (png), not a video; "
        f"send a video file ({ACCEPTED_FORMATS['video_file']})",
        "error_code": "invalid_media",
    }


def test_media_over_the_length_limit_is_media_too_long(make_client, face_video, speech_audio):
    client = make_client(max_video_seconds=1)
    response = upload(client, face_video, speech_audio)
    assert response.status_code == 400
    assert response.json()["error_code"] == "media_too_long"
    assert "send a shorter video" in response.json()["detail"]


def test_a_bad_form_field_is_invalid_request(client, face_video, speech_audio):
    response = upload(client, face_video, speech_audio, face_point="9000,10")
    assert response.status_code == 400
    assert response.json()["error_code"] == "invalid_request"
    assert "give x,y pixels inside the frame" in response.json()["detail"]


def test_422_keeps_fastapis_list_and_adds_one_sentence(client, face_video, speech_audio):
    with face_video.open("rb") as video:
        response = client.post("/process/", files={"video_file": ("v.mp4", video, "video/mp4")}, data={})
    assert response.status_code == 422
    body = response.json()
    assert body["error_code"] == "invalid_request"
    assert [item["loc"] for item in body["detail"]] == [["body", "audio_file"], ["body", "model_choice"]]
    assert body["message"] == (
        "Fix these fields and send the request again: audio_file (field required), model_choice (field required)."
    )


def test_unknown_task_and_route_are_404_with_their_codes(client):
    assert client.get("/status/not-a-uuid").json() == {
        "detail": "no task with id 'not-a-uuid'",
        "error_code": "unknown_task",
    }
    response = client.get("/no/such/route")
    assert response.status_code == 404 and response.json()["error_code"] == "not_found"
    assert client.put("/models").json()["error_code"] == "invalid_request"  # 405


def test_reused_idempotency_key_is_409_idempotency_conflict(client, face_video, speech_audio, short_audio):
    with face_video.open("rb") as video, speech_audio.open("rb") as audio:
        first = client.post(
            "/process/",
            files={"video_file": ("v.mp4", video, "video/mp4"), "audio_file": ("a.wav", audio, "audio/wav")},
            data={"model_choice": "model1"},
            headers={"Idempotency-Key": "order-1"},
        )
    assert first.status_code == 202
    with face_video.open("rb") as video, short_audio.open("rb") as audio:
        second = client.post(
            "/process/",
            files={"video_file": ("v.mp4", video, "video/mp4"), "audio_file": ("a.wav", audio, "audio/wav")},
            data={"model_choice": "model1"},
            headers={"Idempotency-Key": "order-1"},
        )
    assert second.status_code == 409 and second.json()["error_code"] == "idempotency_conflict"


def test_an_upload_over_the_size_limit_is_413_upload_too_large(make_client, face_video, speech_audio, tmp_path):
    client = make_client(max_upload_mb=1)
    big = tmp_path / "big.mp4"
    big.write_bytes(face_video.read_bytes() + bytes(1024 * 1024))
    response = upload(client, big, speech_audio)
    assert response.status_code == 413 and response.json()["error_code"] == "upload_too_large"


def test_a_missing_api_key_is_401_unauthorized(make_client):
    response = make_client(api_key="secret-key").get("/models")
    assert response.status_code == 401 and response.json()["error_code"] == "unauthorized"


def test_a_full_queue_is_503_queue_full(make_client, face_video, speech_audio):
    client = make_client(max_concurrent_jobs=1, max_queued=0)
    assert upload(client, face_video, speech_audio).status_code == 202
    response = upload(client, face_video, speech_audio)
    assert response.status_code == 503 and response.json()["error_code"] == "queue_full"


def test_a_model_without_weights_is_503_model_unavailable(client, face_video, speech_audio):
    response = upload(client, face_video, speech_audio, model_choice="model2")
    assert response.status_code == 503 and response.json()["error_code"] == "model_unavailable"


def test_unreachable_stores_are_503_storage_unavailable(make_client, face_video, speech_audio):
    client = make_client(
        execution="celery",
        redis_url=f"redis://127.0.0.1:{_closed_port()}/0",
        storage="s3",
        s3_endpoint_url=f"http://127.0.0.1:{_closed_port()}",
        s3_access_key_id="key",
        s3_secret_access_key="secret",
    )
    response = upload(client, face_video, speech_audio)
    assert response.status_code == 503 and response.json()["error_code"] == "storage_unavailable"


def test_an_unsatisfiable_range_is_416_range_not_satisfiable(client, face_video, short_audio):
    task_id = upload(client, face_video, short_audio).json()["task_id"]
    assert wait_for_end(client, task_id)["status"] == "finished"
    response = client.get(f"/result/{task_id}", headers={"Range": "bytes=999999999-"})
    assert response.status_code == 416 and response.json()["error_code"] == "range_not_satisfiable"


def test_a_faceless_video_fails_no_face_saying_the_smallest_face_and_face_point(client, no_face_video, short_audio):
    task_id = upload(client, no_face_video, short_audio).json()["task_id"]
    status = wait_for_end(client, task_id)
    assert status["status"] == "failed" and status["error_code"] == "no_face"
    assert "faces are found from about 10 px wide in this 320x240 video" in status["error"]
    assert "face_point" in status["error"]
    assert client.get(f"/result/{task_id}").json() == {
        "status": "failed",
        "error": status["error"],
        "error_code": "no_face",
    }


def test_a_run_past_the_job_time_limit_fails_job_timeout(make_client, face_video, short_audio):
    client = make_client(job_time_limit_s=0.001)
    task_id = upload(client, face_video, short_audio).json()["task_id"]
    status = wait_for_end(client, task_id)
    assert status["status"] == "failed" and status["error_code"] == "job_timeout"
    assert "JOB_TIME_LIMIT_S" in status["error"]


def test_a_task_out_of_attempts_fails_worker_lost(tmp_path):
    settings = Settings(_env_file=None, upload_dir=tmp_path, max_attempts=2)
    registry = InMemoryTaskRegistry()
    executor = TaskExecutor(
        settings,
        registry,
        LocalTaskStorage(tmp_path),
        EngineCatalog.from_settings(settings),
        WebhookSender(None, False, 1.0),
    )
    # Requeued after its worker died on each of its runs.
    registry.admit(replace(_task("lost"), attempt=2), 10, frozenset({TaskState.QUEUED}))
    failures = {"source": "task", "error_code": "worker_lost"}
    before = REGISTRY.get_sample_value("modellab_failures_total", failures) or 0.0
    executor.run("lost")
    task = registry.get("lost")
    assert task.status is TaskState.FAILED and task.error_code == "worker_lost"
    assert REGISTRY.get_sample_value("modellab_failures_total", failures) == before + 1  # as /metrics shows
    assert TaskStatusResponse.from_task(task).error_code is ErrorCode.WORKER_LOST


def test_a_failed_tasks_code_survives_its_record():
    task = replace(_task("failed", TaskState.FAILED), error="no face", error_code="no_face")
    assert from_record(json.loads(json.dumps(to_record(task)))) == task
    # Records written before tasks had codes still load; their failures read as internal.
    old = to_record(_task("old", TaskState.FAILED))
    del old["error_code"]
    assert TaskStatusResponse.from_task(from_record(old)).error_code is ErrorCode.INTERNAL


def test_a_failed_tasks_code_survives_redis(tmp_path):
    from app.services.tasks.redis_registry import RedisTaskRegistry
    from tests.distributed.servers import RedisServer

    server = RedisServer(tmp_path / "redis", tmp_path / "redis.log").start()
    try:
        registry = RedisTaskRegistry(server.url)
        registry.admit(_task("one"), 10, frozenset({TaskState.QUEUED}))
        assert registry.transition("one", frozenset({TaskState.QUEUED}), status=TaskState.FAILED, error_code="no_face")
        assert registry.get("one").error_code == "no_face"
    finally:
        server.stop()


def test_a_connection_past_the_cap_is_503_server_busy():
    from app.server import _too_many_connections

    async def request() -> httpx.Response:
        transport = httpx.ASGITransport(app=_too_many_connections)
        async with httpx.AsyncClient(transport=transport, base_url="http://modellab") as client:
            return await client.get("/health")

    response = anyio.run(request)
    assert response.status_code == 503 and response.json()["error_code"] == "server_busy"
