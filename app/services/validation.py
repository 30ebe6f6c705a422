"""Upload checks: content types, the container the bytes really are, and limits measured on the
media itself (a header's duration or frame rate is only a claim)."""

import math
from dataclasses import dataclass
from pathlib import Path

from app.config import Settings
from app.errors import InvalidUpload, MediaError
from app.pipeline.media.audio import SAMPLE_RATE, decode_audio
from app.pipeline.media.container import AUDIO_CONTAINERS, VIDEO_CONTAINERS, Container, detect_container
from app.pipeline.media.probe import MediaInfo, probe_media, scan_video_packets

VIDEO_CONTENT_TYPES = frozenset({"video/mp4"})
# Browsers send several names for WAV and MP3.
AUDIO_CONTENT_TYPES = frozenset({
    "audio/wav", "audio/x-wav", "audio/wave", "audio/vnd.wave", "audio/mpeg", "audio/mp3",
})
# Media is read this far past the length limit, to tell "at the limit" from "over it".
_READ_PAST_LIMIT_S = 1.0


@dataclass(frozen=True)
class MediaLimits:
    max_seconds: float
    max_pixels: int
    max_source_fps: float
    max_output_fps: float
    max_output_frames: int

    @classmethod
    def from_settings(cls, settings: Settings) -> "MediaLimits":
        return cls(
            settings.max_video_seconds, settings.max_video_pixels, settings.max_source_fps,
            settings.max_output_fps, settings.max_output_frames,
        )

    @property
    def read_seconds(self) -> float:
        """Where decoding stops: just past the length limit."""
        return self.max_seconds + _READ_PAST_LIMIT_S


def _base_type(content_type: str | None) -> str:
    return (content_type or "").split(";")[0].strip().lower()


def check_video_type(content_type: str | None) -> None:
    if _base_type(content_type) not in VIDEO_CONTENT_TYPES:
        raise InvalidUpload(
            "video_file", f"content type {content_type!r} is not accepted; send video/mp4"
        )


def check_audio_type(content_type: str | None) -> None:
    if _base_type(content_type) not in AUDIO_CONTENT_TYPES:
        accepted = ", ".join(sorted(AUDIO_CONTENT_TYPES))
        raise InvalidUpload(
            "audio_file", f"content type {content_type!r} is not accepted; send one of {accepted}"
        )


def check_inputs(video: Path, audio: Path, limits: MediaLimits) -> tuple[MediaInfo, Container]:
    """Both uploads checked (blocking: ffmpeg): the video's facts and the audio's container."""
    media = check_video_file(video, limits)
    container, audio_seconds = check_audio_file(audio, limits)
    check_output_frames(media, audio_seconds, limits)
    return media, container


def check_video_file(path: Path, limits: MediaLimits) -> MediaInfo:
    """Blocking (runs ffmpeg): call it off the event loop.

    Headers are checked before anything is read further, so a huge declared size costs nothing;
    then the packets are counted up to just past the length limit, whatever the header claims.
    """
    _container("video_file", path, VIDEO_CONTAINERS, "the file has no video stream")
    header = _probe("video_file", path, decode_seconds=0)
    if not header.has_video:
        raise InvalidUpload("video_file", "the file has no video stream")
    if header.width * header.height > limits.max_pixels:
        raise InvalidUpload(
            "video_file",
            f"the resolution {header.width}x{header.height} is over the limit of {limits.max_pixels} pixels",
        )
    _check_declared_duration("video_file", "video", header, limits.max_seconds)
    try:
        scan = scan_video_packets(path, limits.read_seconds)
    except MediaError as error:
        raise InvalidUpload("video_file", error.message) from error
    _check_read_duration("video_file", "video", scan.duration_s, header, limits.max_seconds)
    real_fps = scan.frames / scan.duration_s if scan.duration_s > 0 else 0.0
    fps = max(header.fps, real_fps)
    if fps > limits.max_source_fps:
        raise InvalidUpload(
            "video_file", f"the frame rate {fps:.0f} fps is over the limit of {limits.max_source_fps:g} fps"
        )
    info = _probe("video_file", path)
    if not (info.decodes and info.frames_decoded > 0 and info.fps > 0):
        raise InvalidUpload("video_file", "the file has no decodable video stream")
    return info


def check_audio_file(path: Path, limits: MediaLimits) -> tuple[Container, float]:
    """The audio's container and its length in seconds, measured by decoding it (blocking)."""
    container = _container("audio_file", path, AUDIO_CONTAINERS, "the file has no audio stream")
    info = _probe("audio_file", path)
    if not (info.has_audio and info.decodes):
        raise InvalidUpload("audio_file", "the file has no decodable audio stream")
    _check_declared_duration("audio_file", "audio", info, limits.max_seconds)
    try:
        seconds = len(decode_audio(path, limits.read_seconds)) / SAMPLE_RATE
    except MediaError as error:
        raise InvalidUpload("audio_file", error.message) from error
    _check_read_duration("audio_file", "audio", seconds, info, limits.max_seconds)
    return container, seconds


def check_output_frames(video: MediaInfo, audio_seconds: float, limits: MediaLimits) -> None:
    """The output is as long as the audio at most, at the video's rate capped to MAX_OUTPUT_FPS."""
    fps = min(video.fps, limits.max_output_fps)
    frames = math.ceil(audio_seconds * fps)
    if frames > limits.max_output_frames:
        raise InvalidUpload(
            "audio_file",
            f"the output would have {frames} frames ({audio_seconds:.1f} s at {fps:g} fps); "
            f"the limit is {limits.max_output_frames} frames",
        )


def _container(field: str, path: Path, accepted: frozenset[Container], wrong_kind: str) -> Container:
    try:
        container = detect_container(path)
    except MediaError as error:
        raise InvalidUpload(field, error.message) from error
    if container not in accepted:
        raise InvalidUpload(field, f"{wrong_kind} (it is a {container.name} file)")
    return container


def _check_declared_duration(field: str, kind: str, info: MediaInfo, max_seconds: float) -> None:
    if info.duration_s > max_seconds:
        raise InvalidUpload(field, f"the {kind} lasts {info.duration_s:.1f} s; the limit is {max_seconds:g} s")


def _check_read_duration(field: str, kind: str, seconds: float, header: MediaInfo, max_seconds: float) -> None:
    if seconds > max_seconds:
        raise InvalidUpload(
            field,
            f"the {kind} lasts over {max_seconds:g} s when read (its header claims "
            f"{header.duration_s:.1f} s); the limit is {max_seconds:g} s",
        )


def _probe(field: str, path: Path, decode_seconds: float = 0.5) -> MediaInfo:
    try:
        return probe_media(path, decode_seconds)
    except MediaError as error:
        raise InvalidUpload(field, error.message) from error
