"""The face-landmark model run directly agrees with mediapipe's own FaceMesh solution."""

import cv2
import mediapipe as mp
import numpy as np
import pytest
import skimage.data

from app.pipeline.face.mesh import FaceMeshModel, FaceRegion
from app.pipeline.media.yuv import YuvBatch


def mediapipe_landmarks(image: np.ndarray) -> np.ndarray:
    with mp.solutions.face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1) as mesh:
        found = mesh.process(image).multi_face_landmarks[0].landmark
    height, width = image.shape[:2]
    return np.array([(point.x * width, point.y * height) for point in found])


@pytest.fixture(scope="module")
def model():
    return FaceMeshModel()


@pytest.mark.parametrize("tilt_degrees", [0, 25])
def test_matches_mediapipe_on_upright_and_tilted_heads(model, tilt_degrees):
    photo = skimage.data.astronaut()
    turn = cv2.getRotationMatrix2D((256, 256), tilt_degrees, 1.0)
    image = cv2.warpAffine(photo, turn, (512, 512), borderMode=cv2.BORDER_REFLECT)
    reference = mediapipe_landmarks(image)
    # A region framed a little off the face, as tracking leaves it between frames.
    region = FaceRegion.around_landmarks(reference + np.array([6.0, -4.0]), 1.5)

    points = model.landmarks(YuvBatch.from_rgb(image[None]), 0, region)

    assert points is not None and points.shape == (468, 2)
    face_size = np.ptp(reference, axis=0).max()
    assert np.linalg.norm(points - reference, axis=1).mean() < 0.012 * face_size
    eyes = points[263] - points[33]
    # cv2 turns counter-clockwise on screen, which is a negative angle with y pointing down.
    assert np.degrees(np.arctan2(eyes[1], eyes[0])) == pytest.approx(-tilt_degrees, abs=4)


def test_a_region_without_a_face_gives_none(model):
    frame = np.full((512, 512, 3), 127, np.uint8)
    region = FaceRegion(np.array([256.0, 256.0]), 200.0, 0.0)
    assert model.landmarks(YuvBatch.from_rgb(frame[None]), 0, region) is None


def test_region_drift_counts_shift_size_and_turn():
    region = FaceRegion(np.array([100.0, 100.0]), 200.0, 0.0)
    assert region.drift(FaceRegion(np.array([110.0, 100.0]), 200.0, 0.0)) == pytest.approx(0.05)
    assert region.drift(FaceRegion(np.array([100.0, 100.0]), 230.0, 0.0)) == pytest.approx(0.15)
    assert region.drift(FaceRegion(np.array([100.0, 100.0]), 200.0, 2 * np.pi - 0.1)) == pytest.approx(0.1)
