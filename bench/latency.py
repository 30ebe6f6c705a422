"""Benchmark: how fast GET answers while a 1080p job renders, against the same GETs when idle.

    python -m bench.latency [--seconds 6]

Starts a real uvicorn on 127.0.0.1, polls GET /status/{id} back to back while the job runs and
GET /health when idle (bounded in count and time), and prints latency percentiles and ratios.
"""

import argparse
import json
import tempfile
from pathlib import Path

import httpx

from bench.load import percentiles, submit, timed_get
from bench.pipeline import make_clip
from tests.live_server import LiveServer

_MAX_POLLS = 20_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--seconds", type=float, default=6.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-latency-") as tmp:
        folder = Path(tmp)
        video, audio = make_clip(folder, args.seconds, 1920, 1080)
        server = LiveServer({"UPLOAD_DIR": str(folder / "uploads")}, folder / "server.log").start()
        base = server.url
        try:
            with httpx.Client(timeout=30) as client:
                idle = [timed_get(client, f"{base}/health")[0] for _ in range(300)]
                task_id = submit(base, video, audio, sync_mode="cut_off").json()["task_id"]
                busy: list[float] = []
                status = "queued"
                while status in ("queued", "processing") and len(busy) < _MAX_POLLS:
                    latency, response = timed_get(client, f"{base}/status/{task_id}")
                    busy.append(latency)
                    status = response.json()["status"]
        finally:
            server.stop()
    idle_p, busy_p = percentiles(idle), percentiles(busy)
    print(json.dumps({"idle_ms": idle_p, "while_1080p_job_ms": busy_p, "polls": len(busy), "job": status}))
    print(json.dumps({f"ratio_{key}": round(busy_p[key] / idle_p[key], 2) for key in idle_p}))


if __name__ == "__main__":
    main()
