"""Index the start of the source by mouth shape, for engines that replay the source's own mouths.

Only a source that talks is worth it: a quick look at every few frames (`source_talks`, run
while the audio is decoded and recognised) measures how much the mouth moves, and only then are
the frames read, tracked and kept (`index_source_mouths`; see `render.own_mouths`).
"""

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np

from app.errors import TaskCancelled
from app.pipeline.face.tracking import FaceTracker
from app.pipeline.media.frame_reader import read_frames
from app.pipeline.media.yuv import FrameFormat
from app.pipeline.render.own_mouths import MouthBank, mouth_shape

# Source frames from this far in, or past this many, are not indexed (bounds the work and the
# memory: a sample is at most 240 x 210 pixels, 150 kB).
_INDEXED_SECONDS = 12.0
_MAX_INDEXED_FRAMES = 360
# The quick look tracks this many frames (at most every third) spread over the source's first
# seconds: a source that talks does so early.
_LOOKS = 16
_MIN_LOOK_STRIDE = 3
_LOOK_SECONDS = 4.0
# A source talks when its mouth gap (over the mouth width) spans this much between its 10th
# and 90th percentiles. The face mesh's reading of a still photo filmed by a moving camera
# jitters by up to 0.14 (an open mouth, a moustache); a talking mouth spans 0.2-0.4 (closed
# on m/b/p, open on vowels). A still taken for a talking source would replay its one mouth.
_TALKING_SPAN = 0.15
_SPAN_PERCENTILES = (10, 90)


def source_talks(
    video: Path,
    fmt: FrameFormat,
    source_frames: int,
    chunk_frames: int,
    face_point: tuple[float, float] | None = None,
) -> bool:
    """Whether the source's mouth moves enough, at a quick look over its first seconds, to be
    worth indexing. `source_frames` (the header's count will do) spreads the look over a short clip."""
    count = max(1, min(source_frames, round(_LOOK_SECONDS * fmt.fps)))
    stride = max(_MIN_LOOK_STRIDE, math.ceil(count / _LOOKS))
    sparse = FrameFormat(fmt.width, fmt.height, fmt.fps / stride, fmt.matrix)
    tracker = FaceTracker(detect_interval=1, face_point=face_point)
    openings = [
        mouth_shape(face).opening
        for frames in read_frames(video, sparse, 0, math.ceil(count / stride), chunk_frames)
        for face in tracker.track(frames)
        if face is not None
    ]
    if len(openings) < 4:
        return False
    low, high = np.percentile(openings, _SPAN_PERCENTILES)
    return high - low >= _TALKING_SPAN


def index_source_mouths(
    video: Path,
    fmt: FrameFormat,
    source_frames: int,
    chunk_frames: int,
    is_cancelled: Callable[[], bool] = lambda: False,
    face_point: tuple[float, float] | None = None,
) -> MouthBank | None:
    """The kept mouths of the source's first frames (None if no face is found in them). A task
    cancelled meanwhile stops between chunks (TaskCancelled)."""
    count = min(source_frames, max(1, round(_INDEXED_SECONDS * fmt.fps)), _MAX_INDEXED_FRAMES)
    tracker = FaceTracker(face_point=face_point)
    bank: MouthBank | None = None
    missed = 0
    for frames in read_frames(video, fmt, 0, count, chunk_frames):
        if is_cancelled():
            raise TaskCancelled("the task was cancelled")
        for index, face in enumerate(tracker.track(frames)):
            if bank is None:
                if face is None:
                    missed += 1
                    continue
                bank = MouthBank.for_face(face)
                for _ in range(missed):
                    bank.add(frames, index, None)
            bank.add(frames, index, face)
    return bank
