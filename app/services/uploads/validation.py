"""Upload checks: the container the bytes really are (the label only has to agree with it), and
limits measured on the media itself (a header's duration or frame rate is only a claim).

Every bad field is reported in one answer."""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from app.config import Settings
from app.errors import InvalidFieldValue, InvalidMedia, InvalidUpload, InvalidUploads, MediaError, MediaTooLong
from app.pipeline.media.audio import SAMPLE_RATE, decode_audio
from app.pipeline.media.container import (
    ADTS_AAC,
    AUDIO_CONTAINERS,
    FLAC,
    MATROSKA,
    MP3,
    MP4,
    OGG,
    VIDEO_CONTAINERS,
    WAV,
    Container,
    detect_container,
)
from app.pipeline.media.probe import MediaInfo, probe_media, scan_video_packets
from app.pipeline.segments import Segment, SegmentError, check_segments_fit
from app.pipeline.timeline import SyncMode, plan_output

# Content types a client may put on an upload, and the containers each may label. Browsers and
# tools send several names for one format; m4a/AAC comes raw (ADTS) or in an mp4.
LABELS: dict[str, frozenset[Container]] = {
    **dict.fromkeys(
        ("video/mp4", "video/quicktime", "video/x-m4v", "audio/mp4", "audio/x-m4a", "audio/m4a"), frozenset({MP4})
    ),
    **dict.fromkeys(("video/webm", "audio/webm", "video/x-matroska", "audio/x-matroska"), frozenset({MATROSKA})),
    **dict.fromkeys(("audio/wav", "audio/x-wav", "audio/wave", "audio/vnd.wave"), frozenset({WAV})),
    **dict.fromkeys(("audio/mpeg", "audio/mp3"), frozenset({MP3})),
    **dict.fromkeys(("audio/ogg", "application/ogg", "audio/opus"), frozenset({OGG})),
    **dict.fromkeys(("audio/flac", "audio/x-flac"), frozenset({FLAC})),
    **dict.fromkeys(("audio/aac", "audio/x-aac", "audio/aacp"), frozenset({ADTS_AAC, MP4})),
}
# Labels that say nothing of the format (curl's default, or none): the bytes decide alone.
GENERIC_LABELS = frozenset({"", "application/octet-stream", "binary/octet-stream"})
_KINDS = {"video_file": ("video", VIDEO_CONTAINERS), "audio_file": ("audio", AUDIO_CONTAINERS)}
# The formats each file field takes, as clients name them: the one wording of the refusals here,
# the form's OpenAPI descriptions (app.schemas.processing) and docs/api.md.
ACCEPTED_FORMATS = {
    "video_file": "mp4, quicktime, webm or matroska",
    "audio_file": "wav, mp3, ogg, webm, flac or m4a/aac",
}
# First bytes of the still-image formats people send by mistake (a photo instead of a video).
_IMAGE_SIGNATURES = {
    b"\x89PNG\r\n\x1a\n": "png",
    b"\xff\xd8\xff": "jpeg",
    b"GIF87a": "gif",
    b"GIF89a": "gif",
    b"BM": "bmp",
    b"II*\x00": "tiff",
    b"MM\x00*": "tiff",
}


def _a(name: str) -> str:
    """The article for a format's name as it is read aloud: a wav, an mp4, an audio."""
    return f"an {name}" if name[0] in "aeio" or name.startswith("mp") else f"a {name}"


def what_to_send(field: str) -> str:
    """The advice every refusal of a file ends with: "send a video file (mp4, ...)"."""
    kind, _ = _KINDS[field]
    return f"send {_a(kind)} file ({ACCEPTED_FORMATS[field]})"


def image_format(head: bytes) -> str | None:
    """The still-image format a file's first bytes say it is, if any."""
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    return next((name for signature, name in _IMAGE_SIGNATURES.items() if head.startswith(signature)), None)


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
            settings.max_video_seconds,
            settings.max_video_pixels,
            settings.max_source_fps,
            settings.max_output_fps,
            settings.max_output_frames,
        )

    @property
    def read_seconds(self) -> float:
        """Where decoding stops: just past the length limit."""
        return self.max_seconds + _READ_PAST_LIMIT_S


def _base_type(content_type: str | None) -> str:
    return (content_type or "").split(";")[0].strip().lower()


def check_label(field: str, content_type: str | None) -> None:
    """Refuse a content type that is no media format we read (the bytes are checked later)."""
    label = _base_type(content_type)
    if label not in LABELS and label not in GENERIC_LABELS:
        raise InvalidMedia(
            field,
            f"content type {content_type!r} is not accepted; {what_to_send(field)} "
            "labelled with its type or as application/octet-stream",
        )


@dataclass(frozen=True)
class CheckedInputs:
    media: MediaInfo
    video_container: Container
    audio_container: Container


def check_inputs(
    video: Path,
    audio: Path,
    limits: MediaLimits,
    sync_mode: SyncMode,
    video_type: str | None = None,
    audio_type: str | None = None,
    segments: tuple[Segment, ...] = (),
) -> CheckedInputs:
    """Both uploads checked (blocking: ffmpeg): the video's facts and both containers; the
    segments, if any, inside both. Raises InvalidUpload naming every bad field at once."""
    problems: list[InvalidUpload] = []
    video_checked = _noting(problems, lambda: check_video_file(video, limits, video_type))
    audio_checked = _noting(problems, lambda: check_audio_file(audio, limits, audio_type))
    if len(problems) == 1:
        raise problems[0]
    if problems:
        raise InvalidUploads(problems)
    assert video_checked is not None and audio_checked is not None  # each check raised or answered
    video_container, media = video_checked
    audio_container, audio_seconds = audio_checked
    try:
        check_segments_fit(segments, media.duration_s, audio_seconds)
    except SegmentError as error:
        raise InvalidFieldValue("segments", str(error)) from None
    # With segments the output keeps the video's length, as in `silence`.
    check_output_frames(media, audio_seconds, limits, SyncMode.SILENCE if segments else sync_mode)
    return CheckedInputs(media, video_container, audio_container)


Checked = TypeVar("Checked")


def _noting(problems: list[InvalidUpload], check: Callable[[], Checked]) -> Checked | None:
    try:
        return check()
    except InvalidUpload as problem:
        problems.append(problem)
        return None


def check_video_file(path: Path, limits: MediaLimits, content_type: str | None = None) -> tuple[Container, MediaInfo]:
    """Blocking (runs ffmpeg): call it off the event loop.

    Headers are checked before anything is read further, so a huge declared size costs nothing;
    then the packets are counted up to just past the length limit, whatever the header claims.
    """
    container = _container("video_file", path, content_type)
    header = _probe("video_file", path, decode_seconds=0)
    if not header.has_video:
        raise InvalidMedia("video_file", f"the file has no video stream; {what_to_send('video_file')}")
    if header.width * header.height > limits.max_pixels:
        raise InvalidMedia(
            "video_file",
            f"the resolution {header.width}x{header.height} is over the limit of {limits.max_pixels} pixels; "
            "scale the video down",
        )
    _check_declared_duration("video_file", "video", header, limits.max_seconds)
    try:
        scan = scan_video_packets(path, limits.read_seconds)
    except MediaError as error:
        raise InvalidMedia("video_file", error.message) from error
    _check_read_duration("video_file", "video", scan.duration_s, header, limits.max_seconds)
    real_fps = scan.frames / scan.duration_s if scan.duration_s > 0 else 0.0
    fps = max(header.fps, real_fps)
    if fps > limits.max_source_fps:
        raise InvalidMedia(
            "video_file",
            f"the frame rate {fps:.0f} fps is over the limit of {limits.max_source_fps:g} fps; "
            "re-encode it at a lower rate",
        )
    info = _probe("video_file", path)
    if not (info.decodes and info.frames_decoded > 0 and info.fps > 0):
        raise InvalidMedia("video_file", f"the file has no decodable video stream; {what_to_send('video_file')}")
    return container, info


def check_audio_file(path: Path, limits: MediaLimits, content_type: str | None = None) -> tuple[Container, float]:
    """The audio's container and its length in seconds, measured by decoding it (blocking)."""
    container = _container("audio_file", path, content_type)
    info = _probe("audio_file", path)
    if not (info.has_audio and info.decodes):
        raise InvalidMedia("audio_file", f"the file has no decodable audio stream; {what_to_send('audio_file')}")
    _check_declared_duration("audio_file", "audio", info, limits.max_seconds)
    try:
        seconds = len(decode_audio(path, limits.read_seconds)) / SAMPLE_RATE
    except MediaError as error:
        raise InvalidMedia("audio_file", error.message) from error
    _check_read_duration("audio_file", "audio", seconds, info, limits.max_seconds)
    return container, seconds


def check_output_frames(video: MediaInfo, audio_seconds: float, limits: MediaLimits, sync_mode: SyncMode) -> None:
    """The output's frames as the pipeline will plan them (`sync_mode` decides which input sets
    the length), at the video's rate capped to MAX_OUTPUT_FPS."""
    fps = min(video.fps, limits.max_output_fps)
    source_frames = max(1, round(video.duration_s * fps))
    frames = plan_output(source_frames, audio_seconds, fps, sync_mode).frame_count
    if frames > limits.max_output_frames:
        # In `silence` the output keeps the video's length; in every other mode the audio's bounds it.
        field = "video_file" if sync_mode is SyncMode.SILENCE else "audio_file"
        raise MediaTooLong(
            field,
            f"the output would have {frames} frames ({frames / fps:.1f} s at {fps:g} fps, sync mode "
            f"{sync_mode.value}); send shorter media or another sync mode, "
            f"the limit is {limits.max_output_frames} frames",
        )


def _container(field: str, path: Path, content_type: str | None) -> Container:
    """The container the bytes are, if it is one of the field's kind and agrees with the label."""
    kind, accepted = _KINDS[field]
    check_label(field, content_type)
    try:
        container = detect_container(path)
    except MediaError as error:
        with path.open("rb") as file:
            image = image_format(file.read(16))
        if image is not None:
            raise InvalidMedia(field, f"this is an image ({image}), not {_a(kind)}; {what_to_send(field)}") from None
        raise InvalidMedia(field, f"{error.message}; {what_to_send(field)}") from error
    if container not in accepted:
        raise InvalidMedia(
            field, f"the file has no {kind} stream (it is {_a(container.name)} file); {what_to_send(field)}"
        )
    label = _base_type(content_type)
    if label in LABELS and container not in LABELS[label]:
        raise InvalidMedia(
            field,
            f"the content type says {label} but the bytes are {_a(container.name)} file; "
            "label it with its own type or as application/octet-stream",
        )
    return container


def _check_declared_duration(field: str, kind: str, info: MediaInfo, max_seconds: float) -> None:
    if info.duration_s > max_seconds:
        raise MediaTooLong(
            field, f"the {kind} lasts {info.duration_s:.1f} s; the limit is {max_seconds:g} s: send a shorter {kind}"
        )


def _check_read_duration(field: str, kind: str, seconds: float, header: MediaInfo, max_seconds: float) -> None:
    if seconds > max_seconds:
        raise MediaTooLong(
            field,
            f"the {kind} lasts over {max_seconds:g} s when read (its header claims "
            f"{header.duration_s:.1f} s); the limit is {max_seconds:g} s: send a shorter {kind}",
        )


def _probe(field: str, path: Path, decode_seconds: float = 0.5) -> MediaInfo:
    try:
        return probe_media(path, decode_seconds)
    except MediaError as error:
        raise InvalidMedia(field, error.message) from error
