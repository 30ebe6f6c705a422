"""bench.gpu's service path: a prepared clip through `python -m app.server`, stage by stage."""

import json
import time
from pathlib import Path

from app.config import Settings

# A folder written by `bench.gpu --prepare`: the clip, its speech, the clip's length.
CLIP, SPEECH, FACTS = "clip.mp4", "speech.wav", "clip.json"


def measure_service(model: str, precision: str, weights: Path, media: Path, work: Path) -> dict:
    """The clip through `python -m app.server`: seconds per stage and in all, against ffmpeg."""
    import httpx

    from bench.pipeline import baseline_seconds
    from tests.live_server import LiveServer

    # cut_off: the result is as long as the clip (the speech is longer).
    seconds = json.loads((media / FACTS).read_text())["seconds"]
    env = {"WEIGHTS_DIR": str(weights), "PRECISION": precision, "UPLOAD_DIR": str(work / f"uploads-{model}")}
    server = LiveServer(env, work / f"server-{model}.log").start()
    try:
        with httpx.Client(base_url=server.url, timeout=120) as client:
            started = time.perf_counter()
            with (media / CLIP).open("rb") as video, (media / SPEECH).open("rb") as audio:
                response = client.post(
                    "/process/",
                    files={"video_file": (CLIP, video, "video/mp4"), "audio_file": (SPEECH, audio, "audio/wav")},
                    data={"model_choice": model, "sync_mode": "cut_off"},
                )
            response.raise_for_status()
            upload_s = time.perf_counter() - started
            task_id = response.json()["task_id"]
            stages = _poll_stages(client, task_id, started)
            result = client.get(f"/result/{task_id}")
            result.raise_for_status()
            total = time.perf_counter() - started
    finally:
        server.stop()
    baseline = baseline_seconds(media / CLIP, media / SPEECH, seconds, work / "baseline.mp4", Settings(_env_file=None))
    return {
        "model": model,
        "precision": precision,
        "clip": f"1920x1080 30fps {seconds:.1f}s",
        "service_s": round(total, 2),
        "upload_s": round(upload_s, 2),
        "stage_s": stages,
        "ffmpeg_s": round(baseline, 2),
        "ratio": round(total / baseline, 2),
        "real_time_factor": round(total / seconds, 3),
        "result_mb": round(len(result.content) / 2**20, 1),
    }


def _poll_stages(client, task_id: str, started: float) -> dict[str, float]:  # noqa: ANN001 - httpx.Client
    """Seconds spent in each stage that /status showed, polling every 50 ms until the task ends
    (the last one, `done`, is entered once the output is measured for its quality report)."""
    entered: dict[str, float] = {}
    while True:
        status = client.get(f"/status/{task_id}").json()
        entered.setdefault(status["stage"], time.perf_counter() - started)
        if status["status"] in ("finished", "failed", "cancelled"):
            break
        time.sleep(0.05)
    if status["status"] != "finished":
        raise RuntimeError(f"{task_id} ended {status['status']}: {status.get('error')}")
    order = list(entered)
    return {stage: round(entered[after] - entered[stage], 2) for stage, after in zip(order, order[1:])}
