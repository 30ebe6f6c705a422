"""Benchmark: how fast GET answers while a 1080p job renders, against the same GETs when idle.

    python -m bench.latency [--seconds 6]

Starts a real uvicorn on 127.0.0.1, polls GET /status/{id} back to back while the job runs and
GET /health when idle (bounded in count and time), and prints latency percentiles and ratios.
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

from bench.pipeline import make_clip

_MAX_POLLS = 20_000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(upload_dir: Path, port: int) -> subprocess.Popen:
    env = {**os.environ, "UPLOAD_DIR": str(upload_dir)}
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "app.main:app", "--host", "127.0.0.1", "--port", str(port),
         "--log-level", "warning"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
            return server
        except httpx.TransportError:
            time.sleep(0.2)
    server.kill()
    raise RuntimeError("uvicorn did not start")


def timed_get(client: httpx.Client, url: str) -> tuple[float, dict]:
    started = time.perf_counter()
    body = client.get(url).json()
    return (time.perf_counter() - started) * 1000, body


def percentiles(samples: list[float]) -> dict:
    return {f"p{q}": round(float(np.percentile(samples, q)), 2) for q in (50, 95, 99)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--seconds", type=float, default=6.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-latency-") as tmp:
        folder = Path(tmp)
        video, audio = make_clip(folder, args.seconds, 1920, 1080)
        port = free_port()
        server = start_server(folder / "uploads", port)
        base = f"http://127.0.0.1:{port}"
        try:
            with httpx.Client(timeout=30) as client:
                idle = [timed_get(client, f"{base}/health")[0] for _ in range(300)]
                with video.open("rb") as v, audio.open("rb") as a:
                    task_id = client.post(
                        f"{base}/process/",
                        files={"video_file": ("v.mp4", v, "video/mp4"), "audio_file": ("a.wav", a, "audio/wav")},
                        data={"model_choice": "model1", "sync_mode": "cut_off"},
                    ).json()["task_id"]
                busy: list[float] = []
                status = "queued"
                while status in ("queued", "processing") and len(busy) < _MAX_POLLS:
                    latency, body = timed_get(client, f"{base}/status/{task_id}")
                    busy.append(latency)
                    status = body["status"]
        finally:
            server.terminate()
            server.wait(timeout=30)
    idle_p, busy_p = percentiles(idle), percentiles(busy)
    print(json.dumps({"idle_ms": idle_p, "while_1080p_job_ms": busy_p, "polls": len(busy), "job": status}))
    print(json.dumps({f"ratio_{key}": round(busy_p[key] / idle_p[key], 2) for key in idle_p}))


if __name__ == "__main__":
    main()
