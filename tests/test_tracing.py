"""Traces: with OTEL_EXPORTER_OTLP_ENDPOINT set, one trace per upload covers the request, the job
and each stage, the task id on every span; unset, the SDK is never imported and requests work."""

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from app import tracing
from tests.conftest import upload, wait_for_end
from tests.otlp_receiver import OtlpReceiver

_ROOT = Path(__file__).resolve().parents[1]
# Never reached: the tests' in-memory provider is installed first, so the app exports nothing.
_UNUSED_ENDPOINT = "http://127.0.0.1:9"
_STAGES = ["lipsync.starting", "lipsync.probing", "lipsync.rendering", "lipsync.encoding"]
# In a fresh interpreter: an app built from the environment's settings answers, then the
# OpenTelemetry modules loaded are printed (the API is FastAPI's own; the SDK and exporter are ours).
_SERVE_AND_LIST_MODULES = """
import json, sys
from fastapi.testclient import TestClient
from app.config import Settings
from app.main import create_app
with TestClient(create_app(Settings(upload_dir=sys.argv[1]))) as client:
    assert client.get("/health").status_code == 200
    assert client.get("/status/0b6f1c1e-4f57-4d4e-9a57-2f1e8f0c0c11").status_code == 404
print(json.dumps(sorted(name for name in sys.modules if name.startswith("opentelemetry."))))
"""


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """This process's spans, kept in memory for the test (tracing off again after it)."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.install(provider)
    yield exporter
    tracing.install(None)


def finished_spans(exporter: InMemorySpanExporter, name: str, count: int = 1, timeout_s: float = 30) -> list:
    """The ended spans called `name`, once there are `count` (a job's span ends just after its
    status turns final)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = [span for span in exporter.get_finished_spans() if span.name == name]
        if len(found) >= count:
            return found
        time.sleep(0.05)
    raise AssertionError(f"no {name} span within {timeout_s} s: {[s.name for s in exporter.get_finished_spans()]}")


def child_of(span: ReadableSpan, parent: ReadableSpan) -> bool:
    return span.parent is not None and span.parent.span_id == parent.context.span_id


@pytest.mark.e2e
def test_an_upload_is_one_trace_of_request_job_and_stages(make_client, spans, face_video, short_audio):
    client = make_client(otel_exporter_otlp_endpoint=_UNUSED_ENDPOINT)
    response = upload(client, face_video, short_audio)
    assert response.status_code == 202
    task_id = response.json()["task_id"]
    assert wait_for_end(client, task_id)["status"] == "finished"

    (request,) = finished_spans(spans, "POST /process/")
    (job,) = finished_spans(spans, "lipsync.job")
    assert request.kind is SpanKind.SERVER
    assert request.attributes["http.route"] == "/process/"
    assert request.attributes["http.request.method"] == "POST"
    assert request.attributes["http.response.status_code"] == 202
    assert request.attributes["task_id"] == task_id
    # The job ran in a worker thread, in the request's trace.
    assert child_of(job, request) and job.context.trace_id == request.context.trace_id
    assert job.attributes["task_id"] == task_id
    assert (job.attributes["model"], job.attributes["engine"]) == ("model1", "viseme")
    assert job.attributes["status"] == "finished" and job.status.status_code is not StatusCode.ERROR

    stages = sorted(
        (span for span in spans.get_finished_spans() if span.name in _STAGES), key=lambda span: span.start_time
    )
    assert [span.name for span in stages] == _STAGES
    for stage in stages:
        assert child_of(stage, job)
        assert stage.attributes["task_id"] == task_id and stage.attributes["engine"] == "viseme"
    # Each stage ends as the next begins.
    assert all(before.end_time <= after.start_time for before, after in zip(stages, stages[1:], strict=False))
    (quality,) = finished_spans(spans, "lipsync.quality")
    assert child_of(quality, job)

    polls = [span for span in spans.get_finished_spans() if span.name == "GET /status/{task_id}"]
    assert polls and all(span.attributes["task_id"] == task_id for span in polls)


@pytest.mark.e2e
def test_a_failed_job_marks_its_span_and_the_stage_it_failed_in(make_client, spans, no_face_video, short_audio):
    client = make_client(otel_exporter_otlp_endpoint=_UNUSED_ENDPOINT)
    task_id = upload(client, no_face_video, short_audio).json()["task_id"]
    status = wait_for_end(client, task_id)
    assert status["status"] == "failed"

    (job,) = finished_spans(spans, "lipsync.job")
    assert job.status.status_code is StatusCode.ERROR and job.status.description == status["error"]
    assert job.attributes["status"] == "failed" and job.attributes["error_code"] == status["error_code"]
    (probing,) = finished_spans(spans, "lipsync.probing")
    assert probing.status.status_code is StatusCode.ERROR
    assert not [span for span in spans.get_finished_spans() if span.name == "lipsync.rendering"]


def test_a_request_continues_the_callers_trace(make_client, spans):
    client = make_client(otel_exporter_otlp_endpoint=_UNUSED_ENDPOINT)
    trace_id, caller_span = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    task_id = "0b6f1c1e-4f57-4d4e-9a57-2f1e8f0c0c11"
    response = client.get(f"/status/{task_id}", headers={"traceparent": f"00-{trace_id}-{caller_span}-01"})
    assert response.status_code == 404

    (span,) = finished_spans(spans, "GET /status/{task_id}")
    assert format(span.context.trace_id, "032x") == trace_id
    assert span.parent is not None and format(span.parent.span_id, "016x") == caller_span
    assert span.attributes["task_id"] == task_id
    assert span.attributes["http.response.status_code"] == 404
    # A client's error is no failure of the server's.
    assert span.status.status_code is not StatusCode.ERROR


def test_a_path_no_route_matches_is_named_by_no_client_text(make_client, spans):
    client = make_client(otel_exporter_otlp_endpoint=_UNUSED_ENDPOINT)
    assert client.get("/no/such/path").status_code == 404
    (span,) = finished_spans(spans, "GET unmatched")
    assert span.attributes["http.route"] == "unmatched"


def serve_in_a_fresh_process(tmp_path: Path, **env: str) -> list[str]:
    """The OpenTelemetry modules a fresh API process loaded while answering two requests."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith("OTEL_")}
    served = subprocess.run(
        [sys.executable, "-c", _SERVE_AND_LIST_MODULES, str(tmp_path / "uploads")],
        cwd=tmp_path,
        env={**environment, "PYTHONPATH": str(_ROOT), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert served.returncode == 0, served.stderr
    return json.loads(served.stdout.strip().splitlines()[-1])


def test_with_tracing_off_the_sdk_is_never_imported(tmp_path):
    loaded = serve_in_a_fresh_process(tmp_path)
    assert not [name for name in loaded if name.startswith(("opentelemetry.sdk", "opentelemetry.exporter"))]


def test_with_an_endpoint_spans_are_exported_as_otlp_json(tmp_path):
    receiver = OtlpReceiver()
    try:
        # Exported at exit: the batch is flushed when the process ends.
        loaded = serve_in_a_fresh_process(tmp_path, OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint + "/")
        assert "opentelemetry.sdk.trace" in loaded
        received = receiver.wait_for(lambda spans: len(spans) >= 2, timeout_s=10)
    finally:
        receiver.close()
    assert set(receiver.paths) == {"/v1/traces"}
    assert {span["name"] for span in received} == {"GET /health", "GET /status/{task_id}"}
    assert {span["service"] for span in received} == {"modellab-api"}
