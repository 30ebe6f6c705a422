"""The full-range detector run directly agrees with mediapipe's own FaceDetection solution."""

import imageio.v3 as iio
import mediapipe as mp
import numpy as np
import pytest

from app.pipeline.face.detection import FaceDetector
from app.pipeline.media.yuv import YuvBatch
from tests import media_factory


@pytest.fixture(scope="module")
def detector():
    return FaceDetector()


@pytest.mark.parametrize("width, height, face_scale", [(512, 512, 1.0), (1280, 720, 1.0), (1280, 720, 1.3)])
def test_matches_mediapipe(tmp_path, detector, width, height, face_scale):
    image = iio.imread(media_factory.face_image(tmp_path / "face.png", width, height, face_scale))
    with mp.solutions.face_detection.FaceDetection(model_selection=1) as reference:
        expected = reference.process(image).detections[0].location_data
    box, right_eye = expected.relative_bounding_box, expected.relative_keypoints[0]
    frame_size = np.array([width, height])
    expected_center = (np.array([box.xmin, box.ymin]) + np.array([box.width, box.height]) / 2) * frame_size
    expected_size = box.width * width

    face = detector.detect(YuvBatch.from_rgb(image[None]), 0)

    assert face is not None and face.score > 0.6
    assert np.linalg.norm(face.center - expected_center) < 0.05 * expected_size
    assert face.size[0] == pytest.approx(expected_size, rel=0.08)
    assert np.linalg.norm(face.right_eye - np.array([right_eye.x, right_eye.y]) * frame_size) < 0.05 * expected_size
    assert face.left_eye[0] > face.right_eye[0]  # the subject's left eye is on the image's right


def test_no_face_in_a_plain_frame(detector):
    frame = np.full((720, 1280, 3), 90, np.uint8)
    assert detector.detect(YuvBatch.from_rgb(frame[None]), 0) is None
