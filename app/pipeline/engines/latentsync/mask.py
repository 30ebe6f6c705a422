"""The fixed mouth mask LatentSync 1.6 inpaints through, at the network's resolution.

`mask.png` is the reference's `latentsync/utils/mask.png` (from ByteDance's LatentSync,
Apache-2.0, copyright 2024 Bytedance Ltd. and/or its affiliates), shipped unchanged: a 256x256
black and white picture of the aligned face, black (0) over the lower face that the network
repaints, white (255) where the input face is kept. Its outline (the jaw, the cheeks up to just
below the eyes, with two lobes at the sides) is not a simple shape, and the network was trained
with exactly these pixels, so the file is shipped rather than redrawn.

As the reference's `load_fixed_mask`, it is resized with Lanczos (whose ringing leaves a thin
band of in-between and clipped values along the outline) and divided by 255 in double precision.
"""

import functools
from pathlib import Path

import cv2
import numpy as np

MASK_PATH = Path(__file__).with_name("mask.png")


@functools.cache
def _keep_mask(resolution: int) -> np.ndarray:
    picture = cv2.imread(str(MASK_PATH), cv2.IMREAD_GRAYSCALE)
    if picture is None:
        raise FileNotFoundError(MASK_PATH)
    resized = cv2.resize(picture, (resolution, resolution), interpolation=cv2.INTER_LANCZOS4)
    keep: np.ndarray = resized / 255.0
    keep.setflags(write=False)
    return keep


def keep_mask(resolution: int = 512) -> np.ndarray:
    """(resolution, resolution) float64 weights, read-only: 1 where the input face is kept, 0
    over the mouth region the network generates. Read once per resolution."""
    return _keep_mask(resolution)
