"""Where LatentSync looks: the face warped upright to a fixed template, as the reference's
`ImageProcessor.affine_transform` and `AlignRestore` (`latentsync/utils/image_processor.py`,
`latentsync/utils/affine_transform.py`, after StyleSync) do it.

Three anchor points, the two eyebrow centres and the nose centre, are fitted to a template by a
similarity transform (Umeyama's least squares on the points scaled to unit spread). The
transform's translation is then nudged by the nose's residual in those unit coordinates, averaged
over frames (80 % this frame, 20 % the running value): the reference's smoothing, whose state
(`AlignmentTrack`) lives as long as the face is followed. The frame is sampled bilinearly into a
420x560 (width x height) crop, grey (127) outside the frame, truncated to bytes and resized to
512x512 with Lanczos, which stretches the face vertically as the network was trained.

The reference finds the anchors with insightface's 106 landmarks (2d106det). Their order is not
documented; it reads as Face++'s 106 point names sorted alphabetically (which explains the
reference's order 43, 48, 49, 51, 50, and puts the mouth corners at 52 and 61 as other users of
the model find them). Then 43, 48, 49, 51, 50 are the image-left brow's outer corner and its upper
outline to the inner upper corner, 101-105 the same five points of the other brow, and 74, 77,
83, 86 the nose bridge's lowest point, the widest point of each nostril wing and the tip. The
same points are taken from our face mesh (`_LEFT_BROW`, `_RIGHT_BROW`, `_NOSE`); that they are
where insightface puts them was not measured (its model is not used here). Like the reference,
the anchors are rounded to whole pixels.

The warp is kornia's `warp_affine` (bilinear, corners aligned, zero padding plus the fill colour
weighted by the part of the sample outside the frame) with `grid_sample`, in single precision:
the reference runs it in half precision on its GPU, matrix included (a sub-pixel shift), which is
not copied.
"""

from dataclasses import dataclass, field

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from app.pipeline.face.tracking import FaceLandmarks
from app.pipeline.media.yuv import even_box

# The network's face side (pixels) and the crop it is resized from, as AlignRestore(512): a
# 75x100 face template scaled by 512 / 256 * 2.8.
RESOLUTION = 512
_SCALE = RESOLUTION / 256 * 2.8
CROP_WIDTH, CROP_HEIGHT = int(75 * _SCALE), int(100 * _SCALE)
# Where the anchors land in the crop: the brows' centres and the nose's (x, y).
TEMPLATE = np.array([[19 - 2, 30 - 10], [56 + 2, 30 - 10], [37.5, 45 - 5]]) * _SCALE
# The grey of the crop outside the frame.
FILL = 127.0
# Weight of the previous frames' nose residual in the smoothing.
_PREVIOUS_WEIGHT = 0.2

# Face-mesh vertices of each anchor's points; a pair stands for its midpoint. Brows: outer corner
# (the mesh has an upper and a lower one), then the upper outline to the inner upper corner.
_LEFT_BROW: tuple[tuple[int, ...], ...] = ((46, 70), (63,), (105,), (66,), (107,))
_RIGHT_BROW: tuple[tuple[int, ...], ...] = ((276, 300), (293,), (334,), (296,), (336,))
# Lowest bridge point, the nostril wings' widest points, the tip.
_NOSE: tuple[tuple[int, ...], ...] = ((5,), (129,), (358,), (1,))


def anchor_points(face: FaceLandmarks) -> np.ndarray:
    """(3, 2) float64: `anchor_centres` rounded to whole pixels, as the reference."""
    return np.round(anchor_centres(face))


def anchor_centres(face: FaceLandmarks) -> np.ndarray:
    """(3, 2) float64: image-left brow centre, image-right brow centre, nose centre."""
    return np.array([_centre(face, group) for group in (_LEFT_BROW, _RIGHT_BROW, _NOSE)])


def _centre(face: FaceLandmarks, group: tuple[tuple[int, ...], ...]) -> np.ndarray:
    points = face.points.astype(np.float64)
    return np.mean([points[list(vertices)].mean(axis=0) for vertices in group], axis=0)


@dataclass
class AlignmentTrack:
    """The smoothing state of one followed face: the running nose residual. Keep one per face
    track (per task, across chunks). The reference keeps one per video; `reset` when the face is
    lost or the shot changes, where another face's residual would only pull the crop aside."""

    bias: np.ndarray | None = field(default=None)

    def matrix(self, anchors: np.ndarray) -> np.ndarray:
        """(2, 3) float32 affine from frame pixels to crop pixels for `anchors` (3, 2), smoothed
        with the frames before."""
        matrix, self.bias = similarity_to_template(anchors, self.bias)
        return matrix

    def reset(self) -> None:
        self.bias = None


def similarity_to_template(anchors: np.ndarray, bias: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """The reference's `transformation_from_points` with smoothing: ((2, 3) float32 matrix, the
    new running bias)."""
    source = np.asarray(anchors, dtype=np.float64)
    target = TEMPLATE
    source_centred = source - source.mean(axis=0)
    target_centred = target - target.mean(axis=0)
    # Spread as torch.std: over all coordinates, with Bessel's correction.
    source_spread = source_centred.std(ddof=1)
    target_spread = target_centred.std(ddof=1)
    source_unit = source_centred / source_spread
    target_unit = target_centred / target_spread
    u, _, vh = np.linalg.svd(source_unit.T @ target_unit)
    v = vh.T
    rotation = v @ u.T
    if np.linalg.det(rotation) < 0:
        v[:, -1] = -v[:, -1]
        rotation = v @ u.T
    scale = target_spread / source_spread
    translation = target.mean(axis=0) - scale * rotation @ source.mean(axis=0)
    # The nose's residual in unit-spread coordinates, added to a translation in pixels: a quirk
    # of the reference, kept because the network was trained on crops made this way.
    residual = target_unit[2] - source_unit[2]
    if bias is not None:
        residual = bias * _PREVIOUS_WEIGHT + residual * (1 - _PREVIOUS_WEIGHT)
    matrix = np.concatenate([scale * rotation, (translation + residual)[:, None]], axis=1)
    return matrix.astype(np.float32), residual


def frame_box(matrix: np.ndarray, frame_height: int, frame_width: int, margin: int = 1) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1), even corners, clipped to the frame: every frame pixel within `margin`
    pixels of one whose bilinear sample in the crop under `matrix` is not all outside it."""
    to_frame = np.linalg.inv(_homogeneous(matrix))[:2]
    corners = np.array([[-1, -1, 1], [CROP_WIDTH, -1, 1], [-1, CROP_HEIGHT, 1], [CROP_WIDTH, CROP_HEIGHT, 1]])
    points = corners @ to_frame.T
    x0, y0 = np.floor(points.min(axis=0)) - margin
    x1, y1 = np.ceil(points.max(axis=0)) + margin + 1
    return even_box(x0, y0, x1, y1, frame_width, frame_height)


def align_face(frame_rgb: np.ndarray, matrix: np.ndarray, origin: tuple[int, int] = (0, 0)) -> np.ndarray:
    """(512, 512, 3) uint8 RGB: the crop under `matrix` of the frame whose region
    from `origin` (x, y) `frame_rgb` (h, w, 3 uint8) is, truncated to bytes, then resized with
    Lanczos as the reference. With the region `frame_box(matrix, ...)` (or the whole frame) the
    crop is the whole frame's."""
    image = torch.from_numpy(np.ascontiguousarray(frame_rgb)).permute(2, 0, 1)[None].float()
    # Crop pixels to region pixels: to the frame, then less the region's origin.
    to_region = np.array([[1.0, 0.0, -origin[0]], [0.0, 1.0, -origin[1]], [0.0, 0.0, 1.0]])
    to_source = to_region @ np.linalg.inv(_homogeneous(matrix))
    crop = warp_affine(image, to_source, (CROP_HEIGHT, CROP_WIDTH), fill=FILL)
    face = crop[0].permute(1, 2, 0).numpy().astype(np.uint8)
    return cv2.resize(face, (RESOLUTION, RESOLUTION), interpolation=cv2.INTER_LANCZOS4)


def warp_affine(
    source: torch.Tensor,
    target_to_source: np.ndarray,
    size: tuple[int, int],
    origin: tuple[int, int] = (0, 0),
    fill: float | None = None,
) -> torch.Tensor:
    """kornia's `warp_affine` on (n, c, h, w) float `source`, given the inverse map: each target
    pixel (origin x + column, origin y + row) of the (height, width) `size` takes the bilinear
    sample of `source` at `target_to_source` (3, 3) times it, zero outside `source`, plus `fill`
    times the part of the sample that fell outside (when given)."""
    height, width = size
    columns = np.arange(width, dtype=np.float64) + origin[0]
    rows = np.arange(height, dtype=np.float64) + origin[1]
    x = target_to_source[0, 0] * columns[None, :] + target_to_source[0, 1] * rows[:, None] + target_to_source[0, 2]
    y = target_to_source[1, 0] * columns[None, :] + target_to_source[1, 1] * rows[:, None] + target_to_source[1, 2]
    source_height, source_width = source.shape[-2:]
    # Corners aligned: -1 and 1 are the centres of the first and last pixels.
    grid = np.stack([x * 2 / (source_width - 1) - 1, y * 2 / (source_height - 1) - 1], axis=-1)
    grid_tensor = torch.from_numpy(grid).to(source.device, source.dtype)[None].expand(len(source), -1, -1, -1)
    warped = F.grid_sample(source, grid_tensor, mode="bilinear", padding_mode="zeros", align_corners=True)
    if fill is None:
        return warped
    inside = F.grid_sample(
        torch.ones_like(source[:, :1]), grid_tensor, mode="bilinear", padding_mode="zeros", align_corners=True
    )
    return warped + (1 - inside) * fill


def _homogeneous(matrix: np.ndarray) -> np.ndarray:
    return np.vstack([np.asarray(matrix, dtype=np.float64), [0.0, 0.0, 1.0]])
