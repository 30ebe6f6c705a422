"""Which face to lip-sync in each shot: the largest (`largest`), or the one that talks (`auto`).

`auto` makes a first pass over the source frames the output shows, before rendering: every
frame's thumbnail goes to the cut detector (`shots`), and up to ten frames a second of each shot
are searched for every face, whose mouth opening the face mesh reads (`face_tracks`). In each
shot the speaker is the face whose mouth opening follows the video's own audio track best (its
speech envelope, at the best lag within ±0.2 s); failing that (no audio track, a silent one, a
shot too short to correlate, or no mouth that follows it), the face whose mouth moves most if one
does, else the largest. The tracker is then given, for every frame it tracks, its shot and the
speaker's place in it (`SpeakerPath`): it picks the face again at each shot change and leaves
frames without the speaker alone.
"""

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import numpy as np

from app.errors import MediaError, TaskCancelled
from app.logs import log_event
from app.pipeline.face.detection import FaceDetector
from app.pipeline.face.face_tracks import FaceTrack, ShotFaces
from app.pipeline.face.mesh import FaceMeshModel
from app.pipeline.face.shots import CutDetector, thumbnail
from app.pipeline.media.audio import SAMPLE_RATE, decode_audio
from app.pipeline.media.frame_reader import read_frames
from app.pipeline.media.probe import probe_media
from app.pipeline.media.yuv import FrameFormat
from app.pipeline.quality.signals import best_alignment, speech_envelope

logger = logging.getLogger(__name__)

# Faces are searched and their mouths read in at most this many frames a second of each shot
# (every third frame at 25 or 30 fps): about 8 ms a look at 720p with one face, on one core.
_ANALYSIS_FPS = 10.0
# The mouth may lead or lag the sound by up to this much (video and audio tracks a little apart).
_MAX_LAG_S = 0.2
# A face seen at fewer than this share of the looks the most seen face of its shot was seen at is a
# passer-by (or a false detection); so is one seen only once in a shot looked at more than once.
_MIN_PRESENCE = 0.5
# The mouth opening (gap over width) of a still face, as the mesh reads it, spans 0.002 between
# its 10th and 90th percentiles in a still shot, 0.01 under a panning and zooming camera (Hopper's
# closed mouth; an open one jitters more, up to 0.14: see `source_mouths`); a talking mouth spans
# 0.25-0.31 here, 0.2-0.4 in general. Only a mouth that moves more than _MIN_SPAN may follow the
# sound, and the speaker's must follow it by at least _MIN_CORRELATION: a talking face measured
# 0.73-0.92 with its own speech and 0.22 with another's (tests/pipeline/face/test_speaker.py); a
# still face's jitter (a span of 0.002) correlated by chance up to 0.58, which the span rules out.
_MIN_SPAN = 0.08
_MIN_CORRELATION = 0.35
_SPAN_PERCENTILES = (10, 90)


class SpeakerChoice(StrEnum):
    """Which face is lip-synced where a video shows several (an explicit face_point wins over both)."""

    LARGEST = "largest"
    AUTO = "auto"


@dataclass(frozen=True)
class ShotSpeaker:
    """A shot, source frames [start, end), and its speaker's face box at the first frame it was
    seen (centre (x, y) and width, height in pixels); `center` None: no face to lip-sync there."""

    start: int
    end: int
    center: np.ndarray | None
    size: np.ndarray | None
    # How the speaker was chosen: "speech" (its mouth follows the audio), "movement", "largest", "none".
    reason: str


class SpeakerPath:
    """For the tracker: the shot of each frame it tracks, and where the speaker is in that shot.
    `order` is the source frame shown at each tracked frame (the output plan's order)."""

    def __init__(self, shots: list[ShotSpeaker], order: np.ndarray) -> None:
        self._shots = shots
        self._starts = np.array([shot.start for shot in shots])
        self._order = np.asarray(order)

    def at(self, position: int) -> tuple[int, np.ndarray | None]:
        """The shot of the `position`-th tracked frame, and the speaker's centre there (None: none)."""
        source = self._order[min(position, len(self._order) - 1)]
        shot = max(0, int(np.searchsorted(self._starts, source, side="right")) - 1)
        return shot, self._shots[shot].center


def speaker_path(
    choice: SpeakerChoice,
    face_point: tuple[float, float] | None,
    video: Path,
    fmt: FrameFormat,
    order: np.ndarray,
    chunk_frames: int,
    is_cancelled: Callable[[], bool] = lambda: False,
) -> SpeakerPath | None:
    """The speaker to follow at every output frame (`order`: the source frame each shows), or None
    where the tracker picks one face for the whole video (`largest`, or an explicit face_point)."""
    if choice is SpeakerChoice.LARGEST or face_point is not None:
        return None
    shown = int(order.max()) + 1
    samples = None
    if probe_media(video, decode_seconds=0).has_audio:
        try:
            samples = decode_audio(video, math.ceil(shown / fmt.fps) + 1.0)
        except MediaError as error:  # the output never plays this track: choose by movement alone
            log_event(logger, "pipeline.speakers_unheard", logging.WARNING, reason=str(error))
    shots = find_speakers(video, fmt, shown, chunk_frames, samples, is_cancelled)
    return SpeakerPath(shots, order) if shots else None


def find_speakers(
    video: Path,
    fmt: FrameFormat,
    source_frames: int,
    chunk_frames: int,
    samples: np.ndarray | None,
    is_cancelled: Callable[[], bool] = lambda: False,
) -> list[ShotSpeaker]:
    """The speaker of every shot of the first `source_frames` frames; `samples` is the video's own
    sound (16 kHz mono), None where it has none."""
    started = time.perf_counter()
    stride = max(1, math.ceil(fmt.fps / _ANALYSIS_FPS))
    detector, mesh, cuts = FaceDetector(), FaceMeshModel(), CutDetector()
    shots: list[ShotFaces] = []
    done = 0
    for frames in read_frames(video, fmt, 0, source_frames, chunk_frames):
        if is_cancelled():
            raise TaskCancelled("the task was cancelled")
        for index in range(len(frames)):
            if cuts.starts_shot(thumbnail(frames, index)) or not shots:
                shots.append(ShotFaces(done + index))
            shot = shots[-1]
            if (done + index - shot.start) % stride == 0:
                shot.look(frames, index, done + index, detector, mesh)
        done += len(frames)
    envelope = speech_envelope(samples, SAMPLE_RATE, fmt.fps, done) if samples is not None else None
    ends = [shot.start for shot in shots[1:]] + [done]
    speakers = [
        _speaker(shot, end, envelope, max(1, round(_MAX_LAG_S * fmt.fps / stride))) for shot, end in zip(shots, ends)
    ]
    log_event(
        logger,
        "pipeline.speakers",
        shots=len(speakers),
        frames=done,
        analysed_every=stride,
        reasons=",".join(speaker.reason for speaker in speakers),
        duration_s=time.perf_counter() - started,
    )
    return speakers


def _speaker(shot: ShotFaces, end: int, envelope: np.ndarray | None, max_lag: int) -> ShotSpeaker:
    most = max((len(track.frames) for track in shot.tracks), default=0)
    enough = max(_MIN_PRESENCE * most, min(2, shot.looks))
    present = [track for track in shot.tracks if len(track.frames) >= enough]
    if not present:
        return ShotSpeaker(shot.start, end, None, None, "none")
    spans = {id(track): _span(track) for track in present}
    moving = [track for track in present if spans[id(track)] >= _MIN_SPAN]
    if envelope is not None and moving:
        analysed = shot.looked_at
        scores = [
            (best_alignment(track.openings_at(analysed), envelope[analysed], max_lag).correlation, track)
            for track in moving
        ]
        correlation, talker = max(scores, key=lambda scored: scored[0])
        if correlation >= _MIN_CORRELATION:
            return _chosen(shot, end, talker, "speech")
    if moving:
        return _chosen(shot, end, max(moving, key=lambda track: spans[id(track)]), "movement")
    return _chosen(shot, end, max(present, key=lambda track: float(np.prod(track.sizes[0]))), "largest")


def _chosen(shot: ShotFaces, end: int, track: FaceTrack, reason: str) -> ShotSpeaker:
    return ShotSpeaker(shot.start, end, track.centers[0], track.sizes[0], reason)


def _span(track: FaceTrack) -> float:
    low, high = np.percentile(track.openings, _SPAN_PERCENTILES)
    return float(high - low)
