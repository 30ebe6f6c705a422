"""Benchmark: what `video_quality` and `output_height` cost and give, on a realistic clip.

    python -m bench.output_controls [--case pan720] [--seconds 8]

On a bench.pipeline case (default `pan720`: 1280x720 at 30 fps, a 300-px face, the camera panning
and zooming) with espeak-ng speech, model1 renders the clip once per choice in this process (the
engine loaded once): draft, standard and high at the source's height, then standard at 360 and at
1080. Per choice it prints the seconds (and their ratio to standard's, measured in the same run),
the file's size and bitrate, and the PSNR above the nose against the source (where nothing is
drawn: what the encoder kept; for other heights, against the source scaled the same way).
"""

import argparse
import json
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from app import wiring
from app.config import Settings
from app.pipeline.lipsync import run_lipsync
from app.pipeline.media.output_controls import VideoQuality
from app.pipeline.timeline import SyncMode
from app.services.execution.jobs import build_job
from app.services.tasks.choices import RenderChoices
from bench.pipeline import CASES, case_clip
from tests.face_regions import mouth_and_upper_regions
from tests.media_tools import decode_rgb, psnr

CHOICES = (
    ("draft", VideoQuality.DRAFT, None),
    ("standard", VideoQuality.STANDARD, None),
    ("high", VideoQuality.HIGH, None),
    ("standard 360p", VideoQuality.STANDARD, 360),
    ("standard 1080p", VideoQuality.STANDARD, 1080),
)


def upper_face_psnr(result: Path, source_frames: np.ndarray) -> float:
    """Mean PSNR above the nose over every 10th frame, the source scaled to the result's size."""
    frames = decode_rgb(result)
    height, width = frames.shape[1:3]
    scores = []
    for output, source in zip(frames[::10], source_frames[::10]):
        scaled = cv2.resize(source, (width, height), interpolation=cv2.INTER_AREA)
        _, upper = mouth_and_upper_regions(scaled)
        scores.append(psnr(output[upper], scaled[upper]))
    return float(np.mean(scores))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", default="pan720", choices=list(CASES))
    parser.add_argument("--seconds", type=float, default=8.0)
    args = parser.parse_args()
    settings = Settings(_env_file=None)
    catalog = wiring.engine_catalog(settings)
    engine = catalog.load("viseme")
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-output-") as tmp:
        video, audio = case_clip(Path(tmp), args.case, args.seconds)
        source_frames = decode_rgb(video)
        for label, quality, height in CHOICES:
            out = Path(tmp) / f"{label.replace(' ', '_')}.mp4"
            choices = RenderChoices(SyncMode.CUT_OFF, output_height=height, video_quality=quality)
            job = build_job(settings, catalog, video, audio, out, choices)
            started = time.perf_counter()
            rendered = run_lipsync(job, engine)
            seconds = time.perf_counter() - started
            size_mb = out.stat().st_size / 2**20
            rows.append(
                {
                    "choice": label,
                    "size": f"{rendered.width}x{rendered.height}",
                    "seconds": round(seconds, 2),
                    "mb": round(size_mb, 2),
                    "mbit_per_s": round(size_mb * 8 * 1.048576 / args.seconds, 2),
                    "psnr_above_nose_db": round(upper_face_psnr(out, source_frames), 1),
                }
            )
    standard_s = next(row["seconds"] for row in rows if row["choice"] == "standard")
    for row in rows:
        row["time_vs_standard"] = round(row["seconds"] / standard_s, 2)
        print(json.dumps(row))


if __name__ == "__main__":
    main()
