"""What the drawn mouth takes from the face: teeth lit like the eyes' whites, partings below teeth."""

import numpy as np
import skimage.data
import torch

from app.pipeline.face import tracking
from app.pipeline.face.tracking import FaceLandmarks, FaceTracker
from app.pipeline.media.yuv import YuvBatch
from app.pipeline.render import mouth_palette
from app.pipeline.render.own_mouths import INNER_LIPS
from tests import media_factory


def face_batch(photo: np.ndarray) -> tuple[YuvBatch, object]:
    even = np.ascontiguousarray(photo[: photo.shape[0] // 2 * 2, : photo.shape[1] // 2 * 2])
    batch = YuvBatch.from_rgb(even[None])
    face = FaceTracker().track(batch)[0]
    assert face is not None
    return batch, face


def darker_skin(photo: np.ndarray, face_points: np.ndarray) -> np.ndarray:
    """The photo with everything but the eyes' whites and teeth at 45 % brightness: darker skin
    under the same light."""
    rgb = photo.astype(np.float32)
    brightest = rgb.max(axis=2)
    grey_and_bright = ((brightest - rgb.min(axis=2)) < 0.35 * brightest) & (rgb.mean(axis=2) > 150)
    return np.where(grey_and_bright[..., None], rgb, rgb * 0.45).astype(np.uint8)


def test_drawn_teeth_are_lit_like_the_eyes_whites_whatever_the_skin():
    photo = media_factory.hopper_photo()
    batch, face = face_batch(photo)
    light = mouth_palette.enamel_colour(batch, 0, face)
    dark_batch, dark_face = face_batch(darker_skin(photo, face.points))
    dark = mouth_palette.enamel_colour(dark_batch, 0, dark_face)
    assert light is not None and dark is not None
    # Same light, same teeth: the skin's tone does not darken them.
    assert abs(light.mean() - dark.mean()) < 0.08
    assert light.mean() > 0.6


def test_own_teeth_give_the_enamel_where_the_source_shows_them():
    smile = skimage.data.astronaut()
    batch, face = face_batch(smile)
    enamel = mouth_palette.enamel_colour(batch, 0, face)
    assert enamel is not None and enamel.mean() > 0.75
    assert enamel.max() - enamel.min() < 0.25  # nearly grey, as teeth


def test_teeth_never_read_darker_than_the_skin():
    grey = torch.tensor([[0.4, 0.4, 0.4], [float("nan")] * 3])
    skin = torch.tensor([[0.7, 0.55, 0.45], [0.3, 0.2, 0.15]])
    lit = mouth_palette.lit_enamel(grey, skin)
    luma = lit @ torch.tensor([0.299, 0.587, 0.114])
    skin_luma = skin @ torch.tensor([0.299, 0.587, 0.114])
    assert (luma >= skin_luma).all() and not lit.isnan().any()


def test_drawn_teeth_stay_nearly_grey_when_the_eyes_read_skin_coloured():
    pinkish = torch.tensor([[0.6, 0.42, 0.38]])
    lit = mouth_palette.lit_enamel(pinkish, torch.tensor([[0.5, 0.35, 0.3]]))
    assert float((lit.max() - lit.min()) / lit.max()) <= 0.151


def test_a_smile_parts_below_its_upper_teeth_and_a_closed_mouth_at_the_lower_lip():
    batch, face = face_batch(skimage.data.astronaut())
    # The astronaut's gap is filled with upper teeth: it parts at their edge, near or below the
    # lower lip's landmark (the mesh puts it on the teeth), never mid-teeth.
    gap = mouth_palette.read_gap(batch, 0, face)
    assert gap.parting < 0.3 and gap.shows_teeth
    closed_batch, closed_face = face_batch(media_factory.hopper_photo())
    assert mouth_palette.read_gap(closed_batch, 0, closed_face) == mouth_palette.GapReading(0.0, False, 0.0)


def test_steady_takes_the_median_and_skips_missing_measures():
    values = [np.array([0.5, 0.5, 0.5]), None, np.array([0.7, 0.7, 0.7]), np.array([0.9, 0.9, 0.9])]
    assert np.allclose(mouth_palette.steady(values), 0.7)
    assert mouth_palette.steady([None, None]) is None


def _tongue_filled_mouth(lower_band: tuple[int, int, int]) -> tuple[YuvBatch, FaceLandmarks]:
    """A mouth open from row 92 (the upper lip's inner edge) to row 116, filled with a pink tongue
    down to `lower_band` (rows 112-116) over the lower lip (rows 116-128); the mesh, as on a
    real such photo, takes the tongue for lip and puts the lower lip's inner edge at row 97."""
    image = np.full((200, 200, 3), (200, 150, 130), np.uint8)
    image[80:92, 60:140] = (170, 90, 85)  # upper lip
    image[92:112, 60:140] = (150, 85, 85)  # tongue
    image[112:116, 60:140] = lower_band
    image[116:128, 60:140] = (170, 90, 85)  # lower lip
    points = np.tile(np.array([100.0, 20.0], np.float32), (468, 1))  # far from the mouth
    angles = np.linspace(0, 2 * np.pi, len(INNER_LIPS), endpoint=False)
    points[INNER_LIPS] = np.stack([100 + 38 * np.cos(angles), 94.5 + 2.5 * np.sin(angles)], axis=1)
    points[tracking.MOUTH_CORNER_A], points[tracking.MOUTH_CORNER_B] = (60, 95), (140, 95)
    points[tracking.UPPER_LIP_OUTER], points[tracking.UPPER_LIP_INNER] = (100, 80), (100, 92)
    points[tracking.LOWER_LIP_INNER], points[tracking.LOWER_LIP_OUTER] = (100, 97), (100, 128)
    return YuvBatch.from_rgb(image[None]), FaceLandmarks(points)


def test_lower_teeth_below_the_meshs_lower_lip_tell_how_far_down_the_mouth_is_open():
    batch, face = _tongue_filled_mouth(lower_band=(205, 200, 190))
    gap = mouth_palette.read_gap(batch, 0, face)
    assert not gap.shows_teeth  # no upper teeth
    assert 16 <= gap.below_px <= 20  # the teeth end at row 116, 19 px below the mesh's lip


def test_a_lips_red_sheen_below_the_mesh_is_not_taken_for_lower_teeth():
    batch, face = _tongue_filled_mouth(lower_band=(235, 160, 150))
    assert mouth_palette.read_gap(batch, 0, face).below_px == 0
