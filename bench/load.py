"""Load benchmark: 20 jobs at once plus a steady stream of status polls against a real uvicorn.

    python -m bench.load [--jobs 20] [--max-queued 8] [--time-limit 600]

Traffic goes only to 127.0.0.1 and is bounded in count and time. Prints poll latency
percentiles while jobs run against the same polls when idle (and their ratio), how many
submissions were refused because the queue was full (503), and asserts that every accepted task
ended `finished` or `failed` (none lost).
"""

import argparse
import json
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np

from tests import media_factory
from tests.live_server import LiveServer

_IDLE_POLLS = 300


def percentiles(samples: list[float]) -> dict[str, float]:
    return {f"p{q}": round(float(np.percentile(samples, q)), 2) for q in (50, 95, 99, 100)}


def submit(url: str, video: Path, audio: Path, sync_mode: str = "bounce") -> httpx.Response:
    with video.open("rb") as v, audio.open("rb") as a:
        return httpx.post(
            f"{url}/process/",
            timeout=120,
            data={"model_choice": "model1", "sync_mode": sync_mode},
            files={"video_file": ("v.mp4", v, "video/mp4"), "audio_file": ("a.wav", a, "audio/wav")},
        )


def timed_get(client: httpx.Client, url: str) -> tuple[float, httpx.Response]:
    started = time.perf_counter()
    response = client.get(url)
    return (time.perf_counter() - started) * 1000, response


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--jobs", type=int, default=20)
    parser.add_argument("--max-queued", type=int, default=8)
    parser.add_argument("--time-limit", type=float, default=600, help="seconds before giving up")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
        folder = Path(tmp)
        video = media_factory.talking_head_video(folder / "face.mp4", 2.0)
        audio = media_factory.speech_wav(folder / "speech.wav", "Hello there, this is a load test.")
        env = {"UPLOAD_DIR": str(folder / "uploads"), "MAX_QUEUED": str(args.max_queued)}
        server = LiveServer(env, folder / "server.log").start()
        try:
            report = run_load(server.url, video, audio, args.jobs, args.time_limit)
        finally:
            server.stop()
    print(json.dumps(report))
    assert report["lost"] == 0, "some accepted tasks never ended"


def run_load(url: str, video: Path, audio: Path, jobs: int, time_limit: float) -> dict:
    with httpx.Client(timeout=30) as client:
        idle = [timed_get(client, f"{url}/health")[0] for _ in range(_IDLE_POLLS)]
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            responses = list(pool.map(lambda _: submit(url, video, audio), range(jobs)))
        accepted = [r.json()["task_id"] for r in responses if r.status_code == 202]
        rejected = sum(r.status_code == 503 for r in responses)
        busy: list[float] = []
        states: dict[str, str] = {}
        deadline = time.monotonic() + time_limit
        while time.monotonic() < deadline:
            for task_id in accepted:
                latency, response = timed_get(client, f"{url}/status/{task_id}")
                busy.append(latency)
                states[task_id] = response.json()["status"]
            if all(state in ("finished", "failed") for state in states.values()):
                break
    idle_p, busy_p = percentiles(idle), percentiles(busy)
    return {
        "submitted": jobs,
        "accepted": len(accepted),
        "rejected_503": rejected,
        "finished": sum(s == "finished" for s in states.values()),
        "failed": sum(s == "failed" for s in states.values()),
        "lost": sum(s not in ("finished", "failed") for s in states.values()),
        "poll_ms_idle": idle_p,
        "poll_ms_busy": busy_p,
        "busy_over_idle": {key: round(busy_p[key] / idle_p[key], 2) for key in idle_p},
        "polls": len(busy),
    }


if __name__ == "__main__":
    main()
