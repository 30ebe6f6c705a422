"""The ffmpeg executable: the static build that the imageio-ffmpeg wheel ships, so pip is the whole set-up."""

import re
import subprocess
import threading
from functools import lru_cache
from pathlib import PurePath
from typing import IO

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


_ABSOLUTE_PATH = re.compile(r"/[^\s:'\"]+")
# ffmpeg prefixes lines with the component and its heap address: "[h264 @ 0x55d1c0a3b2c0] ".
_COMPONENT_PREFIX = re.compile(r"\[[^\]]*\]\s*")
_ADDRESS = re.compile(r"\b0x[0-9a-fA-F]{6,}\b")
_MAX_REASON_CHARS = 200


def ffmpeg_failure(log: str) -> str:
    """A short reason safe to show a client: ffmpeg's last log line, without component prefixes,
    heap addresses or directories."""
    if "No space left on device" in log:
        return "the server ran out of disk space"
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    last = _COMPONENT_PREFIX.sub("", lines[-1]) if lines else ""
    last = _ADDRESS.sub("", _ABSOLUTE_PATH.sub(lambda match: PurePath(match.group()).name, last)).strip()
    return last[:_MAX_REASON_CHARS] or "ffmpeg failed"


def drain(pipe: IO[bytes], sink: list[str] | None = None) -> threading.Thread:
    """Read a pipe to its end in a thread so ffmpeg never blocks on a full stderr."""

    def pump() -> None:
        for line in iter(pipe.readline, b""):
            if sink is not None:
                sink.append(line.decode(errors="replace"))
        pipe.close()

    thread = threading.Thread(target=pump, daemon=True)
    thread.start()
    return thread
