"""Face-mesh landmarks straight from the model mediapipe ships, run with LiteRT.

mediapipe's FaceMesh solution wraps `face_landmark.tflite` in a calculator graph whose per-call
overhead (image copies, thread hand-offs, Python callbacks) costs three times the model's own
~0.7 ms. Here the model runs directly: the face's square region, turned so the eyes lie
level, is resampled to the model's 192x192 input (RGB in [0, 1], as mediapipe feeds it), and
the 468 points it returns are mapped back to frame pixels.
"""

from dataclasses import dataclass

import numpy as np

from app.pipeline.face.mediapipe_models import LiteModel, probability
from app.pipeline.media.yuv import YuvBatch

MODEL_SIDE = 192
POINTS = 468
# Eye corners that set a region's rotation (as mediapipe does): the subject's right eye's outer
# corner, then the left eye's.
RIGHT_EYE_OUTER, LEFT_EYE_OUTER = 33, 263
# The model's face-presence score (after a sigmoid) below which no face is taken to be there.
_PRESENCE = 0.5


@dataclass(frozen=True)
class FaceRegion:
    """A square of side `size` around `center` (frame pixels), turned by `angle` (radians, the
    eye line's direction; image y grows downward)."""

    center: np.ndarray
    size: float
    angle: float

    @classmethod
    def level_with_eyes(
        cls, center: np.ndarray, size: float, right_eye: np.ndarray, left_eye: np.ndarray
    ) -> "FaceRegion":
        """A square turned so that the subject's right eye lies left of the left one on a level line."""
        eyes = left_eye - right_eye
        return cls(center, float(size), float(np.arctan2(eyes[1], eyes[0])))

    @classmethod
    def around_landmarks(cls, points: np.ndarray, scale: float) -> "FaceRegion":
        """The landmarks' bounding box, `scale` times its long side, turned with the eye line."""
        low, high = points.min(axis=0), points.max(axis=0)
        return cls.level_with_eyes(
            (low + high) / 2, (high - low).max() * scale, points[RIGHT_EYE_OUTER], points[LEFT_EYE_OUTER]
        )

    def to_frame(self) -> np.ndarray:
        """(2, 3) affine map from model-input pixels (u, v, 1) to frame pixels (x, y)."""
        scale = self.size / MODEL_SIDE
        along = np.array([np.cos(self.angle), np.sin(self.angle)]) * scale
        down = np.array([-np.sin(self.angle), np.cos(self.angle)]) * scale
        origin = self.center - (along + down) * MODEL_SIDE / 2
        return np.column_stack([along, down, origin])

    def drift(self, other: "FaceRegion") -> float:
        """How far `other` is from this region: the larger of its centre shift and size change as
        a share of this region's size, and its turn in radians."""
        moved = float(np.linalg.norm(other.center - self.center))
        turned = abs(float(np.angle(np.exp(1j * (other.angle - self.angle)))))
        return max(max(moved, abs(other.size - self.size)) / self.size, turned)


class FaceMeshModel:
    """The face-landmark model; not thread-safe (one per tracker)."""

    def __init__(self) -> None:
        self._model = LiteModel("face_landmark.tflite")

    def landmarks(self, frames: YuvBatch, index: int, region: FaceRegion) -> np.ndarray | None:
        """(468, 2) landmarks in frame pixels of the face in `region` of frame `index`, or None."""
        to_frame = region.to_frame()
        image = frames.warped_rgb(index, to_frame, (MODEL_SIDE, MODEL_SIDE))
        points, presence = self._model.run(image[None].astype(np.float32) / 255)
        if float(probability(presence).reshape(())) < _PRESENCE:
            return None
        points = points.reshape(POINTS, 3)[:, :2]
        return (points @ to_frame[:, :2].T + to_frame[:, 2]).astype(np.float32)
