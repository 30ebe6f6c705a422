"""Face tracking: full-range detection every few frames, face-mesh landmarks in a region around
the face, smoothed over time.

Face mesh alone misses small faces (a 100 px face in a 720p frame), so the full-range detector
finds the face and the mesh model looks at a region around it; between detections the region
follows the last landmarks. While no face is followed, every periodic detection also searches
the frame in quarters, which finds faces down to about 65 px in 720p and 100 px in 1080p.
Both are MediaPipe models shipped with the service and run directly (see `mediapipe_models`).

Given a `FacePath` (the speaker of each shot, see `speaker`), the tracker picks the face again at
every shot change, nearest the path's point, and finds no face where the path has none or its
face is not within a face's width of where it was last seen in the shot.
"""

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from app.pipeline.face.detection import FaceDetector
from app.pipeline.face.mesh import FaceMeshModel, FaceRegion
from app.pipeline.media.yuv import YuvBatch

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

# The mesh region is this many times the detector's face box, or the landmarks' extent
# (mediapipe's own framing for its mesh model).
_REGION_SCALE = 1.5
# Weight of the newest landmarks in the exponential smoothing of still points (lower = smoother,
# laggier); a point moving by more than _FAST_MOTION of the face size per frame is taken as it
# is, so jitter is smoothed but a mouth that opens for a frame is not lost.
_SMOOTHING = 0.55
_FAST_MOTION = 0.02
# A jump larger than this fraction of the face size is a cut: smoothing restarts.
_JUMP_FRACTION = 0.25
# The mesh region stays where it is until the face drifts by this fraction of its size (or
# turns by this many radians): an unchanged region gives unchanged landmarks, so a still face
# does not jitter.
_REGION_HYSTERESIS = 0.06
# The detector's box is framed differently from the landmarks' one: it re-anchors the region
# only when they disagree by more than this fraction (the face moved away from the region).
_REANCHOR_DRIFT = 0.25


class FacePath(Protocol):
    """The face to follow, shot by shot."""

    def at(self, position: int) -> tuple[int, np.ndarray | None]:
        """The shot of the `position`-th frame tracked, and the (x, y) the face to follow is near
        at the shot's start (None: no face to follow in that shot)."""
        ...


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

    def __init__(
        self,
        detect_interval: int = 5,
        landmark_step: int = 1,
        face_point: tuple[float, float] | None = None,
        path: FacePath | None = None,
    ) -> None:
        """`face_point` (x, y in frame pixels) picks, among several faces, the one nearest it in
        the first frame with a face; by default the largest. Later detections keep to the face
        being followed. A `path` (used without a face_point) picks the face in each shot."""
        self._face_point = np.array(face_point, dtype=np.float64) if face_point is not None else None
        self._path = path
        self._position = 0  # frames tracked so far, for the path
        self._shot: int | None = None
        self._detect_interval = detect_interval
        self._landmark_step = landmark_step
        self._detector = FaceDetector()
        self._mesh = FaceMeshModel()
        self._frame_index = 0
        self._last: FaceLandmarks | None = None
        self._region: FaceRegion | None = None

    def track(self, frames: YuvBatch) -> list[FaceLandmarks | None]:
        """Landmarks on every `landmark_step`-th frame (and each batch's last). With a step over 1
        a frame between two faces gets their linear interpolation (cheaper, but a mouth that
        opens for a single frame is missed), one next to a face-less frame a look of its own."""
        faces: list[FaceLandmarks | None] = [None] * len(frames)
        shots = [self._path.at(self._position + index) for index in range(len(frames))] if self._path else []
        # Never interpolated across a shot change: both frames either side of it are keyframes.
        changes = {index for index in range(1, len(shots)) if shots[index][0] != shots[index - 1][0]}
        keyframes = sorted(
            {*range(0, len(frames), self._landmark_step), len(frames) - 1, *changes, *(i - 1 for i in changes)}
        )
        for index in keyframes:
            if shots:
                self._enter_shot(*shots[index])
            faces[index] = self._track_frame(frames, index) if not shots or shots[index][1] is not None else None
        self._position += len(frames)
        for before, after in zip(keyframes, keyframes[1:]):
            first, last = faces[before], faces[after]
            for index in range(before + 1, after):
                if first is not None and last is not None:
                    weight = (index - before) / (after - before)
                    faces[index] = FaceLandmarks((1 - weight) * first.points + weight * last.points)
                elif first is not None or last is not None:
                    faces[index] = self._look_near(frames, index, first or last)
        return faces

    def _enter_shot(self, shot: int, point: np.ndarray | None) -> None:
        """At a shot change, forget the face followed: the next detection looks near the shot's point."""
        if shot != self._shot:
            self._shot, self._face_point = shot, point
            self._last = self._region = None
            self._frame_index = 0  # detect at once

    def _look_near(self, frames: YuvBatch, index: int, neighbour: FaceLandmarks) -> FaceLandmarks | None:
        """Landmarks of one frame in the region of a neighbouring face, leaving the tracking state alone."""
        region = FaceRegion.around_landmarks(neighbour.points, _REGION_SCALE)
        points = self._mesh.landmarks(frames, index, region)
        return FaceLandmarks(points) if points is not None else None

    def _track_frame(self, frames: YuvBatch, index: int) -> FaceLandmarks | None:
        due = self._frame_index % self._detect_interval == 0
        self._frame_index += 1
        region = self._next_region(frames, index, due)
        points = self._mesh.landmarks(frames, index, region) if region is not None else None
        if points is None and not due and self._last is not None:
            # The face left the region it was followed into (a fast move): look for it at once.
            region = self._detect(frames, index)
            points = self._mesh.landmarks(frames, index, region) if region is not None else None
        if points is None:
            self._last = self._region = None
            return None
        self._region = region
        self._last = self._smooth(points)
        if self._path is not None:
            self._face_point = self._last.points.mean(axis=0)  # where to look for the face if it is lost
        return self._last

    def _next_region(self, frames: YuvBatch, index: int, due: bool) -> FaceRegion | None:
        """The region follows the landmarks; the detector finds the face and re-anchors it on drift."""
        following = None
        if self._last is not None:
            following = FaceRegion.around_landmarks(self._last.points, _REGION_SCALE)
            if self._region is not None and self._region.drift(following) <= _REGION_HYSTERESIS:
                following = self._region
        if not due and following is not None:
            return following
        # A periodic search also looks at the frame in quarters while no face is followed: slower,
        # but it finds faces too small to see in the whole frame at the detector's size.
        detected = self._detect(frames, index, search_tiles=due and following is None)
        if following is None or detected is None:
            return detected or following
        return following if following.drift(detected) <= _REANCHOR_DRIFT else detected

    def _detect(self, frames: YuvBatch, index: int, search_tiles: bool = False) -> FaceRegion | None:
        near = self._last.points[:, :2].mean(axis=0) if self._last is not None else self._face_point
        face = self._detector.detect(frames, index, search_tiles, near)
        if face is None:
            return None
        if self._path is not None and near is not None:
            # Another face than the one followed in this shot: none.
            if np.linalg.norm(face.center - near) > face.size.max():
                return None
        size = face.size.max() * _REGION_SCALE
        return FaceRegion.level_with_eyes(face.center, size, face.right_eye, face.left_eye)

    def _smooth(self, points: np.ndarray) -> FaceLandmarks:
        previous = self._last
        if previous is not None:
            jump = np.linalg.norm(points.mean(axis=0) - previous.points.mean(axis=0))
            if jump < _JUMP_FRACTION * previous.size:
                motion = np.linalg.norm(points - previous.points, axis=1, keepdims=True) / previous.size
                weight = np.clip(motion / _FAST_MOTION, _SMOOTHING, 1.0)
                points = weight * points + (1 - weight) * previous.points
        return FaceLandmarks(points.astype(np.float32))
