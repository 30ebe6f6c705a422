"""Measuring a finished output: its frames read in chunks and tracked as the render tracks them,
the mouth's opening compared with the speech envelope."""

import logging
import math
import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.errors import MediaError
from app.logs import log_event
from app.pipeline.face.tracking import FaceTracker
from app.pipeline.media.audio import SAMPLE_RATE, decode_audio
from app.pipeline.media.frame_reader import read_frames
from app.pipeline.media.probe import probe_media
from app.pipeline.media.yuv import FrameFormat
from app.pipeline.quality.report import MIN_SPEECH_S, QualityReport
from app.pipeline.quality.signals import Alignment, best_alignment, mouth_opening, speech_envelope, speech_seconds

logger = logging.getLogger(__name__)

# Offsets searched either way (SyncNet's evaluation searches ±15 frames at 25 fps, 600 ms; an
# output of this service is either in sync or off by the engine's anticipation).
MAX_OFFSET_S = 0.2
# Raw frames decoded at once are capped at this size, whatever the resolution.
_CHUNK_BYTES = 24 * 1024 * 1024


@dataclass(frozen=True)
class MouthTrack:
    """Per output frame, the mouth opening (NaN where no face was found), and the frame rate."""

    opening: np.ndarray
    fps: float


def measure_quality(
    video: Path,
    audio: Path,
    max_seconds: float = 600.0,
    face_detect_interval: int = 8,
    landmark_step: int = 1,
    face_point: tuple[float, float] | None = None,
) -> QualityReport:
    """The quality report of a lip-synced `video` heard with `audio` (the output itself will do:
    its sound track is read). Blocking; memory is one chunk of frames and the decoded audio.
    Raises MediaError where either cannot be decoded.

    `landmark_step` over 1 tracks every n-th frame and interpolates between (faster; a mouth
    that opens for a single frame is missed). `face_point` is the job's face choice: the face
    whose mouth is measured."""
    started = time.perf_counter()
    mouths = track_mouths(video, max_seconds, face_detect_interval, landmark_step, face_point)
    samples = decode_audio(audio, max_seconds)
    frame_count = len(mouths.opening)
    # Frames past the audio's end hear silence, as they do in the output.
    needed = math.ceil(frame_count / mouths.fps * SAMPLE_RATE)
    heard = np.pad(samples[:needed], (0, max(0, needed - len(samples))))
    speech_s = speech_seconds(heard, SAMPLE_RATE)
    best = Alignment(0.0, 0)
    # Without speech there is nothing to be in sync with: a score of noise would mean nothing.
    if speech_s >= MIN_SPEECH_S:
        envelope = speech_envelope(heard, SAMPLE_RATE, mouths.fps, frame_count)
        best = best_alignment(mouths.opening, envelope, int(MAX_OFFSET_S * mouths.fps))
    face_share = float(np.mean(~np.isnan(mouths.opening))) if frame_count else 0.0
    report = QualityReport.judged(
        sync_score=max(0.0, best.correlation),
        offset_ms=1000.0 * best.offset_frames / mouths.fps,
        face_frames=face_share,
        speech_s=speech_s,
    )
    log_event(
        logger,
        "quality.measured",
        frames=frame_count,
        sync_score=round(report.sync_score, 3),
        offset_ms=round(report.offset_ms),
        face_frames=round(face_share, 3),
        speech_s=round(report.speech_s, 2),
        duration_s=time.perf_counter() - started,
    )
    return report


def track_mouths(
    video: Path,
    max_seconds: float = 600.0,
    face_detect_interval: int = 8,
    landmark_step: int = 1,
    face_point: tuple[float, float] | None = None,
) -> MouthTrack:
    """The mouth opening of every frame of `video`, read a chunk at a time."""
    info = probe_media(video, decode_seconds=0)
    if not info.has_video or info.fps <= 0 or info.width <= 0:
        raise MediaError("the video has no decodable video stream")
    fmt = FrameFormat.for_source(info.width, info.height, info.fps, info.color_matrix)
    chunk_frames = max(1, _CHUNK_BYTES // fmt.frame_bytes)
    # The header's duration may be short by a frame or two: ask for a second more, the reader
    # stops at the stream's end.
    count = math.ceil((min(info.duration_s, max_seconds) + 1.0) * fmt.fps)
    tracker = FaceTracker(face_detect_interval, landmark_step, face_point)
    openings: list[float] = []
    with closing(read_frames(video, fmt, 0, count, chunk_frames)) as chunks:
        for frames in chunks:
            openings.extend(mouth_opening(face) if face is not None else math.nan for face in tracker.track(frames))
    frames_cap = math.floor(max_seconds * fmt.fps)
    return MouthTrack(np.array(openings[:frames_cap], np.float64), fmt.fps)
