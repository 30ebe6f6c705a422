"""MuseTalk's face box (the reference's rule on 68 points taken from our face mesh) and blend mask."""

import numpy as np
import pytest
import skimage.data

from app.pipeline.engines.musetalk.face_crop import (
    CHIN_MARGIN_PX,
    LOWER_NOSE_BRIDGE,
    face_box,
    ibug_points,
    lower_face_mask,
)
from app.pipeline.face import tracking
from app.pipeline.face.tracking import FaceTracker
from app.pipeline.media.yuv import YuvBatch
from tests import media_factory


def points_with(left: float, right: float, bridge: float, chin: float) -> np.ndarray:
    """68 points inside the given extremes, with landmark 29 at height `bridge`."""
    points = np.tile([(left + right) / 2, (bridge + chin) / 2], (68, 1))
    points[0, 0], points[16, 0], points[8, 1] = left, right, chin
    points[LOWER_NOSE_BRIDGE, 1] = bridge
    return points


def test_box_is_the_reference_rule_on_truncated_points():
    # Truncated: left 20, right 120, bridge 80, chin 140. Top: as far above the bridge as the chin
    # is below it (80 - 60); bottom: the chin plus v1.5's 10-pixel margin.
    assert face_box(points_with(20.9, 120.5, 80.9, 140.2), 300, 300) == (20, 20, 120, 140 + CHIN_MARGIN_PX)


def test_box_is_clipped_to_the_frame():
    # The reference clips the top at 0 and the margin at the frame's height; a face cut by the
    # left edge is clipped here too (the reference switches to another detector's box there).
    assert face_box(points_with(-5.0, 90.0, 30.0, 195.0), 200, 100) == (0, 0, 90, 200)


@pytest.fixture(scope="module", params=["astronaut", "hopper"])
def face(request):
    photo = skimage.data.astronaut() if request.param == "astronaut" else media_factory.hopper_photo()
    photo = photo[: photo.shape[0] // 2 * 2, : photo.shape[1] // 2 * 2]
    return FaceTracker(detect_interval=1).track(YuvBatch.from_rgb(photo[None]))[0], photo.shape[:2]


def test_points_from_the_mesh_sit_where_the_68_point_scheme_puts_them(face):
    """Tolerances: landmark 29 within 10 % of the nose bridge's length of two thirds down it
    (iBUG's 27-30 split the bridge evenly); the box's sides within 6 % of the face's width
    of its widest points (the jaw's ends, 0 and 16, are at the ears); the bottom at the chin."""
    landmarks, (height, width) = face
    points = ibug_points(landmarks)
    nasion, tip = landmarks.point(168), landmarks.point(tracking.NOSE_TIP)
    down_the_bridge = (points[LOWER_NOSE_BRIDGE, 1] - nasion[1]) / (tip[1] - nasion[1])
    assert abs(down_the_bridge - 2 / 3) <= 0.1
    x0, y0, x1, y1 = face_box(points, height, width)
    widest = landmarks.points[:, 0].min(), landmarks.points[:, 0].max()
    face_width = widest[1] - widest[0]
    assert abs(x0 - widest[0]) <= 0.06 * face_width and abs(x1 - widest[1]) <= 0.06 * face_width
    assert abs(y1 - CHIN_MARGIN_PX - landmarks.point(tracking.CHIN)[1]) <= 1.5
    # The box's middle row, the line between the kept and the masked half, is landmark 29's.
    assert abs((y0 + y1 - CHIN_MARGIN_PX) / 2 - points[LOWER_NOSE_BRIDGE, 1]) <= 1


def test_blend_mask_covers_the_mouth_spares_the_nose_and_fades_to_the_box_edge(face):
    landmarks, (height, width) = face
    box = face_box(ibug_points(landmarks), height, width)
    mask = lower_face_mask(landmarks, box)
    x0, y0, x1, y1 = box
    assert mask.shape == (y1 - y0, x1 - x0)
    mouth = ((landmarks.point(tracking.UPPER_LIP_INNER) + landmarks.point(tracking.LOWER_LIP_INNER)) / 2).astype(int)
    assert mask[mouth[1] - y0, mouth[0] - x0] > 0.95
    assert mask[: int(landmarks.point(tracking.NOSE_BOTTOM)[1]) - y0 + 1].max() == 0
    assert mask[0].max() == mask[-1].max() == mask[:, 0].max() == mask[:, -1].max() == 0
    # Feathered: no step between neighbouring pixels over a quarter of the full weight, even where
    # the nose meets the lip 6 px apart (the astronaut's 95-px face); a hard edge would step by 1.
    assert max(np.abs(np.diff(mask, axis=0)).max(), np.abs(np.diff(mask, axis=1)).max()) < 0.25
