"""Frames as ffmpeg decodes and encodes them: planar YUV 4:2:0, converted to RGB only where needed.

Keeping whole frames in YUV spares two full-frame colour conversions per frame (the costliest
part of piping raw video); only the face crops that are looked at or redrawn become RGB.
A batch holds n frames in one array of shape (n, h * 3 / 2, w): Y rows, then U, then V.
"""

from dataclasses import dataclass

import cv2
import numpy as np

# Limited-range YCbCr <-> RGB (ITU-R BT.601 / BT.709), as ffmpeg converts by default.
_KR_KB = {"bt601": (0.299, 0.114), "bt709": (0.2126, 0.0722)}


def _matrices(matrix: str) -> tuple[np.ndarray, np.ndarray]:
    kr, kb = _KR_KB[matrix]
    kg = 1 - kr - kb
    to_ycbcr = np.array(
        [
            [kr, kg, kb],
            [-kr / (2 * (1 - kb)), -kg / (2 * (1 - kb)), 0.5],
            [0.5, -kg / (2 * (1 - kr)), -kb / (2 * (1 - kr))],
        ]
    )
    scale = np.array([219.0, 224.0, 224.0])[:, None] / 255.0
    forward = (to_ycbcr * scale).astype(np.float32)  # RGB 0..255 -> YUV offsets
    return forward, np.linalg.inv(forward).astype(np.float32)


_OFFSETS = np.array([16.0, 128.0, 128.0], dtype=np.float32)


def _affine_pair(matrix: str) -> tuple[np.ndarray, np.ndarray]:
    """(3, 4) affine colour maps RGB -> YUV and YUV -> RGB, in the form cv2.transform takes."""
    forward, inverse = _matrices(matrix)
    to_yuv = np.hstack([forward, _OFFSETS[:, None]])
    to_rgb = np.hstack([inverse, (-inverse @ _OFFSETS)[:, None]])
    return to_yuv.astype(np.float32), to_rgb.astype(np.float32)


_CONVERSIONS = {name: _affine_pair(name) for name in _KR_KB}


def yuv_to_rgb(yuv: np.ndarray, matrix: str) -> np.ndarray:
    """(..., 3) YUV samples 0..255 -> RGB: float32 (unclipped) for float input; for uint8 input
    uint8, rounded and clipped."""
    return _transform(yuv, _CONVERSIONS[matrix][1])


def rgb_to_yuv(rgb: np.ndarray, matrix: str) -> np.ndarray:
    """(..., 3) RGB 0..255 -> YUV float32."""
    return _transform(rgb.astype(np.float32, copy=False), _CONVERSIONS[matrix][0])


def _transform(values: np.ndarray, affine: np.ndarray) -> np.ndarray:
    # cv2.transform takes at most (rows, cols, channels): any leading shape is flattened.
    flat = np.ascontiguousarray(values).reshape(-1, 1, 3)
    return cv2.transform(flat, affine).reshape(values.shape)


@dataclass(frozen=True)
class FrameFormat:
    """Decoded frames: even width and height (an odd source edge is padded by one pixel)."""

    width: int
    height: int
    fps: float
    matrix: str = "bt601"

    @classmethod
    def for_source(cls, width: int, height: int, fps: float, matrix: str = "bt601") -> "FrameFormat":
        return cls(width + width % 2, height + height % 2, fps, matrix)

    @property
    def frame_bytes(self) -> int:
        return self.width * self.height * 3 // 2


@dataclass
class YuvBatch:
    data: np.ndarray  # (n, h * 3 // 2, w) uint8, I420 per frame
    width: int
    height: int
    matrix: str = "bt601"

    def __len__(self) -> int:
        return len(self.data)

    @classmethod
    def from_rgb(cls, frames: np.ndarray, matrix: str = "bt601") -> "YuvBatch":
        """(n, h, w, 3) RGB with even h and w -> a batch (for tests and tools)."""
        count, height, width = frames.shape[:3]
        yuv = rgb_to_yuv(frames, matrix)
        chroma = yuv[..., 1:].reshape(count, height // 2, 2, width // 2, 2, 2).mean(axis=(2, 4))
        data = np.empty((count, height * 3 // 2, width), np.uint8)
        batch = cls(data, width, height, matrix)
        for i in range(count):
            y, u, v = batch.planes(i)
            y[:] = _to_bytes(yuv[i, ..., 0])
            u[:] = _to_bytes(chroma[i, ..., 0])
            v[:] = _to_bytes(chroma[i, ..., 1])
        return batch

    def planes(self, index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Writable views of frame `index`'s Y (h, w), U and V (h/2, w/2) planes."""
        frame = self.data[index].reshape(-1)
        luma = self.width * self.height
        quarter = luma // 4
        return (
            frame[:luma].reshape(self.height, self.width),
            frame[luma : luma + quarter].reshape(self.height // 2, self.width // 2),
            frame[luma + quarter :].reshape(self.height // 2, self.width // 2),
        )

    def rgb(self, index: int, box: tuple[int, int, int, int] | None = None, step: int = 1) -> np.ndarray:
        """RGB uint8 of the region [x0, x1) x [y0, y1) (even corners; whole frame by default),
        taking every `step`-th pixel (`step` 1 or even)."""
        x0, y0, x1, y1 = box or (0, 0, self.width, self.height)
        y, u, v = self.planes(index)
        luma = y[y0:y1:step, x0:x1:step]
        if step == 1:
            u = np.repeat(np.repeat(u[y0 // 2 : y1 // 2, x0 // 2 : x1 // 2], 2, axis=0), 2, axis=1)
            v = np.repeat(np.repeat(v[y0 // 2 : y1 // 2, x0 // 2 : x1 // 2], 2, axis=0), 2, axis=1)
        else:
            u = u[y0 // 2 : y1 // 2 : step // 2, x0 // 2 : x1 // 2 : step // 2]
            v = v[y0 // 2 : y1 // 2 : step // 2, x0 // 2 : x1 // 2 : step // 2]
        rows, cols = luma.shape
        yuv = np.stack([luma, u[:rows, :cols], v[:rows, :cols]], axis=-1)
        return yuv_to_rgb(yuv, self.matrix)

    def warped_rgb(
        self, index: int, to_frame: np.ndarray, size: tuple[int, int], interpolation: int = cv2.INTER_LINEAR
    ) -> np.ndarray:
        """RGB uint8 (height, width, 3) of frame `index` resampled (bilinear unless told, edges
        repeated) to `size` = (width, height): output pixel (u, v) shows the frame at
        `to_frame @ (u, v, 1)`. Each plane is resampled on its own, so only the output's pixels
        are converted."""
        y, u, v = self.planes(index)
        flags = interpolation | cv2.WARP_INVERSE_MAP
        resample = lambda plane, matrix: cv2.warpAffine(
            plane, matrix, size, flags=flags, borderMode=cv2.BORDER_REPLICATE
        )
        # Chroma planes are half size: the same map, halved (the siting offset is under a sample).
        half = to_frame / 2
        yuv = np.stack([resample(y, to_frame), resample(u, half), resample(v, half)], axis=-1)
        return yuv_to_rgb(yuv, self.matrix)

    def paste(self, index: int, x0: int, y0: int, rgb: np.ndarray, alpha: np.ndarray) -> None:
        """Blend RGB (h, w, 3, 0..255) with weights `alpha` (h, w, 0..1) in at even (x0, y0).

        Only the even-aligned bounding box of the non-zero weights is converted and written.
        """
        rows, cols = np.nonzero(alpha.any(axis=1))[0], np.nonzero(alpha.any(axis=0))[0]
        if len(rows) == 0:
            return
        top, bottom = rows[0] // 2 * 2, min(alpha.shape[0], (rows[-1] // 2 + 1) * 2)
        left, right = cols[0] // 2 * 2, min(alpha.shape[1], (cols[-1] // 2 + 1) * 2)
        alpha = alpha[top:bottom, left:right]
        yuv = rgb_to_yuv(rgb[top:bottom, left:right], self.matrix)
        x0, y0 = x0 + left, y0 + top
        height, width = alpha.shape
        y, u, v = self.planes(index)
        region = y[y0 : y0 + height, x0 : x0 + width]
        region[:] = _to_bytes(region + (yuv[..., 0] - region) * alpha)
        half_alpha = _halve(alpha)
        for plane, channel in ((u, 1), (v, 2)):
            target = plane[y0 // 2 : (y0 + height) // 2, x0 // 2 : (x0 + width) // 2]
            target[:] = _to_bytes(target + (_halve(yuv[..., channel]) - target) * half_alpha)

    def to_rgb(self) -> np.ndarray:
        """Every frame as RGB (for tests and tools)."""
        return np.stack([self.rgb(i) for i in range(len(self))])


def even_box(x0: float, y0: float, x1: float, y1: float, width: int, height: int) -> tuple[int, int, int, int]:
    """The box grown to even corners (so it covers whole chroma samples), clipped to the frame."""
    ex0 = max(0, int(np.floor(x0 / 2)) * 2)
    ey0 = max(0, int(np.floor(y0 / 2)) * 2)
    ex1 = min(width, int(np.ceil(x1 / 2)) * 2)
    ey1 = min(height, int(np.ceil(y1 / 2)) * 2)
    return ex0, ey0, ex1, ey1


def _halve(plane: np.ndarray) -> np.ndarray:
    """Mean of each 2x2 block (4:2:0 chroma siting is ignored: the error is under a sample)."""
    return (plane[0::2, 0::2] + plane[1::2, 0::2] + plane[0::2, 1::2] + plane[1::2, 1::2]) * 0.25


def _to_bytes(values: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(values), 0, 255).astype(np.uint8)
