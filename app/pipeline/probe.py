"""Media facts read from `ffmpeg -i` (the bundled ffmpeg has no ffprobe), and decodability checks."""

import re
from dataclasses import dataclass
from pathlib import Path

from app.errors import MediaError
from app.pipeline.ffmpeg_binary import run_ffmpeg

_DURATION = re.compile(r"Duration: (\d+):(\d+):(\d+(?:\.\d+)?)")
_VIDEO_STREAM = re.compile(r"Stream #\d+:\d+.*?: Video: (.*)")
_AUDIO_STREAM = re.compile(r"Stream #\d+:\d+.*?: Audio: (.*)")
_SIZE = re.compile(r"\b(\d{1,5})x(\d{1,5})\b")
_FPS = re.compile(r"([\d.]+)(k?) (?:fps|tbr)\b")
_ROTATION = re.compile(r"rotation of (-?[\d.]+) degrees")
_FRAMES_DECODED = re.compile(r"frame=\s*(\d+)")
_PROBE_TIMEOUT_S = 120


@dataclass(frozen=True)
class MediaInfo:
    duration_s: float
    has_video: bool
    has_audio: bool
    # Display size: ffmpeg applies rotation metadata while decoding, so these are the decoded frames' size.
    width: int = 0
    height: int = 0
    fps: float = 0.0
    rotation: int = 0
    frames_decoded: int = 0
    # Colour matrix of the video's YUV samples: bt709 when the stream says so, else bt601.
    color_matrix: str = "bt601"
    # The first seconds decoded without an error.
    decodes: bool = False

    @property
    def frame_count(self) -> int:
        return max(1, round(self.duration_s * self.fps)) if self.fps else 0


def probe_media(path: Path, decode_seconds: float = 0.5) -> MediaInfo:
    """Read stream facts and decode the first `decode_seconds` to prove the bytes are real media.

    With `decode_seconds=0` only the headers are read (`decodes` is then False).
    """
    decode = ["-t", str(decode_seconds), "-f", "null", "-"] if decode_seconds > 0 else []
    result = run_ffmpeg(["-i", str(path), *decode], timeout=_PROBE_TIMEOUT_S)
    log = result.stderr
    video = _VIDEO_STREAM.search(log)
    audio = _AUDIO_STREAM.search(log)
    if not (video or audio):
        raise MediaError("not a readable media file")
    duration = _parse_duration(log)
    if video is None:
        return MediaInfo(
            duration_s=duration, has_video=False, has_audio=audio is not None,
            decodes=result.returncode == 0,
        )
    width, height = _parse_size(video.group(1))
    rotation = _parse_rotation(log)
    if rotation in (90, 270):
        width, height = height, width
    frames = [int(n) for n in _FRAMES_DECODED.findall(log)]
    return MediaInfo(
        duration_s=duration,
        has_video=True,
        has_audio=audio is not None,
        width=width,
        height=height,
        fps=_parse_fps(video.group(1)),
        rotation=rotation,
        frames_decoded=frames[-1] if frames and result.returncode == 0 else 0,
        color_matrix="bt709" if "bt709" in video.group(1) else "bt601",
        decodes=decode_seconds > 0 and result.returncode == 0,
    )


def _parse_duration(log: str) -> float:
    match = _DURATION.search(log)
    if match is None:
        return 0.0
    hours, minutes, seconds = match.groups()
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def _parse_size(stream_line: str) -> tuple[int, int]:
    for match in _SIZE.finditer(stream_line):
        width, height = int(match.group(1)), int(match.group(2))
        if width > 0 and height > 0:
            return width, height
    return 0, 0


def _parse_fps(stream_line: str) -> float:
    match = _FPS.search(stream_line)
    if match is None:
        return 0.0
    value = float(match.group(1))
    return value * 1000 if match.group(2) == "k" else value


def _parse_rotation(log: str) -> int:
    match = _ROTATION.search(log)
    if match is None:
        return 0
    return round(-float(match.group(1))) % 360


def count_video_frames(path: Path, estimate: int) -> int:
    """Frames in the first video stream, counted from its packets (no decoding); `estimate` if unknown."""
    result = run_ffmpeg(["-i", str(path), "-map", "0:v:0", "-c", "copy", "-f", "null", "-"])
    counts = [int(n) for n in _FRAMES_DECODED.findall(result.stderr)]
    return counts[-1] if result.returncode == 0 and counts and counts[-1] > 0 else estimate
