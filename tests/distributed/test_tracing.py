"""Traces in distributed mode: the trace context of the API's request crosses Celery (in the
message's headers) to the worker, whose job and stage spans join the request's trace. Real Redis,
S3, Celery worker and uvicorn; both export OTLP JSON to a receiver on 127.0.0.1."""

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.distributed.conftest import submit, wait_for, wait_for_worker
from tests.distributed.servers import S3_KEYS, CeleryWorker, RedisServer, S3Server, serving
from tests.live_server import LiveServer
from tests.otlp_receiver import OtlpReceiver

pytestmark = pytest.mark.distributed

_STAGES = {"lipsync.starting", "lipsync.probing", "lipsync.rendering", "lipsync.encoding"}


@dataclass
class TracedCluster:
    api: LiveServer
    receiver: OtlpReceiver


@pytest.fixture(scope="module")
def traced_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TracedCluster]:
    """One API and one worker (apart from the shared `cluster`, whose processes trace nothing),
    exporting their spans every 0.1 s."""
    root = tmp_path_factory.mktemp("traced")
    receiver = OtlpReceiver()
    with (
        serving(RedisServer(root / "redis", root / "redis.log")) as redis_server,
        serving(S3Server(root / "s3", root / "s3.log")) as s3,
    ):
        env = {
            "EXECUTION": "celery",
            "STORAGE": "s3",
            "REDIS_URL": redis_server.url,
            "S3_ENDPOINT_URL": s3.url,
            "S3_BUCKET": "modellab-traced",
            **S3_KEYS,
            "DEVICE": "cpu",
            "MIN_FREE_DISK_MB": "1",
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
            "OTEL_BSP_SCHEDULE_DELAY": "100",
        }
        worker = CeleryWorker("traced", {**env, "UPLOAD_DIR": str(root / "worker")}, root / "worker.log")
        api = LiveServer({**env, "UPLOAD_DIR": str(root / "api")}, root / "api.log")
        try:
            worker.start()
            api.start()
            wait_for_worker(worker)
            yield TracedCluster(api, receiver)
        finally:
            api.stop()
            worker.stop()
            receiver.close()


def test_the_workers_spans_join_the_trace_of_the_request_that_queued_the_job(
    traced_cluster: TracedCluster, face_video: Path, short_audio: Path
):
    answer = submit(traced_cluster.api, face_video, short_audio)
    assert answer.status_code == 202, answer.text
    task_id = answer.json()["task_id"]
    assert wait_for(traced_cluster.api, task_id, {"finished", "failed"})["status"] == "finished"

    def of_task(spans: list[dict]) -> list[dict]:
        return [span for span in spans if span["attributes"].get("task_id") == task_id]

    spans = of_task(
        traced_cluster.receiver.wait_for(
            lambda spans: {"POST /process/", "lipsync.job", *_STAGES} <= {span["name"] for span in of_task(spans)}
        )
    )
    (request,) = [span for span in spans if span["name"] == "POST /process/"]
    (job,) = [span for span in spans if span["name"] == "lipsync.job"]
    assert request["service"] == "modellab-api" and job["service"] == "modellab-worker"
    # One trace: the job's span is the request's child, across Redis and another process.
    assert job["traceId"] == request["traceId"] and job["parentSpanId"] == request["spanId"]
    assert job["attributes"]["status"] == "finished"
    stages = [span for span in spans if span["name"] in _STAGES]
    assert len(stages) == len(_STAGES)
    assert all(span["traceId"] == job["traceId"] and span["parentSpanId"] == job["spanId"] for span in stages)
