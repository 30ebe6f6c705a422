"""Media facts read from `ffmpeg -i` (the bundled ffmpeg has no ffprobe), decodability checks, and
a scan of the video's real packets: a header's durations and rates are claims, the packets are facts.
"""

import re
from dataclasses import dataclass
from pathlib import Path

from app.errors import MediaError
from app.pipeline.media.container import input_args
from app.pipeline.media.ffmpeg_binary import run_ffmpeg

_DURATION = re.compile(r"Duration: (\d+):(\d+):(\d+(?:\.\d+)?)")
_VIDEO_STREAM = re.compile(r"Stream #\d+:\d+.*?: Video: (.*)")
_AUDIO_STREAM = re.compile(r"Stream #\d+:\d+.*?: Audio: (.*)")
_SIZE = re.compile(r"\b(\d{1,5})x(\d{1,5})\b")
_RATE = re.compile(r"([\d.]+)(k?) (fps|tbr)\b")
_ROTATION = re.compile(r"rotation of (-?[\d.]+) degrees")
_FRAMES_DECODED = re.compile(r"frame=\s*(\d+)")
_PROBE_TIMEOUT_S = 120
# An average rate below this share of the nominal one marks a variable-frame-rate clip.
_VARIABLE_RATE_RATIO = 0.9


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
    result = run_ffmpeg([*input_args(path), *decode], timeout=_PROBE_TIMEOUT_S)
    log = result.stderr
    video = _VIDEO_STREAM.search(log)
    audio = _AUDIO_STREAM.search(log)
    if not (video or audio):
        raise MediaError("not a readable media file")
    duration = _parse_duration(log)
    if video is None:
        return MediaInfo(
            duration_s=duration,
            has_video=False,
            has_audio=audio is not None,
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
    """The frame rate to play the video at.

    ffmpeg reports the average rate (`fps`) and the nominal one (`tbr`). A variable-rate clip
    (a screen recording, a phone saving power) averages far below its nominal rate; it is
    resampled to the nominal rate, so the output keeps a constant, natural frame rate.
    """
    rates = {kind: float(value) * (1000 if k else 1) for value, k, kind in _RATE.findall(stream_line)}
    average, nominal = rates.get("fps", 0.0), rates.get("tbr", 0.0)
    if nominal and (not average or average < _VARIABLE_RATE_RATIO * nominal):
        return nominal
    return average


def _parse_rotation(log: str) -> int:
    match = _ROTATION.search(log)
    if match is None:
        return 0
    return round(-float(match.group(1))) % 360


@dataclass(frozen=True)
class PacketScan:
    """The first video stream's packets as read from the file (nothing decoded)."""

    frames: int
    duration_s: float
    # The demuxer reported a damaged or cut-off file while reading.
    damaged: bool


def scan_video_packets(path: Path, max_seconds: float) -> PacketScan:
    """Read the video's packets up to `max_seconds` (a hard stop, whatever the header says).

    ffmpeg's frame-checksum muxer lists every packet with its timestamps, so the real frame
    count and duration come from the packets themselves: a header can claim anything.
    """
    result = run_ffmpeg(
        [
            *input_args(path),
            "-map",
            "0:v:0",
            "-c",
            "copy",
            "-t",
            f"{max_seconds:.3f}",
            "-loglevel",
            "error",
            "-nostats",
            "-f",
            "framecrc",
            "-",
        ],
        timeout=_PROBE_TIMEOUT_S,
    )
    if result.returncode != 0:
        raise MediaError("the video's packets could not be read")
    time_base = 1.0
    frames, end = 0, 0
    first: int | None = None
    for line in result.stdout.splitlines():
        if line.startswith("#tb 0:"):
            numerator, denominator = line.split(":", 1)[1].strip().split("/")
            time_base = int(numerator) / int(denominator)
        elif line and not line.startswith("#"):
            fields = line.split(",")
            if not (fields[2].strip().lstrip("-").isdigit() and fields[3].strip().isdigit()):
                continue  # a packet without a timestamp tells nothing of the duration
            pts, duration = int(fields[2]), int(fields[3])
            frames += 1
            first = pts if first is None else min(first, pts)
            end = max(end, pts + duration)
    duration_s = (end - first) * time_base if frames and first is not None else 0.0
    return PacketScan(frames, duration_s, damaged=bool(result.stderr.strip()))
