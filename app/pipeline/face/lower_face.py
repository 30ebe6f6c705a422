"""Where a generated lower face may be blended in: nothing from the nose up."""

import numpy as np

from app.pipeline.face import tracking
from app.pipeline.face.tracking import FaceLandmarks


def below_nose_weights(face: FaceLandmarks, y0: int, height: int) -> np.ndarray:
    """(height,) float32 weights for the frame rows y0 .. y0 + height: 0 from the nose's base up,
    rising smoothly (no kink at either end) to 1 at the upper lip's outer edge and below."""
    nose_row = face.point(tracking.NOSE_BOTTOM)[1] - y0
    lip_row = face.point(tracking.UPPER_LIP_OUTER)[1] - y0
    rows = np.arange(height, dtype=np.float32)
    return smoothstep((rows - nose_row) / max(lip_row - nose_row, 1.0))


def smoothstep(x: np.ndarray) -> np.ndarray:
    """0 below 0, 1 above 1, an S-curve between."""
    x = np.clip(x, 0, 1)
    return (x * x * (3 - 2 * x)).astype(np.float32)
