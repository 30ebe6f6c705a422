"""`viseme`, the embedded engine: mouth shapes from speech sounds, drawn with a torch warp. No weights.

Per frame the audio gives a target shape (jaw, width, rounding, closure; see `visemes`). The
source's own lips are measured from the landmarks, and the warp moves them by the difference,
so a mouth that speaks in the source video is also closed where the new audio is silent.
"""

from collections.abc import Sequence

import numpy as np
import torch

from app.pipeline import faces as mesh
from app.pipeline.engines.base import EngineAvailability, EngineOptions
from app.pipeline.faces import FaceLandmarks
from app.pipeline.mouth_warp import MouthParams, open_mouths
from app.pipeline.visemes import mouth_parameters, warm_up_recognizer
from app.pipeline.yuv import YuvBatch

# Widest gap between the lips, as a fraction of the mouth's width (about a relaxed "ah").
_MAX_OPENING = 0.55
# The jaw cannot drop further than this fraction of the mouth-to-chin distance.
_MAX_OPENING_OF_CHIN = 0.7
# Each corner moves out (spread) or in (rounded) by up to this fraction of the mouth's width.
_MAX_WIDEN = 0.1
# A source gap this wide (share of the mouth width) already shows its own teeth or interior.
_OPEN_SOURCE = 0.08
# Movements smaller than this (pixels) leave the frame as it is.
_MIN_MOTION_PX = 0.5
# Outer share of the crop over which the render fades into the original frame.
_FEATHER = 0.08

# Columns of the per-frame geometry array, in frame pixels.
CX, CY, ALONG_X, ALONG_Y, HALF_WIDTH, CHIN, LOWER_LIP, UPPER_LIP, UPPER_REACH, SOURCE_GAP = range(10)


class VisemeEngine:
    def __init__(self, device: torch.device) -> None:
        self._device = device
        warm_up_recognizer()

    def audio_features(
        self, samples: np.ndarray, sample_rate: int, fps: float, frame_count: int
    ) -> np.ndarray:
        """(frame_count, 4): jaw, width, rounding, closure."""
        return mouth_parameters(samples, sample_rate, fps, frame_count)

    def render(
        self, frames: YuvBatch, faces: Sequence[FaceLandmarks | None], features: np.ndarray
    ) -> YuvBatch:
        present = [i for i, face in enumerate(faces) if face is not None]
        if not present:
            return frames
        geometry = np.stack([mouth_geometry(faces[i]) for i in present])
        motion = mouth_motion(geometry, features[present])
        moving = np.abs(motion[:, :2]).max(axis=1) > _MIN_MOTION_PX
        if not moving.any():
            return frames
        active = [i for i, keep in zip(present, moving) if keep]
        geometry, motion = geometry[moving], motion[moving]
        side = _window_side(geometry, motion, frames.height, frames.width)
        origins = _window_origins(geometry, motion, side, frames.height, frames.width)
        crops = np.stack([
            frames.rgb(i, (x, y, x + side[1], y + side[0])) for i, (x, y) in zip(active, origins)
        ])
        rendered, alpha = self._render_crops(crops, geometry, motion, origins)
        for (x, y), index, crop, weight in zip(origins, active, rendered, alpha):
            frames.paste(index, x, y, crop, weight)
        return frames

    def _render_crops(
        self, crops: np.ndarray, geometry: np.ndarray, motion: np.ndarray, origins: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """RGB crops (n, h, w, 3) -> (rendered RGB 0..255, paste weights 0..1 of shape (n, h, w))."""
        to_tensor = lambda array: torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32)).to(self._device)
        with torch.inference_mode():
            images = torch.from_numpy(crops).to(self._device).permute(0, 3, 1, 2).float() / 255
            geo, moves = to_tensor(geometry), to_tensor(motion)
            params = MouthParams(
                center=geo[:, CX:CY + 1] - to_tensor(origins),
                along=geo[:, ALONG_X:ALONG_Y + 1],
                half_width=geo[:, HALF_WIDTH],
                chin_depth=geo[:, CHIN],
                lip_depth=geo[:, LOWER_LIP],
                upper_depth=geo[:, UPPER_LIP],
                upper_reach=geo[:, UPPER_REACH],
                opening=moves[:, 0],
                widen=moves[:, 1],
                rounding=moves[:, 2],
                split=moves[:, 3],
                teeth=moves[:, 4],
            )
            opened, changed = open_mouths(images, params)
            # Only changed pixels are written back (a colour round trip would nudge the rest).
            weights = _feather_mask(images.shape[2], images.shape[3], images.device)[:, 0] * _grow(changed)
            rendered = (opened * 255).permute(0, 2, 3, 1)
            return rendered.cpu().numpy(), weights.cpu().numpy()


def mouth_geometry(face: FaceLandmarks) -> np.ndarray:
    """The columns above for one face: mouth line, its direction and size, lip and chin depths."""
    corner_a, corner_b = face.point(mesh.MOUTH_CORNER_A), face.point(mesh.MOUTH_CORNER_B)
    # The mouth opens at the lower lip's inner edge: the upper lip (and teeth in a smile) stay.
    center = face.point(mesh.LOWER_LIP_INNER)
    along = corner_b - corner_a
    half_width = max(float(np.linalg.norm(along)) / 2, 1.0)
    distance = lambda index: float(np.linalg.norm(face.point(index) - center))
    upper_lip = max(distance(mesh.UPPER_LIP_OUTER), 2.0)
    # The rising upper lip pulls skin up to 2.5 lip heights, never closer than 70 % of the way to the nose.
    upper_reach = max(min(2.5 * upper_lip, 0.7 * distance(mesh.NOSE_BOTTOM)), 1.0)
    source_gap = float(np.linalg.norm(face.point(mesh.UPPER_LIP_INNER) - center))
    return np.array([
        *center, *(along / (2 * half_width)), half_width, max(distance(mesh.CHIN), 2.0),
        max(distance(mesh.LOWER_LIP_OUTER), 1.0), upper_lip, upper_reach, source_gap,
    ], dtype=np.float32)


def mouth_motion(geometry: np.ndarray, features: np.ndarray) -> np.ndarray:
    """Per frame [opening px, widen px, rounding, split px, teeth]: target minus what the source shows.

    `opening` is the wanted gap between the lips minus the source's own gap, so a speaking
    source is closed on silence and m/b/p, and opened further on open vowels. An opening parts
    in the middle of the source's gap (between the teeth rows of a smile); drawn teeth appear
    only where the source shows none of its own.
    """
    mouth_width = 2 * geometry[:, HALF_WIDTH]
    source_gap = geometry[:, SOURCE_GAP]
    widest = np.minimum(_MAX_OPENING * mouth_width, _MAX_OPENING_OF_CHIN * geometry[:, CHIN])
    wanted_gap = np.clip(features[:, 0], 0, 1) * widest
    opening = wanted_gap - source_gap
    widen = np.clip(features[:, 1], -1, 1) * _MAX_WIDEN * mouth_width
    split = np.where(opening > 0, source_gap / 2, 0.0)
    teeth = np.clip(1 - source_gap / (_OPEN_SOURCE * mouth_width), 0, 1)
    return np.stack([opening, widen, np.clip(features[:, 2], 0, 1), split, teeth], axis=1).astype(np.float32)


def _grow(mask: torch.Tensor) -> torch.Tensor:
    """Widen a (B, H, W) mask by a pixel so that resampled edges are written back too."""
    return torch.nn.functional.max_pool2d(mask[:, None], 3, stride=1, padding=1)[:, 0]


def _window_reach(geometry: np.ndarray, motion: np.ndarray) -> np.ndarray:
    """Per frame, how far the changed area reaches from the mouth centre: [left, up, right, down].

    The area is a rectangle in face coordinates (across: 2.4 half widths each side; down: below
    the chin; up: to where the upper lip stops pulling) turned with the head, plus room for the
    feathered edge.
    """
    along = geometry[:, ALONG_X:ALONG_Y + 1]
    down = np.stack([-along[:, 1], along[:, 0]], axis=1)
    down *= np.where(down[:, 1:] < 0, -1, 1)
    across = 2.4 * geometry[:, HALF_WIDTH:HALF_WIDTH + 1] + np.abs(motion[:, 1:2])
    lowest = 1.8 * geometry[:, CHIN:CHIN + 1] + np.clip(motion[:, 0:1], 0, None)
    highest = -(np.maximum(geometry[:, UPPER_REACH:UPPER_REACH + 1], geometry[:, SOURCE_GAP:SOURCE_GAP + 1]) + 4)
    corners = np.stack([
        sign * across * along + depth * down for sign in (-1, 1) for depth in (highest, lowest)
    ])
    low, high = corners.min(axis=0), corners.max(axis=0)
    return np.concatenate([-low, high], axis=1) / (1 - 2 * _FEATHER)


def _window_side(geometry: np.ndarray, motion: np.ndarray, height: int, width: int) -> tuple[int, int]:
    """One window size (rows, columns) for the chunk, covering every frame's reach; even sizes."""
    left, up, right, down = _window_reach(geometry, motion).max(axis=0)
    rows = 2 * int(np.ceil((up + down) / 2)) + 2
    cols = 2 * int(np.ceil((left + right) / 2)) + 2
    return min(rows, height), min(cols, width)


def _window_origins(
    geometry: np.ndarray, motion: np.ndarray, side: tuple[int, int], height: int, width: int
) -> np.ndarray:
    """Even top-left corners placing each mouth's reach inside its window, kept inside the frame."""
    left, up, right, down = _window_reach(geometry, motion).max(axis=0)
    spare_x, spare_y = (side[1] - left - right) / 2, (side[0] - up - down) / 2
    x = np.clip(np.round((geometry[:, CX] - left - spare_x) / 2) * 2, 0, width - side[1])
    y = np.clip(np.round((geometry[:, CY] - up - spare_y) / 2) * 2, 0, height - side[0])
    return np.stack([x, y], axis=1).astype(int)


def _feather_mask(height: int, width: int, device: torch.device) -> torch.Tensor:
    """1 inside, falling linearly to 0 over the outer `_FEATHER` of each side."""
    ramp_y = torch.clamp(torch.minimum(torch.arange(height), torch.arange(height).flip(0)) / (_FEATHER * height), 0, 1)
    ramp_x = torch.clamp(torch.minimum(torch.arange(width), torch.arange(width).flip(0)) / (_FEATHER * width), 0, 1)
    return (ramp_y[:, None] * ramp_x[None, :]).to(device)[None, None]


class VisemeSpec:
    name = "viseme"
    # Cheap to load: loaded when the service starts, so no request waits on it.
    preload = True
    description = (
        "Embedded engine: mediapipe's face detection and face-mesh models; mouth shapes from "
        "recognised speech sounds (pocketsphinx phones mapped to visemes, with the speech energy "
        "as fallback); torch warp of the lips and jaw with drawn teeth and mouth interior. "
        "Needs no weights."
    )

    def availability(self, options: EngineOptions) -> EngineAvailability:
        return EngineAvailability(available=True)

    def load(self, options: EngineOptions, device: torch.device) -> VisemeEngine:
        return VisemeEngine(device)
