"""The source's own mouths, replayed: where the source video talks, one of its frames whose mouth
already has the wanted shape is a better picture than any drawing.

`MouthBank` keeps the lower face of the first frames of the source in a canonical pose (aligned
on the eyes and the nose ridge, which do not move with the jaw), with each mouth's shape.
`paste_own_mouth` maps a kept lower face onto another frame's face, matches its colour to the
frame around it and blends it in with a feathered mask that covers both faces' lips and jaws, so
neither chin shows twice.
"""

from dataclasses import dataclass, field, replace

import cv2
import numpy as np

from app.pipeline.face import tracking
from app.pipeline.face.mesh import LEFT_EYE_OUTER, RIGHT_EYE_OUTER
from app.pipeline.face.tracking import FaceLandmarks
from app.pipeline.media.yuv import YuvBatch, even_box

# Eye corners and the nose ridge: they stay put while the mouth and jaw move.
_RIGID_POINTS = [RIGHT_EYE_OUTER, 133, 362, LEFT_EYE_OUTER, 168, 6, 197, 195]
# The outer lip contour, and the jaw line from cheek to cheek under the mouth.
_OUTER_LIPS = [61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291, 375, 321, 405, 314, 17, 84, 181, 91, 146]
_JAW = [136, 150, 149, 176, 148, 152, 377, 400, 378, 379, 365]
# mediapipe's inner lip ring (FACEMESH_LIPS), upper lip left to right, then lower right to left.
INNER_LIPS = [78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308, 324, 318, 402, 317, 14, 87, 178, 88, 95]
# Teeth: brighter than this share of the skin's luma and less saturated than this (bench.mouth_look
# measures them the same way); a gap of fewer pixels than this shows none.
_TEETH_OVER_SKIN = 0.8
_TEETH_SATURATION = 0.3
_MIN_INSIDE_PX = 4
# The blend covers the lips grown by this factor about their centre (the skin that moves with
# them) and the jaw line grown by this share of the eye distance (the shadow under the chin).
_LIP_GROWTH = 1.45
_BELOW_JAW = 0.12
# The blend's edge is feathered over this share of the eye distance.
_FEATHER = 0.05
# The pasted picture's light follows the frame's within these gains (more is another scene).
_LIGHT_GAIN = (0.5, 2.0)
# Weights below this change no 8-bit pixel.
_FAINTEST = 1 / 255
# Eye distance of the canonical pose in pixels at most (kept samples cost memory); a smaller
# face is kept at its own size.
_MAX_EYE_DISTANCE = 150.0
# The kept region around the mouth, in eye distances: across from the face's middle, and down
# from the eye line.
_HALF_WIDTH_EYES = 0.8
_TOP_EYES, _BOTTOM_EYES = 0.3, 1.95


@dataclass(frozen=True)
class MouthShape:
    """A mouth's shape, comparable across frames and faces."""

    opening: float  # gap between the inner lips / mouth width
    width: float  # mouth width / eye distance
    turn: float  # nose tip's sideways offset from the eyes' middle / eye distance (head yaw)
    teeth: float = 0.0  # share of the inside of the lips that shows teeth (measured on pixels)


def mouth_shape(face: FaceLandmarks) -> MouthShape:
    """The face's mouth shape as its landmarks read it."""
    middle, axis, eyes = _eye_line(face)
    corners = face.point(tracking.MOUTH_CORNER_B) - face.point(tracking.MOUTH_CORNER_A)
    mouth_width = max(float(np.linalg.norm(corners)), 1.0)
    gap = float(np.linalg.norm(face.point(tracking.UPPER_LIP_INNER) - face.point(tracking.LOWER_LIP_INNER)))
    turn = float(np.dot(face.point(tracking.NOSE_TIP) - middle, axis)) / eyes
    return MouthShape(gap / mouth_width, mouth_width / eyes, turn)


def _eye_line(face: FaceLandmarks) -> tuple[np.ndarray, np.ndarray, float]:
    """The outer eye corners' middle, the unit vector from the right one to the left one, and
    their distance (pixels)."""
    right, left = face.point(RIGHT_EYE_OUTER), face.point(LEFT_EYE_OUTER)
    distance = max(float(np.linalg.norm(left - right)), 1.0)
    return (left + right) / 2, (left - right) / distance, distance


@dataclass
class MouthBank:
    """Lower faces of consecutive source frames in one canonical pose. Sample i is source frame i
    (None where no face was found there)."""

    eye_distance: float  # of the canonical pose, pixels
    reference: np.ndarray  # (8, 2) the rigid points in the canonical pose
    samples: list[np.ndarray | None] = field(default_factory=list)  # RGB uint8 crops
    faces: list[np.ndarray | None] = field(default_factory=list)  # (468, 2) landmarks, canonical
    shapes: list[MouthShape | None] = field(default_factory=list)

    @classmethod
    def for_face(cls, face: FaceLandmarks) -> "MouthBank":
        """An empty bank whose canonical pose is `face`'s, upright and scaled to at most the maximum."""
        middle, axis, eyes = _eye_line(face)
        scale = min(1.0, _MAX_EYE_DISTANCE / eyes)
        upright = np.array([[axis[0], axis[1]], [-axis[1], axis[0]]])
        canonical_eyes = eyes * scale
        # Canonical pixels: x from the crop's left edge, y down from the crop's top edge.
        offset = np.array([_HALF_WIDTH_EYES, -_TOP_EYES]) * canonical_eyes
        reference = (face.points[_RIGID_POINTS] - middle) @ upright.T * scale + offset
        return cls(canonical_eyes, reference.astype(np.float32))

    @property
    def crop_size(self) -> tuple[int, int]:
        """(width, height) of every sample."""
        return (
            int(round(2 * _HALF_WIDTH_EYES * self.eye_distance)),
            int(round((_BOTTOM_EYES - _TOP_EYES) * self.eye_distance)),
        )

    def __len__(self) -> int:
        return len(self.samples)

    def shape_rows(self) -> np.ndarray:
        """(len, 4) [opening, width, turn, teeth] per sample; NaN where no face was kept."""
        return np.array(
            [[shape.opening, shape.width, shape.turn, shape.teeth] if shape else [np.nan] * 4 for shape in self.shapes]
        ).reshape(-1, 4)

    def add(self, frames: YuvBatch, index: int, face: FaceLandmarks | None) -> None:
        """Keep frame `index`'s lower face (the next source frame in order)."""
        if face is None:
            self.samples.append(None)
            self.faces.append(None)
            self.shapes.append(None)
            return
        to_canonical = _similarity(face.points[_RIGID_POINTS], self.reference)
        from_canonical = cv2.invertAffineTransform(to_canonical)
        sample = frames.warped_rgb(index, from_canonical, self.crop_size, cv2.INTER_CUBIC)
        canonical_face = _apply(to_canonical, face.points)
        self.samples.append(sample)
        self.faces.append(canonical_face)
        # The landmarks' gap, not the pixels' dark inside: on the talking source it picks mouths
        # that read 0.83 sync against 0.80 (bench.quality, 2026-12-04).
        self.shapes.append(replace(mouth_shape(face), teeth=teeth_share(sample, canonical_face)))


@dataclass(frozen=True)
class OwnMouths:
    """A task's kept mouths and, per output frame, the sample to show (or `mouth_choice.DRAW` / `KEEP`)."""

    bank: MouthBank
    picks: np.ndarray

    def window(self, start: int, count: int) -> "OwnMouths":
        return OwnMouths(self.bank, self.picks[start : start + count])


def paste_own_mouth(frames: YuvBatch, index: int, face: FaceLandmarks, bank: MouthBank, sample: int) -> None:
    """Blend kept sample `sample` over frame `index`'s lower face, in place."""
    crop, kept_face = bank.samples[sample], bank.faces[sample]
    # Picks name only samples that have a face (`choose_samples` never picks a NaN shape row).
    assert crop is not None and kept_face is not None
    to_frame = _similarity(bank.reference, face.points[_RIGID_POINTS])
    frame_face = _apply(cv2.invertAffineTransform(to_frame), face.points)
    mask = _blend_mask(bank, kept_face, frame_face)
    height, width = crop.shape[:2]
    corners = _apply(to_frame, np.array([[0, 0], [width, 0], [0, height], [width, height]]))
    low, high = corners.min(axis=0), corners.max(axis=0) + 1
    x0, y0, x1, y1 = even_box(low[0], low[1], high[0], high[1], frames.width, frames.height)
    if x1 <= x0 or y1 <= y0:
        return
    into_window = to_frame - np.array([[0, 0, x0], [0, 0, y0]], dtype=np.float64)
    size = (x1 - x0, y1 - y0)
    # Bicubic: a mouth resampled twice (into the bank and out) stays as sharp as the frame.
    moved = cv2.warpAffine(crop, into_window, size, flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    weight = cv2.warpAffine(mask, into_window, size, flags=cv2.INTER_LINEAR, borderValue=0)
    underneath = frames.rgb(index, (x0, y0, x1, y1)).astype(np.float32)
    frames.paste(index, x0, y0, _match_colour(moved.astype(np.float32), underneath, weight), weight)


def teeth_share(image: np.ndarray, points: np.ndarray) -> float:
    """Share of the pixels inside the inner lip contour of face `points` (468, 2) in RGB `image`
    that read as teeth against the skin around (the median luma outside the lips)."""
    inside = inner_lips_mask(image.shape, points)
    if inside.sum() < _MIN_INSIDE_PX:
        return 0.0
    skin = float(np.median(luma(image[~inside])))
    return float(reads_as_teeth(image[inside], skin).mean())


def inner_lips_mask(shape: tuple[int, ...], points: np.ndarray) -> np.ndarray:
    """(h, w) bool: inside the inner lip contour of face `points` (468, 2)."""
    inside = np.zeros(shape[:2], np.uint8)
    cv2.fillPoly(inside, [np.round(points[INNER_LIPS]).astype(np.int32)], 1)
    return inside.astype(bool)


def reads_as_teeth(values: np.ndarray, skin_luma: float) -> np.ndarray:
    """(n,) bool for (n, 3) RGB pixels: brighter than most of the skin and nearly grey."""
    values = values.astype(np.float32)
    brightest = values.max(axis=1)
    saturation = (brightest - values.min(axis=1)) / np.maximum(brightest, 1)
    return (luma(values) > _TEETH_OVER_SKIN * skin_luma) & (saturation < _TEETH_SATURATION)


def luma(values: np.ndarray) -> np.ndarray:
    """Luma (BT.601 weights) of colours in the last axis, in their own scale."""
    return values.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)


def _blend_mask(bank: MouthBank, kept_face: np.ndarray, frame_face: np.ndarray) -> np.ndarray:
    """(h, w) float32 weights in the canonical crop: 1 over both faces' lips and jaws, feathered."""
    width, height = bank.crop_size
    below = np.array([0, _BELOW_JAW * bank.eye_distance])
    outline = []
    for points in (kept_face, frame_face):
        lips = points[_OUTER_LIPS]
        centre = lips.mean(axis=0)
        outline += [centre + (lips - centre) * _LIP_GROWTH, points[_JAW] + below]
    hull = cv2.convexHull(np.concatenate(outline).astype(np.float32))
    mask: np.ndarray = np.zeros((height, width), np.float32)
    cv2.fillConvexPoly(mask, np.round(hull[:, 0]).astype(np.int32), 1.0, lineType=cv2.LINE_AA)
    feather = _FEATHER * bank.eye_distance
    mask = cv2.GaussianBlur(mask, (0, 0), feather)
    # A jaw that reaches the crop's edge fades out before it, or the edge would show.
    rows = np.minimum(np.arange(height), np.arange(height)[::-1])[:, None]
    cols = np.minimum(np.arange(width), np.arange(width)[::-1])[None, :]
    mask *= np.clip(np.minimum(rows, cols) / (2 * feather), 0, 1)
    # Nothing from the nose up changes: the weights rise from zero at the lower of the two
    # noses to full halfway down to the upper lip.
    nose = max(kept_face[tracking.NOSE_BOTTOM, 1], frame_face[tracking.NOSE_BOTTOM, 1])
    lip = min(kept_face[tracking.UPPER_LIP_OUTER, 1], frame_face[tracking.UPPER_LIP_OUTER, 1])
    below_nose = (np.arange(height, dtype=np.float32) - nose) / max((lip - nose) / 2, 1.0)
    mask *= np.clip(below_nose, 0, 1)[:, None]
    # The blur's faint tail would still round pixels far from the mouth: it is cut.
    mask[mask < _FAINTEST] = 0
    return mask


def _match_colour(moved: np.ndarray, underneath: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Scale the pasted picture's colour to the frame's light, measured along the blend's soft
    edge: light scales colours (an offset would darken dark skin as much as bright skin)."""
    edge = (weight > 0.05) & (weight < 0.6)
    if edge.sum() < 16:
        return moved
    gain = underneath[edge].mean(axis=0) / np.maximum(moved[edge].mean(axis=0), 1.0)
    return np.clip(moved * np.clip(gain, *_LIGHT_GAIN), 0, 255)


def _similarity(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """(2, 3) least-squares rotation + uniform scale + translation taking `source` points onto
    `target` points (Umeyama's method, no reflection)."""
    source_mean, target_mean = source.mean(axis=0), target.mean(axis=0)
    src, dst = source - source_mean, target - target_mean
    covariance = dst.T @ src / len(src)
    u, singular, vt = np.linalg.svd(covariance)
    sign = np.diag([1.0, np.sign(np.linalg.det(u @ vt))])
    rotation = u @ sign @ vt
    scale = np.trace(np.diag(singular) @ sign) / max(float((src**2).sum() / len(src)), 1e-9)
    matrix = np.empty((2, 3))
    matrix[:, :2] = scale * rotation
    matrix[:, 2] = target_mean - scale * rotation @ source_mean
    return matrix


def _apply(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    return points @ matrix[:, :2].T + matrix[:, 2]
