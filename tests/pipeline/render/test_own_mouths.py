"""A kept source mouth pasted onto another frame: aligned with the face, colour-matched, seamless."""

import cv2
import numpy as np
import pytest
import skimage.data
import torch

from app.pipeline.engines.viseme import VisemeEngine
from app.pipeline.face import tracking
from app.pipeline.face.tracking import FaceTracker
from app.pipeline.media.yuv import YuvBatch
from app.pipeline.render.own_mouths import MouthBank, paste_own_mouth, teeth_share
from tests import media_factory

SIZE = 512
# The camera between the kept frame and the frame pasted on: zoom, turn (degrees), shift (px).
CAMERA = (1.12, 4.0, (18.0, -10.0))


def camera_move(image: np.ndarray) -> np.ndarray:
    zoom, degrees, (dx, dy) = CAMERA
    matrix = cv2.getRotationMatrix2D((SIZE / 2, SIZE / 2), degrees, zoom)
    matrix[:, 2] += (dx, dy)
    return cv2.warpAffine(image, matrix, (SIZE, SIZE), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def landmarks(image: np.ndarray) -> tracking.FaceLandmarks:
    face = FaceTracker().track(YuvBatch.from_rgb(image[None]))[0]
    assert face is not None
    return face


@pytest.fixture(scope="module")
def frames() -> dict[str, np.ndarray]:
    """The astronaut with her mouth opened wide by the engine (the kept frame), and the plain
    photograph seen by a camera that zoomed, turned and moved (the frame pasted on)."""
    photo = skimage.data.astronaut()
    batch = YuvBatch.from_rgb(photo[None])
    open_wide = np.array([[0.8, 0.0, 0.0, 0.0]], np.float32)
    VisemeEngine(torch.device("cpu")).render(batch, [landmarks(photo)], open_wide)
    opened = batch.to_rgb()[0]
    return {"opened": opened, "moved": camera_move(photo), "opened_moved": camera_move(opened)}


def paste(kept: np.ndarray, onto: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`onto` before (as a YUV frame holds it) and after pasting `kept`'s mouth."""
    kept_batch, target = YuvBatch.from_rgb(kept[None]), YuvBatch.from_rgb(onto[None])
    before = target.to_rgb()[0]
    bank = MouthBank.for_face(landmarks(kept))
    bank.add(kept_batch, 0, landmarks(kept))
    paste_own_mouth(target, 0, landmarks(onto), bank, 0)
    return before, target.to_rgb()[0]


def mouth_box(face: tracking.FaceLandmarks) -> tuple[slice, slice]:
    lips = face.points[[61, 291, 0, 17]]
    (x0, y0), (x1, y1) = lips.min(axis=0).astype(int) - 4, lips.max(axis=0).astype(int) + 4
    return slice(y0, y1), slice(x0, x1)


def mean_difference(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(float) - b.astype(float)).mean())


def closest_shift(image: np.ndarray, truth: np.ndarray, region: tuple[slice, slice]) -> tuple[float, float]:
    """(dx, dy), in half pixels up to 2 px each way, that moves `image` closest to `truth` in `region`."""
    height, width = image.shape[:2]
    steps = np.arange(-2, 2.01, 0.5)

    def difference(dx: float, dy: float) -> float:
        moved = cv2.warpAffine(image, np.float32([[1, 0, dx], [0, 1, dy]]), (width, height), flags=cv2.INTER_LINEAR)
        return mean_difference(moved[region], truth[region])

    return min(((dx, dy) for dx in steps for dy in steps), key=lambda shift: difference(*shift))


def test_the_kept_mouth_lands_on_the_moved_face_where_the_camera_would_show_it(frames):
    _, result = paste(frames["opened"], frames["moved"])
    mouth = mouth_box(landmarks(frames["moved"]))
    # The truth: the opened frame seen through the same camera move.
    truth = frames["opened_moved"]
    unpasted = mean_difference(frames["moved"][mouth], truth[mouth])
    assert unpasted > 25
    assert mean_difference(result[mouth], truth[mouth]) < 0.7 * unpasted
    # The landmarks place the mouth within a pixel of it: no shift by more brings the paste closer
    # to the truth (what is left is the two resamplings' softening of the open mouth's edges).
    best_dx, best_dy = closest_shift(result, truth, mouth)
    assert abs(best_dx) <= 1 and abs(best_dy) <= 1


def test_eyes_and_nose_stay_and_the_edge_of_the_paste_does_not_show(frames):
    before, result = paste(frames["opened"], frames["moved"])
    face = landmarks(frames["moved"])
    above_nose = int(face.point(tracking.NOSE_TIP)[1])
    assert np.array_equal(result[:above_nose], before[:above_nose])
    # Outside both faces' lips and jaws (the frame's, and the kept one's where the camera shows
    # it: its jaw dropped with the opening) the picture is the moved photo's own, within
    # compression noise.
    changed = np.abs(result.astype(int) - before).max(axis=2) > 12
    rows, cols = np.nonzero(changed)
    kept = landmarks(frames["opened_moved"])
    lips_and_jaw = np.concatenate([face.points[[61, 291, 0, 152]], kept.points[[61, 291, 0, 152]]])
    low, high = lips_and_jaw.min(axis=0), lips_and_jaw.max(axis=0)
    reach = 0.35 * (high[0] - low[0])
    assert cols.min() > low[0] - reach and cols.max() < high[0] + reach
    assert rows.min() > above_nose and rows.max() < high[1] + reach


def test_the_kept_mouth_takes_the_light_of_the_frame_it_lands_in(frames):
    """Pasted onto the frame in a fifth less light, the kept lower face is a fifth darker than
    pasted onto the frame itself: light scales colours (an offset, as a shift of the mean, would
    leave bright skin too bright where the blend's edge runs over the dark collar)."""
    darker = (frames["moved"] * 0.8).astype(np.uint8)
    before, in_less_light = paste(frames["opened"], darker)
    _, in_the_light = paste(frames["opened"], frames["moved"])
    face = landmarks(frames["moved"])
    chin = face.point(tracking.CHIN).astype(int)
    lower_lip = face.point(tracking.LOWER_LIP_OUTER).astype(int)
    chin_skin = (slice(lower_lip[1] + 4, chin[1] - 4), slice(chin[0] - 15, chin[0] + 15))
    assert not np.array_equal(in_less_light[chin_skin], before[chin_skin])  # pasted there
    frames_ratio = darker[chin_skin].mean() / frames["moved"][chin_skin].mean()
    assert abs(in_less_light[chin_skin].mean() / in_the_light[chin_skin].mean() - frames_ratio) < 0.02


def test_teeth_are_measured_inside_the_lips():
    smile = skimage.data.astronaut()
    assert teeth_share(smile, landmarks(smile).points) > 0.3
    closed = media_factory.hopper_photo()[:SIZE]
    assert teeth_share(closed, landmarks(closed).points) < 0.05
