"""`viseme`, the embedded engine: audio-driven mouth opening rendered with a torch warp. No weights."""

from collections.abc import Sequence
import numpy as np
import torch

from app.pipeline import faces as mesh
from app.pipeline.audio_features import mouth_openness
from app.pipeline.engines.base import EngineAvailability, EngineOptions
from app.pipeline.faces import FaceLandmarks
from app.pipeline.mouth_warp import MouthParams, open_mouths
from app.pipeline.yuv import YuvBatch

# Widest opening between the lips, as a fraction of the mouth's width (about a relaxed "ah").
_MAX_OPENING = 0.4
# The jaw cannot drop further than this fraction of the mouth-to-chin distance.
_MAX_OPENING_OF_CHIN = 0.6
# Below this openness the frame is left as it is.
_MIN_OPENNESS = 0.02
# Outer share of the crop over which the render fades into the original frame.
_FEATHER = 0.08


class VisemeEngine:
    def __init__(self, device: torch.device) -> None:
        self._device = device

    def audio_features(
        self, samples: np.ndarray, sample_rate: int, fps: float, frame_count: int
    ) -> np.ndarray:
        return mouth_openness(samples, sample_rate, fps, frame_count)

    def render(
        self, frames: YuvBatch, faces: Sequence[FaceLandmarks | None], features: np.ndarray
    ) -> YuvBatch:
        active = [i for i, face in enumerate(faces) if face is not None and features[i] > _MIN_OPENNESS]
        if not active:
            return frames
        geometry = np.stack([_mouth_geometry(faces[i]) for i in active])
        openness = features[active].astype(np.float32)
        side = _window_side(geometry, openness, frames.height, frames.width)
        origins = _window_origins(geometry, openness, side, frames.height, frames.width)
        crops = np.stack([
            frames.rgb(i, (x, y, x + side[1], y + side[0])) for i, (x, y) in zip(active, origins)
        ])
        rendered, alpha = self._render_crops(crops, geometry, openness, origins)
        for (x, y), index, crop, weight in zip(origins, active, rendered, alpha):
            frames.paste(index, x, y, crop, weight)
        return frames

    def _render_crops(
        self, crops: np.ndarray, geometry: np.ndarray, openness: np.ndarray, origins: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """RGB crops (n, h, w, 3) -> (rendered RGB 0..255, paste weights 0..1 of shape (n, h, w))."""
        to_tensor = lambda array: torch.from_numpy(np.ascontiguousarray(array)).to(self._device)
        with torch.inference_mode():
            images = to_tensor(crops).permute(0, 3, 1, 2).float() / 255
            geo = to_tensor(geometry)
            params = MouthParams(
                center=geo[:, 0:2] - to_tensor(origins.astype(np.float32)),
                along=geo[:, 2:4],
                half_width=geo[:, 4],
                chin_depth=geo[:, 5],
                lip_depth=geo[:, 6],
                opening=to_tensor(_opening_pixels(geometry, openness)),
            )
            opened, changed = open_mouths(images, params)
            # Only changed pixels are written back (a colour round trip would nudge the rest).
            weights = _feather_mask(images.shape[2], images.shape[3], images.device)[:, 0] * _grow(changed)
            rendered = (opened * 255).permute(0, 2, 3, 1)
            return rendered.cpu().numpy(), weights.cpu().numpy()


def _grow(mask: torch.Tensor) -> torch.Tensor:
    """Widen a (B, H, W) mask by a pixel so that resampled edges are written back too."""
    return torch.nn.functional.max_pool2d(mask[:, None], 3, stride=1, padding=1)[:, 0]


def _mouth_geometry(face: FaceLandmarks) -> np.ndarray:
    """[mouth line x, y, along x, y, half width, chin depth, lip depth] of one face, in frame pixels."""
    corner_a, corner_b = face.point(mesh.MOUTH_CORNER_A), face.point(mesh.MOUTH_CORNER_B)
    # The mouth opens at the lower lip's inner edge: the upper lip (and teeth shown in a smile) stay.
    center = face.point(mesh.LOWER_LIP_INNER)
    along = corner_b - corner_a
    half_width = max(float(np.linalg.norm(along)) / 2, 1.0)
    along = along / (2 * half_width)
    chin_depth = max(float(np.linalg.norm(face.point(mesh.CHIN) - center)), 2.0)
    lip_depth = max(float(np.linalg.norm(face.point(mesh.LOWER_LIP_OUTER) - center)), 1.0)
    return np.array([*center, *along, half_width, chin_depth, lip_depth], dtype=np.float32)


def _opening_pixels(geometry: np.ndarray, openness: np.ndarray) -> np.ndarray:
    widest = np.minimum(_MAX_OPENING * 2 * geometry[:, 4], _MAX_OPENING_OF_CHIN * geometry[:, 5])
    return (openness * widest).astype(np.float32)


def _window_reach(geometry: np.ndarray, openness: np.ndarray) -> np.ndarray:
    """Per frame, how far the changed area reaches from the mouth centre: [left, up, right, down].

    The area is the jaw's rectangle in face coordinates (across the mouth: 2.4 half widths each
    side; down: to below the chin; up: just over the lower lip, nothing above it moves) turned
    with the head, plus room for the feathered edge.
    """
    along = geometry[:, 2:4]
    down = np.stack([-along[:, 1], along[:, 0]], axis=1)
    down *= np.where(down[:, 1:] < 0, -1, 1)
    across = 2.4 * geometry[:, 4:5]
    lowest = 1.8 * geometry[:, 5:6] + _opening_pixels(geometry, openness)[:, None]
    highest = -(geometry[:, 6:7] + 4)
    corners = np.stack([
        sign * across * along + depth * down for sign in (-1, 1) for depth in (highest, lowest)
    ])
    low, high = corners.min(axis=0), corners.max(axis=0)
    return np.concatenate([-low, high], axis=1) / (1 - 2 * _FEATHER)


def _window_side(geometry: np.ndarray, openness: np.ndarray, height: int, width: int) -> tuple[int, int]:
    """One window size (rows, columns) for the chunk, covering every frame's reach; even sizes."""
    left, up, right, down = _window_reach(geometry, openness).max(axis=0)
    rows = 2 * int(np.ceil((up + down) / 2)) + 2
    cols = 2 * int(np.ceil((left + right) / 2)) + 2
    return min(rows, height), min(cols, width)


def _window_origins(
    geometry: np.ndarray, openness: np.ndarray, side: tuple[int, int], height: int, width: int
) -> np.ndarray:
    """Even top-left corners placing each mouth's reach inside its window, kept inside the frame."""
    left, up, right, down = _window_reach(geometry, openness).max(axis=0)
    spare_x, spare_y = (side[1] - left - right) / 2, (side[0] - up - down) / 2
    x = np.clip(np.round((geometry[:, 0] - left - spare_x) / 2) * 2, 0, width - side[1])
    y = np.clip(np.round((geometry[:, 1] - up - spare_y) / 2) * 2, 0, height - side[0])
    return np.stack([x, y], axis=1).astype(int)


def _feather_mask(height: int, width: int, device: torch.device) -> torch.Tensor:
    """1 inside, falling linearly to 0 over the outer `_FEATHER` of each side."""
    ramp_y = torch.clamp(torch.minimum(torch.arange(height), torch.arange(height).flip(0)) / (_FEATHER * height), 0, 1)
    ramp_x = torch.clamp(torch.minimum(torch.arange(width), torch.arange(width).flip(0)) / (_FEATHER * width), 0, 1)
    return (ramp_y[:, None] * ramp_x[None, :]).to(device)[None, None]


class VisemeSpec:
    name = "viseme"
    description = (
        "Embedded engine: mediapipe face mesh, mouth opening driven by the speech band energy, "
        "torch warp of the lips and jaw with a synthesized mouth interior. Needs no weights."
    )

    def availability(self, options: EngineOptions) -> EngineAvailability:
        return EngineAvailability(available=True)

    def load(self, options: EngineOptions, device: torch.device) -> VisemeEngine:
        return VisemeEngine(device)
