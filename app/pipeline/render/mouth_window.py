"""The window a frame's mouth is redrawn in, and the weights that blend the redrawn window back."""

import numpy as np

from app.pipeline.render.mouth_fields import MAX_NECK_STRETCH, NECK_FADE_OF_CHIN
from app.pipeline.render.mouth_geometry import (
    ALONG_X,
    ALONG_Y,
    CHIN,
    CX,
    CY,
    HALF_WIDTH,
    SOURCE_GAP,
    UPPER_REACH,
    face_down,
)

# Outer share of the crop over which the render fades into the original frame.
_FEATHER = 0.08


def _window_reach(geometry: np.ndarray, motion: np.ndarray) -> np.ndarray:
    """Per frame, how far the changed area reaches from the mouth centre: [left, up, right, down].

    The area is a rectangle in face coordinates (across: 2.4 half widths each side; down: below
    the chin; up: to where the upper lip stops pulling) turned with the head, plus room for the
    feathered edge.
    """
    along = geometry[:, ALONG_X : ALONG_Y + 1]
    down = face_down(geometry)
    across = 2.4 * geometry[:, HALF_WIDTH : HALF_WIDTH + 1] + np.abs(motion[:, 1:2])
    chin = geometry[:, CHIN : CHIN + 1]
    neck = np.maximum(NECK_FADE_OF_CHIN * chin, np.clip(-motion[:, 0:1], 0, None) / MAX_NECK_STRETCH)
    lowest = chin + neck + 0.1 * chin + np.clip(motion[:, 0:1], 0, None)
    highest = -(np.maximum(geometry[:, UPPER_REACH : UPPER_REACH + 1], geometry[:, SOURCE_GAP : SOURCE_GAP + 1]) + 4)
    corners = np.stack([sign * across * along + depth * down for sign in (-1, 1) for depth in (highest, lowest)])
    low, high = corners.min(axis=0), corners.max(axis=0)
    return np.concatenate([-low, high], axis=1) / (1 - 2 * _FEATHER)


def window_side(geometry: np.ndarray, motion: np.ndarray, height: int, width: int) -> tuple[int, int]:
    """One window size (rows, columns) for the chunk, covering every frame's reach; even sizes."""
    left, up, right, down = _window_reach(geometry, motion).max(axis=0)
    rows = 2 * int(np.ceil((up + down) / 2)) + 2
    cols = 2 * int(np.ceil((left + right) / 2)) + 2
    return min(rows, height), min(cols, width)


def window_origins(
    geometry: np.ndarray, motion: np.ndarray, side: tuple[int, int], height: int, width: int
) -> np.ndarray:
    """Even top-left corners placing each mouth's reach inside its window, kept inside the frame."""
    left, up, right, down = _window_reach(geometry, motion).max(axis=0)
    spare_x, spare_y = (side[1] - left - right) / 2, (side[0] - up - down) / 2
    x = np.clip(np.round((geometry[:, CX] - left - spare_x) / 2) * 2, 0, width - side[1])
    y = np.clip(np.round((geometry[:, CY] - up - spare_y) / 2) * 2, 0, height - side[0])
    return np.stack([x, y], axis=1).astype(int)


def feather_mask(height: int, width: int) -> np.ndarray:
    """(H, W) float32: 1 inside, falling linearly to 0 over the outer `_FEATHER` of each side."""
    ramp = lambda size: np.clip(np.minimum(np.arange(size), np.arange(size)[::-1]) / (_FEATHER * size), 0, 1)
    return (ramp(height)[:, None] * ramp(width)[None, :]).astype(np.float32)
