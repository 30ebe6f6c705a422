"""A real cluster for the distributed tests: Redis, an S3 server, two Celery workers and two API
processes, each API and worker with its own scratch folder (they share nothing but Redis and S3)."""

import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests import media_factory
from tests.distributed.servers import S3_KEYS, CeleryWorker, RedisServer, S3Server, WebhookWorker
from tests.live_server import LiveServer

# Short enough for the tests to see a dead worker's job taken over within seconds.
HEARTBEAT_TIMEOUT_S = 3
MAX_ATTEMPTS = 2
MAX_QUEUED = 3
WEBHOOK_SECRET = "cluster-webhook-secret"
_WORKER_READY_S = 120


@dataclass
class Cluster:
    redis: RedisServer
    s3: S3Server
    workers: list[CeleryWorker]
    apis: list[LiveServer]
    env: dict[str, str]
    logs: Path
    webhook_worker: WebhookWorker

    def worker_running(self, task_id: str) -> CeleryWorker:
        """The worker that logged the task's latest stage (lines carry the task id and start with
        their time, so the latest attempt's worker wins over an earlier one's)."""
        marker = f"task_id={task_id} event=task.stage"
        last_seen = {
            worker.name: max((line[:23] for line in worker.log_text().splitlines() if marker in line), default="")
            for worker in self.workers
            if worker.running
        }
        name = max(last_seen, key=last_seen.get, default=None)
        if not name or not last_seen[name]:
            raise AssertionError(f"no running worker logged task {task_id}")
        return next(worker for worker in self.workers if worker.name == name)

    def render_nodes(self) -> list[str]:
        """The render workers' Celery node names: the destination of a control command meant for
        them alone (`add_consumer` sent to all would make the webhooks worker take jobs too)."""
        return [f"{worker.name}@{socket.gethostname()}" for worker in self.workers]

    def restart_worker(self, worker: CeleryWorker) -> None:
        worker.kill()
        worker.start()
        wait_for_worker(worker)


def wait_for_worker(worker: CeleryWorker) -> None:
    """A worker is ready once Celery says so (its pool child has loaded the engines by then)."""
    deadline = time.monotonic() + _WORKER_READY_S
    while time.monotonic() < deadline:
        if not worker.running:
            raise RuntimeError(f"{worker.name} exited: {worker.log_text()[-2000:]}")
        if f"{worker.name}@" in worker.log_text() and " ready." in worker.log_text():
            return
        time.sleep(0.2)
    raise RuntimeError(f"{worker.name} not ready in {_WORKER_READY_S} s")


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    root = tmp_path_factory.mktemp("cluster")
    logs = root / "logs"
    logs.mkdir()
    redis_server = RedisServer(root / "redis", logs / "redis.log").start()
    s3 = S3Server(root / "s3", logs / "s3.log").start()
    env = {
        "EXECUTION": "celery",
        "STORAGE": "s3",
        "REDIS_URL": redis_server.url,
        "S3_ENDPOINT_URL": s3.url,
        "S3_BUCKET": "modellab-test",
        **S3_KEYS,
        "HEARTBEAT_TIMEOUT_S": str(HEARTBEAT_TIMEOUT_S),
        "MAX_ATTEMPTS": str(MAX_ATTEMPTS),
        "MAX_QUEUED": str(MAX_QUEUED),
        "DEVICE": "cpu",
        "CHUNK_FRAMES": "8",
        "MIN_FREE_DISK_MB": "1",
        "WEBHOOK_SECRET": WEBHOOK_SECRET,
        "WEBHOOK_ALLOW_PRIVATE": "true",
        "WEBHOOK_RETRY_BASE_S": "0.5",
    }
    workers = [
        CeleryWorker(f"worker{index}", {**env, "UPLOAD_DIR": str(root / f"worker{index}")}, logs / f"worker{index}.log")
        for index in range(2)
    ]
    apis = [
        LiveServer({**env, "UPLOAD_DIR": str(root / f"api{index}")}, logs / f"api{index}.log") for index in range(2)
    ]
    webhook_worker = WebhookWorker("webhooks", {**env, "UPLOAD_DIR": str(root / "webhooks")}, logs / "webhooks.log")
    try:
        for process in (*workers, webhook_worker, *apis):
            process.start()
        for worker in (*workers, webhook_worker):
            wait_for_worker(worker)
        yield Cluster(redis_server, s3, workers, apis, env, logs, webhook_worker)
    finally:
        for process in (*apis, *workers, webhook_worker, s3, redis_server):
            process.stop()


@pytest.fixture(scope="session")
def cluster_video(media_dir: Path) -> Path:
    """20 s of a 384x384 face: a job of several seconds on a CPU, in chunks of 8 frames."""
    return media_factory.talking_head_video(media_dir / "cluster_face.mp4", 20.0, width=384, height=384)


@pytest.fixture(scope="session")
def cluster_audio(media_dir: Path) -> Path:
    """About 16 s of speech."""
    return media_factory.speech_wav(
        media_dir / "cluster_speech.wav",
        " ".join(
            [
                "Papa bought a big map, and mama made banana bread for everyone.",
                "Bob and Pam may park by the barn, but the car is far away.",
                "My father saw a large ball above the palm, and we all went home.",
                "Open your mouth wide and say papa, mama, and banana.",
            ]
        ),
        1.0,
    )


def submit(api: LiveServer, video: Path, audio: Path, **form: str) -> httpx.Response:
    with video.open("rb") as video_file, audio.open("rb") as audio_file:
        return httpx.post(
            f"{api.url}/process/",
            timeout=60,
            data={"model_choice": "model1", "sync_mode": "cut_off", **form},
            files={
                "video_file": (video.name, video_file, "video/mp4"),
                "audio_file": (audio.name, audio_file, "audio/wav"),
            },
        )


def wait_for(
    api: LiveServer, task_id: str, states: set[str], timeout_s: float = 180, min_progress: float = 0.0
) -> dict:
    """Poll GET /status until the task is in one of `states` (and past `min_progress`), with a deadline."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        status = httpx.get(f"{api.url}/status/{task_id}", timeout=10).json()
        if status["status"] in states and status["progress"] >= min_progress:
            return status
        time.sleep(0.1)
    raise AssertionError(f"task {task_id} not {states} within {timeout_s} s: {status}")
