"""The generated face back into the frame, as the reference's `restore_video` and
`AlignRestore.restore_img` (`latentsync/pipelines/lipsync_pipeline.py`,
`latentsync/utils/affine_transform.py`).

The 512x512 face (network pixels, -1..1) is resized to the 420x560 crop with antialiased bicubic
(torchvision's `resize` on a float tensor), warped back by the inverse of its alignment matrix
(grey fill outside the crop) and brought to 0..255. Its weight is the crop's rectangle warped the
same way (bilinear, so fractional on its edge), eroded by 2x2 and multiplied into the face; then
a soft mask: that weight eroded again by a square of 2 * w_edge pixels and blurred by a Gaussian
of 2 * w_edge + 1 taps (OpenCV's sigma for that size), w_edge being a twentieth of the side of a
square of the face's area. The frame gets `soft * face + (1 - soft) * frame`.

The reference computes all of it over the whole frame; here only over a box around the warped
crop: outside it every weight is zero, and the box keeps a band of zero weights inside its edge
so that erosion and blur inside it see what they would see in the whole frame.
"""

from dataclasses import dataclass

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from app.pipeline.engines.latentsync.alignment import (
    CROP_HEIGHT,
    CROP_WIDTH,
    FILL,
    RESOLUTION,
    frame_box,
    warp_affine,
)
from app.pipeline.engines.latentsync.mask import keep_mask

# Zero-weight pixels kept inside the box's edge (see the module's docstring).
_MARGIN = 2
# The generated region's soft edge (Gaussian sigma), as a share of the crop's width.
_REGION_FEATHER = 0.02


@dataclass(frozen=True)
class FacePaste:
    """What to blend into a frame: at even (x0, y0), `rgb` (h, w, 3) float32 0..255 with weights
    `alpha` (h, w) float32 0..1 (zero outside the face); `YuvBatch.paste` takes it as it is."""

    x0: int
    y0: int
    rgb: np.ndarray
    alpha: np.ndarray


def restore_face(face: torch.Tensor, matrix: np.ndarray, frame_height: int, frame_width: int) -> FacePaste:
    """The paste of `face` (3, s, s) float, network pixels -1..1, for the frame its alignment
    `matrix` (2, 3; frame pixels to crop pixels) was made in. Computed on the CPU in float32."""
    x0, y0, x1, y1 = frame_box(matrix, frame_height, frame_width, _MARGIN)
    if x1 <= x0 or y1 <= y0:
        return _nothing(x0, y0)
    crop = F.interpolate(
        face.detach()[None].float().cpu(),
        size=(CROP_HEIGHT, CROP_WIDTH),
        mode="bicubic",
        align_corners=False,
        antialias=True,
    )
    to_crop = np.vstack([np.asarray(matrix, dtype=np.float64), [0.0, 0.0, 1.0]])
    warped = warp_affine(crop, to_crop, (y1 - y0, x1 - x0), origin=(x0, y0), fill=FILL)[0]
    rgb = ((warped / 2 + 0.5).clamp(0, 1) * 255).permute(1, 2, 0).numpy()
    inside = warp_affine(torch.ones(1, 1, CROP_HEIGHT, CROP_WIDTH), to_crop, (y1 - y0, x1 - x0), origin=(x0, y0))
    weight = _erode_2x2(inside[0, 0].numpy())
    w_edge = int(float(weight.sum(dtype=np.float32)) ** 0.5) // 20
    if w_edge == 0:
        # A face under 20x20 pixels: the reference's kernels would be empty; nothing is pasted.
        return _nothing(x0, y0)
    centre = cv2.erode(weight, np.ones((2 * w_edge, 2 * w_edge), np.uint8))
    alpha = _gaussian_blur(centre, 2 * w_edge + 1)
    return FacePaste(x0, y0, np.ascontiguousarray(rgb * weight[..., None]), alpha)


def mouth_region(matrix: np.ndarray, x0: int, y0: int, height: int, width: int) -> np.ndarray:
    """(height, width) float32 weights over the frame box at (x0, y0): 1 where the network
    repaints the face (the mask's mouth region), 0 where it only hands back the input, feathered
    over `_REGION_FEATHER` of the crop so the paste has no edge."""
    if height == 0 or width == 0:
        return np.zeros((height, width), np.float32)
    generated = 1 - cv2.resize(keep_mask(RESOLUTION), (CROP_WIDTH, CROP_HEIGHT), interpolation=cv2.INTER_AREA)
    generated = cv2.GaussianBlur(generated.astype(np.float32), (0, 0), _REGION_FEATHER * CROP_WIDTH)
    to_crop = np.vstack([np.asarray(matrix, dtype=np.float64), [0.0, 0.0, 1.0]])
    warped = warp_affine(torch.from_numpy(generated)[None, None], to_crop, (height, width), origin=(x0, y0))
    return warped[0, 0].numpy()


def _erode_2x2(weight: np.ndarray) -> np.ndarray:
    """kornia's `erosion` with a 2x2 kernel: the minimum of each pixel and its neighbours above
    and to the left; past the edge nothing counts."""
    padded = np.pad(weight, ((1, 0), (1, 0)), constant_values=np.inf)
    return np.minimum.reduce([padded[1:, 1:], padded[:-1, 1:], padded[1:, :-1], padded[:-1, :-1]])


def _gaussian_blur(weight: np.ndarray, size: int) -> np.ndarray:
    """kornia's `gaussian_blur2d` (reflected border, the edge pixel not repeated) with OpenCV's
    sigma for the kernel size."""
    sigma = 0.3 * ((size - 1) * 0.5 - 1) + 0.8
    taps = np.arange(size, dtype=np.float32) - size // 2
    kernel = np.exp(-(taps**2) / np.float32(2 * sigma**2))
    kernel /= kernel.sum()
    return cv2.sepFilter2D(weight, cv2.CV_32F, kernel, kernel, borderType=cv2.BORDER_REFLECT_101)


def _nothing(x0: int, y0: int) -> FacePaste:
    return FacePaste(x0, y0, np.zeros((0, 0, 3), np.float32), np.zeros((0, 0), np.float32))
