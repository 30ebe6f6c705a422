"""Shot changes (cuts) in a stream of frames, so that the face to lip-sync is chosen again in each shot.

The rule: every frame is shrunk to a 64-pixel-wide grey thumbnail (area-averaged luma, so noise
and a talking mouth barely register), and a cut lies before a frame whose mean absolute
difference from the previous thumbnail is both over _MIN_CUT_LEVELS grey levels and over
_CUT_RATIO times the median difference of the shot's recent frames. The adaptive part keeps a
camera pan or a walking person (steady, large differences) from reading as a string of cuts; the
absolute part keeps a nearly still shot's compression noise from doing so. The recent
differences are the shot's and its predecessors' (a cut's own is left out), at most 12 frames
back. A fade or dissolve (a gradual change) is not taken as a cut; a flash may be taken as two,
and a fast pan starting in a still shot as one (the face is then only chosen again).
"""

from collections import deque

import cv2
import numpy as np

from app.pipeline.media.yuv import YuvBatch

_THUMBNAIL_WIDTH = 64
# Measured on H.264 test clips (mean absolute difference of consecutive 64-pixel thumbnails):
# two still faces, one talking, 0.03 (0.13 at most); a slow pan and zoom (a 10 s cycle, 720p)
# 2.8 (4.3 at most); a fast one (2 s) 9.2 (14.6 at most); a cut swapping two people's sides 58.
_MIN_CUT_LEVELS = 12.0
_CUT_RATIO = 4.0
_HISTORY = 12
# No cut is seen before this many differences are known (a video opening on a fast pan).
_MIN_HISTORY = 2


def thumbnail(frames: YuvBatch, index: int) -> np.ndarray:
    """Frame `index`'s luma shrunk to 64 pixels wide (float32): slicing first, then area-averaging."""
    luma = frames.planes(index)[0]
    step = max(1, frames.width // (4 * _THUMBNAIL_WIDTH))
    height = max(1, round(_THUMBNAIL_WIDTH * frames.height / frames.width))
    small = cv2.resize(luma[::step, ::step], (_THUMBNAIL_WIDTH, height), interpolation=cv2.INTER_AREA)
    return small.astype(np.float32)


class CutDetector:
    """Fed consecutive frames' thumbnails, tells which ones start a new shot. Not thread-safe."""

    def __init__(self) -> None:
        self._previous: np.ndarray | None = None
        self._recent: deque[float] = deque(maxlen=_HISTORY)

    def starts_shot(self, thumb: np.ndarray) -> bool:
        """Whether the frame of `thumb` starts a shot (the first frame does not: it starts the first)."""
        previous, self._previous = self._previous, thumb
        if previous is None:
            return False
        difference = float(np.abs(thumb - previous).mean())
        known = len(self._recent) >= _MIN_HISTORY
        if known and difference > _MIN_CUT_LEVELS and difference > _CUT_RATIO * float(np.median(self._recent)):
            return True
        self._recent.append(difference)
        return False
