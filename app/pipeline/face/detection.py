"""Full-range face detection: the BlazeFace model mediapipe ships, run directly (see `mediapipe_models`).

The model sees the frame letterboxed into 192x192 (RGB in [-1, 1]) and scores one anchor per
4x4-pixel cell (48x48 anchors). Each anchor regresses a box and six keypoints relative to its
cell. As mediapipe does, the best face is the score-weighted mean of the boxes that overlap
the best-scoring one (weighted non-maximum suppression).
"""

from dataclasses import dataclass

import cv2
import numpy as np

from app.pipeline.face.mediapipe_models import LiteModel, probability
from app.pipeline.media.yuv import YuvBatch

_SIDE = 192
_GRID = 48
_MIN_SCORE = 0.5
# Boxes overlapping the best one by more than this (intersection over union) are the same face.
_SAME_FACE_IOU = 0.3
# Regression columns: box centre x, y, width, height, then six keypoints (x, y), the first two
# being the subject's right and left eye.
_BOX, _KEYPOINTS = slice(0, 4), slice(4, 16)
# The frame is first shrunk by an even step to about this long side (cheap slicing), then
# area-averaged down to the model's input, so small faces are not lost to aliasing.
_THUMBNAIL_SIDE = 384
# Each tile of a tiled search spans this share of the frame's width and height.
_TILE_SHARE = 0.6
# The narrowest face the tracker finds, as a share of the frame's long side (cheek to cheek):
# measured with the astronaut photograph scaled down, found from 38 px in 1280x720 and 57 px in
# 1920x1080, never below.
MIN_FACE_SHARE = 0.03


@dataclass(frozen=True)
class DetectedFace:
    """A face box in frame pixels: its centre and (width, height), and both eyes' centres."""

    center: np.ndarray
    size: np.ndarray
    right_eye: np.ndarray
    left_eye: np.ndarray
    score: float


class FaceDetector:
    """The full-range detector; not thread-safe (one per tracker)."""

    def __init__(self) -> None:
        self._model = LiteModel("face_detection_full_range_sparse.tflite")
        cells = (np.arange(_GRID) + 0.5) / _GRID
        self._anchors = np.stack(np.meshgrid(cells, cells), axis=-1).reshape(-1, 2)  # (x, y), rows first

    def detect(
        self,
        frames: YuvBatch,
        index: int,
        search_tiles: bool = False,
        near: np.ndarray | None = None,
    ) -> DetectedFace | None:
        """The face in frame `index` whose centre is nearest the point `near` (x, y), or the
        largest one; None if there is none. The model sees the whole frame at 192 px, where a
        face under about 12 px is lost (100 px in a 1920x1080 frame); with `search_tiles`, four
        overlapping quarters of the frame are also searched, each at 192 px."""
        faces = self.detect_all(frames, index, search_tiles)
        if not faces:
            return None
        if near is None:
            return max(faces, key=lambda face: float(np.prod(face.size)))
        return min(faces, key=lambda face: float(np.linalg.norm(face.center - near)))

    def detect_all(self, frames: YuvBatch, index: int, search_tiles: bool = False) -> list[DetectedFace]:
        """Every face in frame `index`, most confident first; with `search_tiles`, where the whole
        frame shows none, the faces found in its four quarters (one face may be found in two)."""
        faces = self._detect_in(frames, index, (0, 0, frames.width, frames.height))
        if not faces and search_tiles:
            faces = [
                face for tile in _quarters(frames.width, frames.height) for face in self._detect_in(frames, index, tile)
            ]
        return faces

    def _detect_in(self, frames: YuvBatch, index: int, box: tuple[int, int, int, int]) -> list[DetectedFace]:
        x0, y0, x1, y1 = box
        step = 2 * (max(x1 - x0, y1 - y0) // (2 * _THUMBNAIL_SIDE)) or 1
        image, scale, offset = _letterbox(frames.rgb(index, box, step=step))
        regressors, logits = self._model.run(image[None].astype(np.float32) / 127.5 - 1)
        raw = regressors[0] / _SIDE
        scores = probability(logits[0, :, 0])
        # Positions are offsets from each anchor's cell centre, in units of the input side.
        boxes = raw[:, _BOX] + np.concatenate([self._anchors, np.zeros_like(self._anchors)], axis=1)
        keypoints = raw[:, _KEYPOINTS] + np.tile(self._anchors, 6)
        # Input units -> thumbnail pixels -> frame pixels.
        to_frame = lambda xy: (xy * _SIDE - offset) / scale * step + np.array([x0, y0])
        faces = []
        left = scores >= _MIN_SCORE
        # Each face: the most confident box left, merged with the boxes that overlap it (weighted).
        while left.any():
            best = int(np.argmax(np.where(left, scores, -1)))
            same = (_iou(boxes, boxes[best]) > _SAME_FACE_IOU) & left
            weights = scores[same] / scores[same].sum()
            merged = weights @ boxes[same]
            eyes = weights @ keypoints[same][:, :4]
            faces.append(
                DetectedFace(
                    center=to_frame(merged[:2]),
                    size=merged[2:] * _SIDE / scale * step,
                    right_eye=to_frame(eyes[:2]),
                    left_eye=to_frame(eyes[2:]),
                    score=float(scores[best]),
                )
            )
            left &= ~same
        return faces


def no_face_message(width: int, height: int) -> str:
    """Why a video got no face, and what to send instead."""
    smallest = round(MIN_FACE_SHARE * max(width, height))
    return (
        f"no face found in the video: faces are found from about {smallest} px wide in this {width}x{height} "
        f"video ({MIN_FACE_SHARE:.0%} of its long side), turned towards the camera; crop or zoom in on the face "
        "and send it again (face_point only picks among faces that are found)"
    )


def _quarters(width: int, height: int) -> list[tuple[int, int, int, int]]:
    """Four boxes, each a little over a quarter of the frame, overlapping so that a face on a
    dividing line lies whole in one of them. Even corners."""
    tile_w, tile_h = 2 * round(width * _TILE_SHARE / 2), 2 * round(height * _TILE_SHARE / 2)
    return [(x, y, x + tile_w, y + tile_h) for y in (0, height - tile_h) for x in (0, width - tile_w)]


def _letterbox(image: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
    """`image` fitted into a black 192x192 square: (square, scale, offset of the image's corner)."""
    height, width = image.shape[:2]
    scale = _SIDE / max(height, width)
    fitted = cv2.resize(
        image, (max(1, round(width * scale)), max(1, round(height * scale))), interpolation=cv2.INTER_AREA
    )
    square = np.zeros((_SIDE, _SIDE, 3), np.uint8)
    top, left = (_SIDE - fitted.shape[0]) // 2, (_SIDE - fitted.shape[1]) // 2
    square[top : top + fitted.shape[0], left : left + fitted.shape[1]] = fitted
    return square, scale, np.array([left, top], dtype=np.float64)


def _iou(boxes: np.ndarray, box: np.ndarray) -> np.ndarray:
    """Intersection over union of (centre x, centre y, width, height) boxes with one box."""
    low = np.maximum(boxes[:, :2] - boxes[:, 2:] / 2, box[:2] - box[2:] / 2)
    high = np.minimum(boxes[:, :2] + boxes[:, 2:] / 2, box[:2] + box[2:] / 2)
    overlap = np.prod(np.clip(high - low, 0, None), axis=1)
    union = np.prod(boxes[:, 2:], axis=1) + np.prod(box[2:]) - overlap
    return overlap / np.maximum(union, 1e-12)
