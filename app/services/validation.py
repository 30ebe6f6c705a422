"""Upload checks: content types, and ffmpeg proof that the bytes are the media they claim to be."""

from pathlib import Path

from app.errors import InvalidUpload, MediaError
from app.pipeline.probe import MediaInfo, probe_media

VIDEO_CONTENT_TYPES = frozenset({"video/mp4"})
# Browsers send several names for WAV and MP3; the stored extension comes from this table only.
AUDIO_EXTENSIONS = {
    "audio/wav": "wav",
    "audio/x-wav": "wav",
    "audio/wave": "wav",
    "audio/vnd.wave": "wav",
    "audio/mpeg": "mp3",
    "audio/mp3": "mp3",
}


def _base_type(content_type: str | None) -> str:
    return (content_type or "").split(";")[0].strip().lower()


def check_video_type(content_type: str | None) -> None:
    if _base_type(content_type) not in VIDEO_CONTENT_TYPES:
        raise InvalidUpload(
            "video_file", f"content type {content_type!r} is not accepted; send video/mp4"
        )


def audio_extension(content_type: str | None) -> str:
    extension = AUDIO_EXTENSIONS.get(_base_type(content_type))
    if extension is None:
        accepted = ", ".join(sorted(AUDIO_EXTENSIONS))
        raise InvalidUpload(
            "audio_file", f"content type {content_type!r} is not accepted; send one of {accepted}"
        )
    return extension


def check_video_file(path: Path, max_seconds: float, max_pixels: int) -> MediaInfo:
    """Blocking (runs ffmpeg): call it off the event loop.

    Headers are checked before anything is decoded, so a huge declared size costs nothing.
    """
    header = _probe("video_file", path, decode_seconds=0)
    if not header.has_video:
        raise InvalidUpload("video_file", "the file has no video stream")
    if header.width * header.height > max_pixels:
        raise InvalidUpload(
            "video_file", f"the resolution {header.width}x{header.height} is over the limit of {max_pixels} pixels"
        )
    _check_duration("video_file", "video", header, max_seconds)
    info = _probe("video_file", path)
    if not (info.decodes and info.frames_decoded > 0 and info.fps > 0):
        raise InvalidUpload("video_file", "the file has no decodable video stream")
    return info


def check_audio_file(path: Path, max_seconds: float) -> MediaInfo:
    """Blocking (runs ffmpeg): call it off the event loop."""
    info = _probe("audio_file", path)
    if not (info.has_audio and info.decodes):
        raise InvalidUpload("audio_file", "the file has no decodable audio stream")
    _check_duration("audio_file", "audio", info, max_seconds)
    return info


def _check_duration(field: str, kind: str, info: MediaInfo, max_seconds: float) -> None:
    if info.duration_s > max_seconds:
        raise InvalidUpload(field, f"the {kind} lasts {info.duration_s:.1f} s; the limit is {max_seconds:g} s")


def _probe(field: str, path: Path, decode_seconds: float = 0.5) -> MediaInfo:
    try:
        return probe_media(path, decode_seconds)
    except MediaError as error:
        raise InvalidUpload(field, error.message) from error
