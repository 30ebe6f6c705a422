"""Distributed faults on the real cluster: Redis outages under live jobs, killed workers' scratch,
cancelled queued jobs' messages. Each scenario leaves the cluster whole (Redis back, workers up)."""

import os
import signal
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from celery import Celery

from app.services.execution.celery_queue import RENDER_TASK
from tests.conftest import wait_until
from tests.distributed.conftest import HEARTBEAT_TIMEOUT_S, Cluster, submit, wait_for
from tests.distributed.servers import CeleryWorker

pytestmark = pytest.mark.distributed


@contextmanager
def _redis_down(cluster: Cluster, seconds: float) -> Iterator[None]:
    """Redis killed (no chance to save) for `seconds`, then started again on its port and data."""
    cluster.redis.kill()
    try:
        yield
        time.sleep(seconds)  # the outage's length is the scenario, not a wait for something
    finally:
        cluster.redis.start()


def _freeze_redis(cluster: Cluster, seconds: float) -> None:
    """Redis alive but silent (SIGSTOP) for `seconds`: calls hang until it answers again, and
    then every caller's waiting call is answered at once, as after a network partition heals."""
    os.kill(cluster.redis.process.pid, signal.SIGSTOP)
    try:
        time.sleep(seconds)  # the outage's length is the scenario, not a wait for something
    finally:
        os.kill(cluster.redis.process.pid, signal.SIGCONT)


def _live_job(cluster: Cluster, video: Path, audio: Path) -> tuple[str, CeleryWorker]:
    """A job submitted to the first API, rendering, and the worker that runs it."""
    task_id = submit(cluster.apis[0], video, audio).json()["task_id"]
    wait_for(cluster.apis[0], task_id, {"processing"}, min_progress=0.05)
    return task_id, cluster.worker_running(task_id)


def _api_logs(cluster: Cluster) -> list[Path]:
    return sorted(cluster.logs.glob("api*.log"))


def test_g_a_cancelled_queued_task_is_revoked_and_its_message_discarded(
    cluster: Cluster, cluster_video: Path, cluster_audio: Path
):
    app = Celery(broker=cluster.redis.url)
    # A connection of its own: kombu's shared pool may hold one from before an earlier Redis restart.
    with app.connection_for_write() as connection:
        nodes = cluster.render_nodes()
        app.control.cancel_consumer("lipsync", destination=nodes, reply=True, timeout=10, connection=connection)
        try:
            task_id = submit(cluster.apis[0], cluster_video, cluster_audio).json()["task_id"]
            assert httpx.get(f"{cluster.apis[0].url}/status/{task_id}", timeout=10).json()["status"] == "queued"
            assert httpx.delete(f"{cluster.apis[1].url}/tasks/{task_id}", timeout=30).status_code == 204
            revoked = app.control.inspect(timeout=5, connection=connection).revoked() or {}
            knowing = {name.split("@")[0] for name, ids in revoked.items() if task_id in ids}
            assert knowing >= {worker.name for worker in cluster.workers}, revoked
        finally:
            app.control.add_consumer("lipsync", destination=nodes, reply=True, timeout=10, connection=connection)
    discarded = f"Discarding revoked task: {RENDER_TASK}[{task_id}]"
    wait_until(lambda: any(discarded in worker.log_text() for worker in cluster.workers), 30, "the discard")
    assert not any(f"task_id={task_id}" in worker.log_text() for worker in cluster.workers)


def test_g_a_redis_outage_longer_than_the_heartbeat_timeout_leaves_a_live_job_to_its_worker(
    cluster: Cluster, cluster_video: Path, cluster_audio: Path
):
    task_id, worker = _live_job(cluster, cluster_video, cluster_audio)
    _freeze_redis(cluster, HEARTBEAT_TIMEOUT_S * 2.5)
    status = wait_for(cluster.apis[1], task_id, {"finished", "failed", "cancelled"}, timeout_s=240)
    assert status["status"] == "finished", status
    assert status["attempt"] == 1
    api_logs = "".join(path.read_text(errors="replace") for path in _api_logs(cluster))
    assert f"task_id={task_id} event=task.requeued" not in api_logs
    assert f"task_id={task_id} event=task.cancelled" not in worker.log_text()
    assert f"task_id={task_id} event=task.finished" in worker.log_text()


def test_g_during_a_redis_outage_the_apis_log_one_line_per_event_without_paths(cluster: Cluster):
    logs = _api_logs(cluster)
    offsets = {path: path.stat().st_size for path in logs}
    with _redis_down(cluster, HEARTBEAT_TIMEOUT_S * 2):
        for api in cluster.apis:  # a request and the background chores all meet the outage
            assert httpx.get(f"{api.url}/status/{uuid.uuid4()}", timeout=60).status_code == 503
    written = [
        line for path in logs for line in path.read_bytes()[offsets[path] :].decode(errors="replace").splitlines()
    ]
    assert any("event=redis.unreachable" in line for line in written)
    for line in written:  # ours and uvicorn's access lines alike: no traceback, no source path
        assert not line.startswith((" ", "\t", "Traceback")) and 'File "' not in line and ".py" not in line, line


def test_g_while_redis_is_down_an_api_is_live_but_not_ready(cluster: Cluster):
    api = cluster.apis[0]
    assert httpx.get(f"{api.url}/health/ready", timeout=30).status_code == 200
    with _redis_down(cluster, 0):
        assert httpx.get(f"{api.url}/health/live", timeout=30).json() == {"status": "ok"}
        not_ready = httpx.get(f"{api.url}/health/ready", timeout=60)
        assert not_ready.status_code == 503 and "Redis" in not_ready.json()["detail"]
    assert httpx.get(f"{api.url}/health/ready", timeout=30).status_code == 200


def test_g_a_worker_killed_mid_job_leaves_no_scratch_once_restarted(
    cluster: Cluster, cluster_video: Path, cluster_audio: Path
):
    task_id, victim = _live_job(cluster, cluster_video, cluster_audio)
    scratch = Path(victim.env["UPLOAD_DIR"]) / task_id
    assert scratch.is_dir()
    victim.kill()  # kill -9: nothing of it cleans up
    assert wait_for(cluster.apis[0], task_id, {"finished", "failed"}, timeout_s=240)["status"] == "finished"
    assert scratch.is_dir()
    victim.start()
    wait_until(lambda: not scratch.exists(), 120, "the restarted worker's clean-up of the killed run's scratch")
