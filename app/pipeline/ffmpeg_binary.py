"""The ffmpeg executable: the static build that the imageio-ffmpeg wheel ships, so pip is the whole set-up."""

import subprocess
from functools import lru_cache

import imageio_ffmpeg


@lru_cache
def ffmpeg_exe() -> str:
    return imageio_ffmpeg.get_ffmpeg_exe()


def run_ffmpeg(args: list[str], timeout: float | None = None) -> subprocess.CompletedProcess[str]:
    """Run ffmpeg with `args` and return its result; stderr holds the log (text)."""
    return subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-nostdin", *args],
        capture_output=True,
        text=True,
        errors="replace",
        timeout=timeout,
    )
