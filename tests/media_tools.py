"""Test-side media inspection with Debian's ffprobe/ffmpeg, independent of the app's own ffmpeg code."""

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise RuntimeError(f"{name} is needed by the tests: apt-get install ffmpeg")
    return path


def ffprobe(path: Path) -> dict:
    """Streams and format of a media file, as ffprobe reports them."""
    result = subprocess.run(
        [_tool("ffprobe"), "-v", "error", "-show_streams", "-show_format", "-count_frames", "-of", "json", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout)


def stream(info: dict, kind: str) -> dict:
    return next(s for s in info["streams"] if s["codec_type"] == kind)


def decode_rgb(path: Path) -> np.ndarray:
    """All frames of a video as RGB uint8, shape (n, h, w, 3)."""
    video = stream(ffprobe(path), "video")
    width, height = int(video["width"]), int(video["height"])
    raw = subprocess.run(
        [_tool("ffmpeg"), "-v", "error", "-i", str(path), "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        capture_output=True,
        check=True,
    ).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, height, width, 3)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def frame_loudness(path: Path, fps: float, frame_count: int) -> np.ndarray:
    """RMS of the audio inside each video frame's time span."""
    raw = subprocess.run(
        [_tool("ffmpeg"), "-v", "error", "-i", str(path), "-f", "f32le", "-ac", "1", "-ar", "16000", "-"],
        capture_output=True,
        check=True,
    ).stdout
    samples = np.frombuffer(raw, np.float32)
    per_frame = 16000 / fps
    return np.array(
        [
            np.sqrt(np.mean(samples[int(i * per_frame) : int((i + 1) * per_frame)] ** 2) + 1e-12)
            for i in range(frame_count)
        ]
    )
