"""Benchmark: the whole lip-sync pipeline against plain ffmpeg decode+encode of the same clip.

    python -m bench.pipeline [--seconds 8] [--long-seconds 60] [--width 1280 --height 720] [--repeat 3]

Prints pipeline seconds, the baseline's seconds (ffmpeg decoding the clip and encoding it with
the same codec settings and the same audio), their ratio, the real-time factor (pipeline
seconds per second of video) and the peak RSS of the process that ran the pipeline. Both are
run `--repeat` times, alternating, and the medians are compared (the largest RSS is kept). With
--long-seconds it also runs a longer clip and prints the peak-RSS ratio long/short, which
should stay near 1 because the pipeline streams in chunks. Timings are ratios measured in
the same run: these machines are noisy.
"""

import argparse
import json
import multiprocessing
import resource
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from app.config import Settings
from app.pipeline.media.ffmpeg_binary import ffmpeg_exe
from app.pipeline.timeline import SyncMode
from tests import media_factory

SPEECH = (
    "The quick brown fox jumps over the lazy dog. Peter Piper picked a peck of pickled peppers. "
    "She sells sea shells by the sea shore, and the shells she sells are surely sea shells. "
)


def make_clip(folder: Path, seconds: float, width: int, height: int) -> tuple[Path, Path]:
    video = media_factory.talking_head_video(
        folder / f"clip_{seconds:g}s.mp4", seconds, width=width, height=height, face_scale=height / 512 * 0.9
    )
    repeats = int(seconds / 8) + 1
    audio = media_factory.speech_wav(folder / f"speech_{seconds:g}s.wav", SPEECH * repeats)
    return video, audio


def baseline_seconds(video: Path, audio: Path, seconds: float, out: Path, settings: Settings) -> float:
    started = time.perf_counter()
    subprocess.run(
        [
            ffmpeg_exe(), "-v", "error", "-y", "-i", str(video), "-i", str(audio), "-map", "0:v",
            "-map", "1:a", "-t", str(seconds), "-c:v", "libx264", "-preset", settings.encoder_preset,
            "-crf", str(settings.encoder_crf), "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "160k",
            "-movflags", "+faststart", str(out),
        ],
        check=True,
    )
    return time.perf_counter() - started


def _pipeline_child(
    engine_name: str, weights_dir: str | None, video: str, audio: str, out: str, results: multiprocessing.Queue
) -> None:
    from app.pipeline.lipsync import run_lipsync
    from app.services.engines import EngineCatalog
    from app.services.lipsync import build_job

    settings = Settings(_env_file=None, **({"weights_dir": Path(weights_dir)} if weights_dir else {}))
    catalog = EngineCatalog.from_settings(settings)
    device = catalog.device
    engine = catalog.load(engine_name)
    job = build_job(settings, catalog, Path(video), Path(audio), Path(out), SyncMode.CUT_OFF)
    started = time.perf_counter()
    run_lipsync(job, engine)
    elapsed = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    results.put({"seconds": elapsed, "peak_rss_mb": peak_mb, "device": str(device)})


def pipeline_run(
    video: Path, audio: Path, out: Path, engine_name: str = "viseme", weights_dir: Path | None = None
) -> dict:
    """Run the pipeline in a fresh process, so its peak RSS is its own."""
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    arguments = (engine_name, weights_dir and str(weights_dir), str(video), str(audio), str(out), results)
    process = context.Process(target=_pipeline_child, args=arguments)
    process.start()
    result = results.get()
    process.join()
    return result


def measure(
    folder: Path, seconds: float, width: int, height: int,
    engine_name: str = "viseme", weights_dir: Path | None = None, repeat: int = 1,
) -> dict:
    """One clip: the pipeline with `engine_name` against plain ffmpeg on the same clip, each run
    `repeat` times in turn; medians of the times, the largest peak RSS."""
    settings = Settings(_env_file=None)
    video, audio = make_clip(folder, seconds, width, height)
    baselines, runs = [], []
    for _ in range(repeat):
        baselines.append(baseline_seconds(video, audio, seconds, folder / "baseline.mp4", settings))
        runs.append(pipeline_run(video, audio, folder / "result.mp4", engine_name, weights_dir))
    pipeline_s = statistics.median(run["seconds"] for run in runs)
    baseline_s = statistics.median(baselines)
    return {
        "clip": f"{width}x{height} {seconds:g}s",
        "device": runs[0]["device"],
        "runs": repeat,
        "pipeline_s": round(pipeline_s, 2),
        "ffmpeg_s": round(baseline_s, 2),
        "ratio": round(pipeline_s / baseline_s, 2),
        "real_time_factor": round(pipeline_s / seconds, 3),
        "peak_rss_mb": round(max(run["peak_rss_mb"] for run in runs)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--long-seconds", type=float, default=0.0, help="also run a long clip (e.g. 60)")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=720)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each, alternating; medians are compared")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as tmp:
        rows = [measure(Path(tmp), args.seconds, args.width, args.height, repeat=args.repeat)]
        if args.long_seconds:
            rows.append(measure(Path(tmp), args.long_seconds, args.width, args.height, repeat=args.repeat))
    for row in rows:
        print(json.dumps(row))
    if len(rows) == 2:
        print(json.dumps({"peak_rss_long_over_short": round(rows[1]["peak_rss_mb"] / rows[0]["peak_rss_mb"], 2)}))


if __name__ == "__main__":
    main()
