"""Face tracking on real photographs: near and small faces, smoothing, frames without a face."""

import imageio.v3 as iio
import numpy as np
import pytest

from app.pipeline.face import tracking
from app.pipeline.face.tracking import FaceTracker
from app.pipeline.media.yuv import YuvBatch
from tests import media_factory


def still(tmp_path, width: int, height: int, scale: float = 1.0) -> np.ndarray:
    return iio.imread(media_factory.face_image(tmp_path / "face.png", width, height, scale))


@pytest.fixture
def tracker():
    return FaceTracker(detect_interval=3)


def test_finds_lips_below_nose_below_eyes(tmp_path, tracker):
    face = tracker.track(YuvBatch.from_rgb(still(tmp_path, 512, 512)[None]))[0]
    assert face is not None and face.points.shape == (468, 2)
    nose, upper_lip, chin = (face.point(i)[1] for i in (tracking.NOSE_TIP, tracking.UPPER_LIP_OUTER, tracking.CHIN))
    assert nose < upper_lip < chin
    corner_a, corner_b = face.point(tracking.MOUTH_CORNER_A), face.point(tracking.MOUTH_CORNER_B)
    assert 20 < abs(corner_b[0] - corner_a[0]) < 80


def test_finds_a_100px_face_in_a_720p_frame(tmp_path, tracker):
    frame = still(tmp_path, 1280, 720)
    faces = tracker.track(YuvBatch.from_rgb(np.stack([frame] * 4)))
    assert all(face is not None for face in faces)
    assert 80 < faces[-1].size < 160


def test_finds_a_100px_face_in_a_1080p_frame_by_searching_quarters(tmp_path, tracker):
    # At the detector's 192 px the whole frame shows this face 10 px wide: too small to find.
    frame = still(tmp_path, 1920, 1080)
    faces = tracker.track(YuvBatch.from_rgb(np.stack([frame] * 2)))
    assert all(face is not None for face in faces)
    assert 80 < faces[-1].size < 160
    center = faces[-1].points.mean(axis=0)
    assert abs(center[0] - 960) < 60 and abs(center[1] - 540) < 200


def test_static_face_landmarks_are_stable_over_time(tmp_path, tracker):
    faces = tracker.track(YuvBatch.from_rgb(np.stack([still(tmp_path, 512, 512)] * 8)))
    spread = np.stack([face.points for face in faces]).std(axis=0).max()
    assert spread < 1.0


@pytest.mark.parametrize("step", [1, 3])
def test_frames_without_a_face_give_none_and_tracking_recovers(tmp_path, step):
    frame = still(tmp_path, 512, 512)
    blank = np.full_like(frame, 127)
    # With step 3 landmarks are searched on frames 0, 3 and 6; the others are interpolated or looked at.
    frames = np.stack([frame, blank, blank, blank, blank, frame, frame])
    tracker = FaceTracker(detect_interval=3, landmark_step=step)
    found = [face is not None for face in tracker.track(YuvBatch.from_rgb(frames))]
    assert found == [True, False, False, False, False, True, True]


def test_interpolated_frames_lie_between_their_keyframes(tmp_path):
    frame = still(tmp_path, 512, 512)
    shifted = np.roll(frame, 6, axis=1)
    tracker = FaceTracker(landmark_step=3)
    faces = tracker.track(YuvBatch.from_rgb(np.stack([frame, frame, frame, shifted])))
    x = [face.points[:, 0].mean() for face in faces]
    assert x[0] < x[1] < x[2] < x[3]


def test_a_face_that_jumps_between_detections_is_found_in_the_same_frame(tmp_path):
    frame = still(tmp_path, 1280, 720)
    moved = np.roll(frame, 350, axis=1)
    tracker = FaceTracker(detect_interval=100)
    faces = tracker.track(YuvBatch.from_rgb(np.stack([frame, frame, moved, moved])))
    assert all(face is not None for face in faces)
    shift = faces[2].points[:, 0].mean() - faces[1].points[:, 0].mean()
    assert shift == pytest.approx(350, abs=10)
