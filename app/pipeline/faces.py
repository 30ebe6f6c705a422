"""Face tracking: full-range detection every few frames, face-mesh landmarks on a crop, smoothed over time.

Face mesh alone misses small faces (a 100 px face in a 720p frame), so the full-range detector
finds the face and the mesh runs on a crop around it; between detections the crop follows the
last landmarks. Both models ship inside the mediapipe wheel.
"""

import warnings
from dataclasses import dataclass

# mediapipe's protobuf use trips a deprecation warning that says nothing about our input.
warnings.filterwarnings("ignore", message="SymbolDatabase.GetPrototype", category=UserWarning)

import mediapipe as mp  # noqa: E402
import numpy as np  # noqa: E402

from app.pipeline.yuv import YuvBatch, even_box  # noqa: E402

# Indices into mediapipe's 468-point canonical face mesh.
NOSE_TIP = 1
NOSE_BOTTOM = 2
UPPER_LIP_OUTER = 0
UPPER_LIP_INNER = 13
LOWER_LIP_INNER = 14
LOWER_LIP_OUTER = 17
MOUTH_CORNER_A = 61
MOUTH_CORNER_B = 291
CHIN = 152

_DETECTION_CONFIDENCE = 0.5
# The mesh crop is this many times the detector's face box, or the landmarks' extent.
_DETECTION_CROP_SCALE = 1.8
_LANDMARK_CROP_SCALE = 1.5
# Weight of the newest landmarks in the exponential smoothing of still points (lower = smoother,
# laggier); a point moving by more than _FAST_MOTION of the face size per frame is taken as it
# is, so jitter is smoothed but a mouth that opens for a frame is not lost.
_SMOOTHING = 0.55
_FAST_MOTION = 0.02
# A jump larger than this fraction of the face size is a cut: smoothing restarts.
_JUMP_FRACTION = 0.25
# The mesh crop stays where it is until the face drifts by this fraction of the crop size:
# an unchanged crop gives unchanged landmarks, so a still face does not jitter.
_CROP_HYSTERESIS = 0.06
# The detector's box is framed differently from the landmarks' one: it re-anchors the crop
# only when they disagree by more than this fraction (the face moved away from the crop).
_REANCHOR_DRIFT = 0.25
# Frames are shrunk by an even step to about this long side before detection.
_DETECTION_SIDE = 320
# The mesh model looks at 192x192: a larger crop is shrunk by an even step to at least this
# side first, which costs less to convert and to hand over and loses no landmark precision.
_MESH_SIDE = 192


@dataclass(frozen=True)
class FaceLandmarks:
    """468 landmark positions in frame pixels, shape (468, 2) as (x, y)."""

    points: np.ndarray

    def point(self, index: int) -> np.ndarray:
        return self.points[index]

    @property
    def size(self) -> float:
        extent = self.points.max(axis=0) - self.points.min(axis=0)
        return float(extent.max())


class FaceTracker:
    """Tracks one face through consecutive frames; keeps state across chunks. Not thread-safe."""

    def __init__(self, detect_interval: int = 5, landmark_step: int = 1) -> None:
        self._detect_interval = detect_interval
        self._landmark_step = landmark_step
        self._detector = mp.solutions.face_detection.FaceDetection(
            model_selection=1, min_detection_confidence=_DETECTION_CONFIDENCE
        )
        self._mesh = mp.solutions.face_mesh.FaceMesh(
            static_image_mode=False, max_num_faces=1, refine_landmarks=False,
            min_detection_confidence=_DETECTION_CONFIDENCE, min_tracking_confidence=0.5,
        )
        self._frame_index = 0
        self._last: FaceLandmarks | None = None
        self._box: tuple[int, int, int, int] | None = None

    def close(self) -> None:
        self._detector.close()
        self._mesh.close()

    def track(self, frames: YuvBatch) -> list[FaceLandmarks | None]:
        """Landmarks on every `landmark_step`-th frame (and each batch's last). With a step over 1
        a frame between two faces gets their linear interpolation (cheaper, but a mouth that
        opens for a single frame is missed), one next to a face-less frame a look of its own."""
        faces: list[FaceLandmarks | None] = [None] * len(frames)
        keyframes = sorted({*range(0, len(frames), self._landmark_step), len(frames) - 1})
        for index in keyframes:
            faces[index] = self._track_frame(frames, index)
        for before, after in zip(keyframes, keyframes[1:]):
            first, last = faces[before], faces[after]
            for index in range(before + 1, after):
                if first is not None and last is not None:
                    weight = (index - before) / (after - before)
                    faces[index] = FaceLandmarks((1 - weight) * first.points + weight * last.points)
                elif first is not None or last is not None:
                    faces[index] = self._look_near(frames, index, first or last)
        return faces

    def _look_near(self, frames: YuvBatch, index: int, neighbour: FaceLandmarks) -> FaceLandmarks | None:
        """Landmarks of one frame in the crop of a neighbouring face, leaving the tracking state alone."""
        box = _square_box(neighbour.points.min(axis=0), neighbour.points.max(axis=0),
                          _LANDMARK_CROP_SCALE, (frames.height, frames.width))
        points = self._landmarks_in(frames, index, box) if box else None
        return FaceLandmarks(points.astype(np.float32)) if points is not None else None

    def _track_frame(self, frames: YuvBatch, index: int) -> FaceLandmarks | None:
        due = self._frame_index % self._detect_interval == 0
        self._frame_index += 1
        box = self._next_box(frames, index, due)
        if box is None:
            self._last = self._box = None
            return None
        points = self._landmarks_in(frames, index, box)
        if points is None:
            self._last = self._box = None
            return None
        self._box = box
        self._last = self._smooth(points)
        return self._last

    def _next_box(self, frames: YuvBatch, index: int, due: bool) -> tuple[int, int, int, int] | None:
        """The crop follows the landmarks; the detector finds the face and re-anchors it on drift."""
        following = None
        shape = (frames.height, frames.width)
        if self._last is not None:
            following = _steady(self._box, _square_box(
                self._last.points.min(axis=0), self._last.points.max(axis=0), _LANDMARK_CROP_SCALE, shape
            ), _CROP_HYSTERESIS)
        if not due and following is not None:
            return following
        detected = self._detect(frames, index)
        if following is None or detected is None:
            return detected or following
        return _steady(following, detected, _REANCHOR_DRIFT)

    def _detect(self, frames: YuvBatch, index: int) -> tuple[int, int, int, int] | None:
        # The detector looks at 192x192 anyway: a thumbnail costs less to convert and as much to find.
        step = 2 * (max(frames.width, frames.height) // (2 * _DETECTION_SIDE)) or 1
        result = self._detector.process(frames.rgb(index, step=step))
        if not result.detections:
            return None
        best = max(result.detections, key=lambda detection: detection.score[0])
        rel = best.location_data.relative_bounding_box
        height, width = frames.height, frames.width
        low = np.array([rel.xmin * width, rel.ymin * height])
        high = low + np.array([rel.width * width, rel.height * height])
        return _square_box(low, high, _DETECTION_CROP_SCALE, (height, width))

    def _landmarks_in(self, frames: YuvBatch, index: int, box: tuple[int, int, int, int]) -> np.ndarray | None:
        x0, y0, x1, y1 = box
        step = 2 * (min(x1 - x0, y1 - y0) // (2 * _MESH_SIDE)) or 1
        crop = frames.rgb(index, box, step=step)
        result = self._mesh.process(crop)
        if not result.multi_face_landmarks:
            return None
        landmarks = result.multi_face_landmarks[0].landmark
        relative = np.array([(point.x, point.y) for point in landmarks], dtype=np.float32)
        return relative * np.array([x1 - x0, y1 - y0], dtype=np.float32) + np.array([x0, y0])

    def _smooth(self, points: np.ndarray) -> FaceLandmarks:
        previous = self._last
        if previous is not None:
            jump = np.linalg.norm(points.mean(axis=0) - previous.points.mean(axis=0))
            if jump < _JUMP_FRACTION * previous.size:
                motion = np.linalg.norm(points - previous.points, axis=1, keepdims=True) / previous.size
                weight = np.clip(motion / _FAST_MOTION, _SMOOTHING, 1.0)
                points = weight * points + (1 - weight) * previous.points
        return FaceLandmarks(points.astype(np.float32))


def _steady(
    previous: tuple[int, int, int, int] | None, box: tuple[int, int, int, int] | None, tolerance: float
) -> tuple[int, int, int, int] | None:
    """Keep the previous crop while the new one's corners are within `tolerance` of its size."""
    if previous is None or box is None:
        return box or previous
    size = previous[2] - previous[0]
    drift = max(abs(a - b) for a, b in zip(previous, box))
    return previous if drift <= tolerance * size else box


def _square_box(
    low: np.ndarray, high: np.ndarray, scale: float, shape: tuple[int, ...]
) -> tuple[int, int, int, int] | None:
    """A square around the box [low, high], `scale` times its larger side, clipped to the frame."""
    height, width = shape[:2]
    center = (low + high) / 2
    half = max(high - low) * scale / 2
    box = even_box(center[0] - half, center[1] - half, center[0] + half, center[1] + half, width, height)
    if box[2] - box[0] < 16 or box[3] - box[1] < 16:
        return None
    return box
