"""Benchmark: the whole lip-sync pipeline against plain ffmpeg decode+encode of the same clip.

    python -m bench.pipeline [--cases still,pan720,pan1080] [--seconds 8] [--long-seconds 60] [--repeat 3]

Cases (speech from espeak-ng over each):
- `still`: the astronaut photograph held still in 720p (a face about 165 px wide), as before;
- `pan720`: Grace Hopper's portrait filmed by a camera that pans and zooms, 1280x720 at 30 fps,
  the face about 300 px wide;
- `pan1080`: the same at 1920x1080, 30 fps, the face about 500 px wide.
Per case it prints the time of the CLI as a user runs it (`python -m app.cli`, a fresh process:
imports, model loading, validation and the job), the pipeline alone in a fresh process
(`run_lipsync` once the engine is loaded), plain ffmpeg decoding the clip and encoding it with
the same codec settings and audio, their ratios, the real-time factor and the peak RSS of the
CLI process. Each is run `--repeat` times, alternating, and the medians are compared (the
largest RSS is kept). With --long-seconds the last case also runs a longer clip and the peak-RSS
ratio long/short is printed: it should stay near 1, because the pipeline streams in chunks.
Timings are ratios measured in the same run: these machines are noisy.
"""

import argparse
import json
import multiprocessing
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from app.config import Settings
from app.pipeline.media.ffmpeg_binary import ffmpeg_exe
from app.pipeline.timeline import SyncMode
from app.services.tasks.choices import RenderChoices
from tests import media_factory

SPEECH = (
    "The quick brown fox jumps over the lazy dog. Peter Piper picked a peck of pickled peppers. "
    "She sells sea shells by the sea shore, and the shells she sells are surely sea shells. "
)


@dataclass(frozen=True)
class Case:
    width: int
    height: int
    fps: float
    face_px: float | None  # None: the astronaut held still (today's clip)


CASES = {
    "still": Case(1280, 720, 25, None),
    "pan720": Case(1280, 720, 30, 300),
    "pan1080": Case(1920, 1080, 30, 500),
}


def make_clip(folder: Path, seconds: float, width: int, height: int) -> tuple[Path, Path]:
    """The astronaut held still, face scaled with the frame height, and speech as long."""
    video = media_factory.talking_head_video(
        folder / f"clip_{width}x{height}_{seconds:g}s.mp4",
        seconds,
        width=width,
        height=height,
        face_scale=height / 512 * 0.9,
    )
    return video, speech_for(folder, seconds)


def speech_for(folder: Path, seconds: float) -> Path:
    repeats = int(seconds / 8) + 1
    return media_factory.speech_wav(folder / f"speech_{seconds:g}s.wav", SPEECH * repeats)


def case_clip(folder: Path, name: str, seconds: float) -> tuple[Path, Path]:
    case = CASES[name]
    if case.face_px is None:
        return make_clip(folder, seconds, case.width, case.height)
    video = media_factory.camera_move_video(
        folder / f"{name}_{seconds:g}s.mp4", seconds, case.width, case.height, case.face_px, case.fps
    )
    return video, speech_for(folder, seconds)


def calls_per_second(call: Callable[[], object], device: torch.device, repeats: int) -> float:
    """`call()` once to warm up, then `repeats` times timed (waiting for CUDA to finish its work)."""
    call()
    if device.type == "cuda":
        torch.cuda.synchronize()
    started = time.perf_counter()
    for _ in range(repeats):
        call()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return repeats / (time.perf_counter() - started)


def baseline_seconds(video: Path, audio: Path, seconds: float, out: Path, settings: Settings) -> float:
    started = time.perf_counter()
    subprocess.run(
        [
            ffmpeg_exe(),
            "-v",
            "error",
            "-y",
            "-i",
            str(video),
            "-i",
            str(audio),
            "-map",
            "0:v",
            "-map",
            "1:a",
            "-t",
            str(seconds),
            "-c:v",
            "libx264",
            "-preset",
            settings.encoder_preset,
            "-crf",
            str(settings.encoder_crf),
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-b:a",
            "160k",
            "-movflags",
            "+faststart",
            str(out),
        ],
        check=True,
    )
    return time.perf_counter() - started


def cli_run(video: Path, audio: Path, out: Path, model: str = "model1") -> tuple[float, float]:
    """(seconds, peak RSS in MB) of `python -m app.cli` as a user runs it."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "app.cli",
            str(video),
            str(audio),
            "-o",
            str(out),
            "--model",
            model,
            "--sync-mode",
            "cut_off",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"the CLI failed on {video}")
    return elapsed, usage.ru_maxrss / 1024


def _pipeline_child(
    engine_name: str, weights_dir: str | None, video: str, audio: str, out: str, results: multiprocessing.Queue
) -> None:
    from app import wiring
    from app.pipeline.lipsync import run_lipsync
    from app.services.execution.jobs import build_job

    settings = Settings(_env_file=None, **({"weights_dir": Path(weights_dir)} if weights_dir else {}))
    catalog = wiring.engine_catalog(settings)
    device = catalog.device
    engine = catalog.load(engine_name)
    job = build_job(settings, catalog, Path(video), Path(audio), Path(out), RenderChoices(SyncMode.CUT_OFF))
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
    folder: Path,
    seconds: float,
    width: int,
    height: int,
    engine_name: str = "viseme",
    weights_dir: Path | None = None,
    repeat: int = 1,
) -> dict:
    """The still clip with `engine_name` in a fresh process against plain ffmpeg (bench.wav2lip)."""
    video, audio = make_clip(folder, seconds, width, height)
    return _compare(
        folder,
        f"{width}x{height} {seconds:g}s",
        video,
        audio,
        seconds,
        repeat,
        lambda out: pipeline_run(video, audio, out, engine_name, weights_dir),
    )


def measure_engine_case(folder: Path, name: str, seconds: float, engine_name: str, weights_dir: Path) -> dict:
    """A case's clip with `engine_name` in a fresh process against plain ffmpeg (bench.musetalk)."""
    video, audio = case_clip(folder, name, seconds)
    return _compare(
        folder,
        f"{name} {seconds:g}s",
        video,
        audio,
        seconds,
        1,
        lambda out: pipeline_run(video, audio, out, engine_name, weights_dir),
    )


def measure_case(folder: Path, name: str, seconds: float, repeat: int) -> dict:
    """A case's clip: the CLI, the pipeline alone and plain ffmpeg, alternating."""
    video, audio = case_clip(folder, name, seconds)
    clis: list[tuple[float, float]] = []

    def both(out: Path) -> dict:
        clis.append(cli_run(video, audio, out))
        return pipeline_run(video, audio, out)

    row = _compare(folder, f"{name} {seconds:g}s", video, audio, seconds, repeat, both)
    cli_s = statistics.median(seconds_ for seconds_, _ in clis)
    row.update(
        {
            "cli_s": round(cli_s, 2),
            "cli_ratio": round(cli_s / row["ffmpeg_s"], 2),
            "cli_real_time_factor": round(cli_s / seconds, 3),
            "cli_peak_rss_mb": round(max(rss for _, rss in clis)),
        }
    )
    return row


def _compare(folder: Path, label: str, video: Path, audio: Path, seconds: float, repeat: int, run) -> dict:
    settings = Settings(_env_file=None)
    baselines, runs = [], []
    for _ in range(repeat):
        baselines.append(baseline_seconds(video, audio, seconds, folder / "baseline.mp4", settings))
        runs.append(run(folder / "result.mp4"))
    pipeline_s = statistics.median(run["seconds"] for run in runs)
    baseline_s = statistics.median(baselines)
    return {
        "clip": label,
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
    parser.add_argument("--cases", default=",".join(CASES), help=f"comma-separated, from {', '.join(CASES)}")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--long-seconds", type=float, default=0.0, help="also run the last case this long (e.g. 60)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each, alternating; medians are compared")
    args = parser.parse_args()
    names = [name for name in args.cases.split(",") if name]
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as tmp:
        rows = [measure_case(Path(tmp), name, args.seconds, args.repeat) for name in names]
        if args.long_seconds:
            rows.append(measure_case(Path(tmp), names[-1], args.long_seconds, args.repeat))
    for row in rows:
        print(json.dumps(row))
    if args.long_seconds:
        ratio = rows[-1]["cli_peak_rss_mb"] / rows[-2]["cli_peak_rss_mb"]
        print(json.dumps({"peak_rss_long_over_short": round(ratio, 2)}))


if __name__ == "__main__":
    main()
