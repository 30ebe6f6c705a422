"""Distributed mode on real servers: two API processes and two Celery workers sharing only Redis
and an S3 server. The scenarios run in file order on one cluster; each leaves it whole."""

import hashlib
import hmac
import os
import signal
import subprocess
from pathlib import Path

import httpx
import pytest
import redis
from celery import Celery

from tests.conftest import wait_until
from tests.distributed.conftest import MAX_ATTEMPTS, MAX_QUEUED, WEBHOOK_SECRET, Cluster, submit, wait_for
from tests.live_server import LiveServer
from tests.webhook_receiver import Receiver

pytestmark = pytest.mark.distributed


def _ffprobe_duration(path: Path) -> float:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(out.stdout)


def test_a_task_submitted_to_one_api_is_polled_and_downloaded_on_the_other(
    cluster: Cluster, cluster_video: Path, cluster_audio: Path, tmp_path: Path
):
    first, second = cluster.apis
    answer = submit(first, cluster_video, cluster_audio)
    assert answer.status_code == 202, answer.text
    task_id = answer.json()["task_id"]
    status = wait_for(second, task_id, {"finished", "failed"})
    assert status["status"] == "finished", status
    assert status["attempt"] == 1
    result = httpx.get(f"{second.url}/result/{task_id}", timeout=60)
    assert result.status_code == 200 and result.headers["content-type"] == "video/mp4"
    path = tmp_path / "result.mp4"
    path.write_bytes(result.content)
    assert _ffprobe_duration(path) > 4
    # Range works through the API, as for a local file.
    part = httpx.get(f"{first.url}/result/{task_id}", headers={"Range": "bytes=10-19"}, timeout=60)
    assert part.status_code == 206 and part.content == result.content[10:20]
    assert part.headers["content-range"] == f"bytes 10-19/{len(result.content)}"
    # The result is in the bucket, the inputs too; no API host kept a copy.
    keys = {item["Key"] for item in cluster.s3.client().list_objects_v2(Bucket="modellab-test").get("Contents", [])}
    assert f"results/{task_id}.mp4" in keys
    assert not any(task_id in str(path) for path in (cluster.logs.parent).glob("api*/**/*"))


def _keys_of(cluster: Cluster, task_id: str) -> list[str]:
    listing = cluster.s3.client().list_objects_v2(Bucket="modellab-test").get("Contents", [])
    return [item["Key"] for item in listing if task_id in item["Key"]]


def test_a_with_result_redirect_the_api_answers_307_to_a_presigned_url_that_serves_ranges(
    cluster: Cluster, cluster_video: Path, cluster_audio: Path
):
    task_id = submit(cluster.apis[0], cluster_video, cluster_audio).json()["task_id"]
    assert wait_for(cluster.apis[0], task_id, {"finished", "failed"})["status"] == "finished"
    redirecting = LiveServer(
        {**cluster.env, "RESULT_REDIRECT": "true", "UPLOAD_DIR": str(cluster.logs.parent / "api-redirect")},
        cluster.logs / "api-redirect.log",
    ).start()
    try:
        answer = httpx.get(f"{redirecting.url}/result/{task_id}", timeout=30)
    finally:
        redirecting.stop()
    assert answer.status_code == 307
    link = answer.headers["location"]
    assert link.startswith(f"{cluster.s3.url}/modellab-test/results/{task_id}.mp4?") and "X-Amz-Expires=300" in link
    whole = httpx.get(link, timeout=30)
    assert whole.status_code == 200 and whole.content[4:8] == b"ftyp"
    part = httpx.get(link, headers={"Range": "bytes=100-199"}, timeout=30)
    assert part.status_code == 206 and part.content == whole.content[100:200]


def test_a_the_sweep_removes_expired_tasks_objects_and_keys(cluster: Cluster, cluster_video: Path, cluster_audio: Path):
    task_id = submit(cluster.apis[0], cluster_video, cluster_audio).json()["task_id"]
    assert wait_for(cluster.apis[0], task_id, {"finished", "failed"})["status"] == "finished"
    assert _keys_of(cluster, task_id)
    # Another API host whose TTL (under 2 s) has passed for every finished task.
    sweeper = LiveServer(
        {
            **cluster.env,
            "TASK_TTL_HOURS": "0.0005",
            "SWEEP_INTERVAL_S": "1",
            "UPLOAD_DIR": str(cluster.logs.parent / "api-sweeper"),
        },
        cluster.logs / "api-sweeper.log",
    ).start()
    try:
        wait_until(
            lambda: httpx.get(f"{cluster.apis[1].url}/status/{task_id}", timeout=10).status_code == 404,
            30,
            "the task's expiry",
        )
    finally:
        sweeper.stop()
    assert not _keys_of(cluster, task_id)
    assert not redis.Redis.from_url(cluster.redis.url).keys(f"*{task_id}*")


def test_a_an_idempotency_key_holds_across_api_hosts(cluster: Cluster, cluster_video: Path, cluster_audio: Path):
    first, second = cluster.apis
    with cluster_video.open("rb") as video, cluster_audio.open("rb") as audio:
        files = {"video_file": ("v.mp4", video.read(), "video/mp4"), "audio_file": ("a.wav", audio.read(), "audio/wav")}
    answers = [
        httpx.post(
            f"{api.url}/process/",
            files=files,
            data={"model_choice": "model1", "sync_mode": "cut_off"},
            headers={"Idempotency-Key": "cluster-key"},
            timeout=60,
        )
        for api in (first, second)
    ]
    assert [answer.status_code for answer in answers] == [202, 202]
    assert answers[0].json()["task_id"] == answers[1].json()["task_id"]
    assert wait_for(second, answers[0].json()["task_id"], {"finished", "failed"})["status"] == "finished"


def test_a_the_worker_sends_the_webhooks_signed(cluster: Cluster, cluster_video: Path, cluster_audio: Path):
    receiver = Receiver()
    try:
        task_id = submit(cluster.apis[0], cluster_video, cluster_audio, webhook_url=receiver.url).json()["task_id"]
        receiver.wait_for(2, timeout_s=180)
    finally:
        receiver.close()
    assert [event["event"] for event in receiver.events()] == ["started", "finished"]
    assert receiver.events()[-1]["result_url"] == f"{cluster.apis[0].url}/result/{task_id}"
    for headers, body, _ in receiver.received:
        parts = dict(item.split("=", 1) for item in headers["x-modellab-signature"].split(","))
        expected = hmac.new(WEBHOOK_SECRET.encode(), f"{parts['t']}.".encode() + body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(parts["v1"], expected)


def test_a_a_webhook_retry_outlives_the_api_host_that_scheduled_it(
    cluster: Cluster, cluster_video: Path, cluster_audio: Path
):
    receiver = Receiver()
    receiver.answers_for["cancelled"] = [500]  # its first try fails: a retry is due in 0.5 s
    doomed = LiveServer(
        {**cluster.env, "UPLOAD_DIR": str(cluster.logs.parent / "api-doomed")}, cluster.logs / "api-doomed.log"
    ).start()
    try:
        task_id = submit(doomed, cluster_video, cluster_audio, webhook_url=receiver.url).json()["task_id"]
        assert httpx.delete(f"{doomed.url}/tasks/{task_id}", timeout=30).status_code == 204
        wait_until(lambda: any(status == 500 for _, _, status in receiver.received), 30, "the first, failed try")
        doomed.kill()  # kill -9 before the retry is due
        wait_until(lambda: "cancelled" in [event["event"] for event in receiver.events()], 30, "the retry")
    finally:
        doomed.kill()
        receiver.close()
    cancelled = [body for _, body, _ in receiver.received if b'"cancelled"' in body]
    assert len(cancelled) == 2 and cancelled[0] == cancelled[1]  # the same event, delivery id included


def test_b_a_worker_killed_mid_job_is_replaced_and_the_result_is_complete(
    cluster: Cluster, cluster_video: Path, cluster_audio: Path, tmp_path: Path
):
    first, second = cluster.apis
    task_id = submit(first, cluster_video, cluster_audio).json()["task_id"]
    wait_for(first, task_id, {"processing"}, min_progress=0.1)
    victim = cluster.worker_running(task_id)
    victim.kill()  # the whole worker, parent and pool: as when its host dies
    status = wait_for(second, task_id, {"finished", "failed"}, timeout_s=240)
    assert status["status"] == "finished", status
    assert status["attempt"] == 2
    path = tmp_path / "result.mp4"
    path.write_bytes(httpx.get(f"{second.url}/result/{task_id}", timeout=60).content)
    # Complete and playable: every frame decodes, and it lasts as long as the plan says.
    decoded = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-f", "null", "-"], capture_output=True, text=True
    )
    assert decoded.returncode == 0 and decoded.stderr == ""
    assert _ffprobe_duration(path) == pytest.approx(18.6, abs=0.2)
    cluster.restart_worker(victim)


def test_b_a_frozen_worker_that_wakes_after_its_job_was_taken_over_writes_nothing(
    cluster: Cluster, cluster_video: Path, cluster_audio: Path
):
    first, second = cluster.apis
    task_id = submit(first, cluster_video, cluster_audio).json()["task_id"]
    wait_for(first, task_id, {"processing"}, min_progress=0.1)
    stale = cluster.worker_running(task_id)
    os.killpg(stale.process.pid, signal.SIGSTOP)  # alive but silent: its heartbeat stops
    try:
        status = wait_for(second, task_id, {"finished", "failed"}, timeout_s=240)
    finally:
        os.killpg(stale.process.pid, signal.SIGCONT)
    assert status["status"] == "finished" and status["attempt"] == 2
    etag = cluster.s3.client().head_object(Bucket="modellab-test", Key=f"results/{task_id}.mp4")["ETag"]
    # Woken, the old run sees at its next chunk that it is no longer the task's run, and stops
    # saying so (nobody cancelled it).
    wait_until(lambda: f"task_id={task_id} event=task.superseded" in stale.log_text(), 60, "the stale run's stop")
    assert f"task_id={task_id} event=task.cancelled" not in stale.log_text()
    assert cluster.s3.client().head_object(Bucket="modellab-test", Key=f"results/{task_id}.mp4")["ETag"] == etag
    assert httpx.get(f"{second.url}/status/{task_id}", timeout=10).json()["status"] == "finished"


def test_b_a_job_that_kills_its_worker_every_time_fails_after_the_capped_attempts(
    cluster: Cluster, cluster_video: Path, cluster_audio: Path
):
    api = cluster.apis[0]
    task_id = submit(api, cluster_video, cluster_audio).json()["task_id"]
    for attempt in range(1, MAX_ATTEMPTS + 1):
        status = wait_for(api, task_id, {"processing"}, min_progress=0.05)
        assert status["attempt"] == attempt
        # The pool process dies (as in a segfault); Celery's parent process lives on and the
        # job is delivered again.
        worker = cluster.worker_running(task_id)
        for pid in worker.child_pids():
            os.kill(pid, signal.SIGKILL)
        wait_until(
            lambda: (
                httpx.get(f"{api.url}/status/{task_id}", timeout=10).json()["attempt"] > attempt  # noqa: B023 (called within this turn)
                or httpx.get(f"{api.url}/status/{task_id}", timeout=10).json()["status"] == "failed"
            ),
            60,
            f"the end of attempt {attempt}",
        )
    status = wait_for(api, task_id, {"failed"}, timeout_s=60)
    assert status["error"].startswith(
        f"the job stopped its worker {MAX_ATTEMPTS} times (MAX_ATTEMPTS={MAX_ATTEMPTS}); it is not tried again"
    )
    assert status["error_code"] == "worker_lost"
    wait_until(lambda: not any(key.startswith("inputs/") for key in _keys_of(cluster, task_id)), 30, "input removal")


def test_c_a_running_job_is_cancelled_through_the_other_api(cluster: Cluster, cluster_video: Path, cluster_audio: Path):
    first, second = cluster.apis
    task_id = submit(first, cluster_video, cluster_audio).json()["task_id"]
    wait_for(first, task_id, {"processing"}, min_progress=0.05)
    for _ in range(3):  # idempotent
        assert httpx.delete(f"{second.url}/tasks/{task_id}", timeout=30).status_code == 204
    assert httpx.get(f"{first.url}/status/{task_id}", timeout=10).json()["status"] == "cancelled"
    # The worker stops after its current chunk and removes the task's objects.
    wait_until(lambda: not _keys_of(cluster, task_id), 60, "removal of the task's objects")
    wait_until(
        lambda: f"task_id={task_id} event=task.cancelled" in "".join(w.log_text() for w in cluster.workers),
        60,
        "the worker's stop",
    )
    assert not _keys_of(cluster, task_id)


def test_f_the_queue_limit_holds_across_api_hosts(cluster: Cluster, cluster_video: Path, cluster_audio: Path):
    control = Celery(broker=cluster.redis.url).control
    control.cancel_consumer(
        "lipsync", destination=cluster.render_nodes(), reply=True, timeout=10
    )  # nothing leaves the queue meanwhile
    try:
        accepted = []
        for index in range(MAX_QUEUED):
            answer = submit(cluster.apis[index % 2], cluster_video, cluster_audio)
            assert answer.status_code == 202, answer.text
            accepted.append(answer.json()["task_id"])
        for api in cluster.apis:
            refused = submit(api, cluster_video, cluster_audio)
            assert refused.status_code == 503
            assert "queue is full" in refused.json()["detail"]
        health = httpx.get(f"{cluster.apis[1].url}/health", timeout=10).json()
        assert health["queued"] == MAX_QUEUED
    finally:
        control.add_consumer("lipsync", destination=cluster.render_nodes(), reply=True, timeout=10)
    for task_id in accepted:
        assert wait_for(cluster.apis[0], task_id, {"finished", "failed"}, timeout_s=240)["status"] == "finished"


def test_d_a_redis_restart_mid_queue_loses_nothing(cluster: Cluster, cluster_video: Path, cluster_audio: Path):
    accepted = [submit(cluster.apis[index % 2], cluster_video, cluster_audio).json()["task_id"] for index in range(3)]
    wait_for(cluster.apis[0], accepted[0], {"processing"}, min_progress=0.05)
    cluster.redis.kill()  # no chance to save: what survives is what the append-only file holds
    cluster.redis.start()
    for task_id in accepted:
        status = wait_for(cluster.apis[1], task_id, {"finished", "failed", "cancelled"}, timeout_s=300)
        assert status["status"] == "finished", status
        assert f"results/{task_id}.mp4" in _keys_of(cluster, task_id)


def test_e_with_s3_stopped_requests_get_clear_errors_and_the_api_stays_up(
    cluster: Cluster, cluster_video: Path, cluster_audio: Path
):
    api = cluster.apis[0]
    finished = submit(api, cluster_video, cluster_audio).json()["task_id"]
    assert wait_for(api, finished, {"finished", "failed"}, timeout_s=240)["status"] == "finished"
    cluster.s3.kill()
    try:
        refused = submit(api, cluster_video, cluster_audio)
        assert refused.status_code == 503
        assert "object storage" in refused.json()["detail"]
        download = httpx.get(f"{api.url}/result/{finished}", timeout=60)
        assert download.status_code == 503 and "object storage" in download.json()["detail"]
        # Task state (Redis) still answers, and so does the service.
        assert httpx.get(f"{api.url}/status/{finished}", timeout=10).json()["status"] == "finished"
        assert httpx.get(f"{api.url}/health", timeout=10).status_code == 200
    finally:
        cluster.s3.start()  # the cluster whole again for the scenarios after this one
