"""What the drawn mouth takes from the face: teeth lit like the eyes' whites, partings below teeth."""

import numpy as np
import skimage.data
import torch

from app.pipeline.face.tracking import FaceTracker
from app.pipeline.media.yuv import YuvBatch
from app.pipeline.render import mouth_palette
from tests import media_factory, misread_mouth


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


def test_a_smile_reads_as_teeth_in_a_dim_photograph_too():
    """Teeth stand out of the gap by a share of its light, not by fixed levels: the astronaut at
    60 % brightness (her teeth 30 levels above her lips' edge, where 40 were needed) still shows
    teeth and parts in the gap's lower part, below them, so her lips close over them."""
    dim = (skimage.data.astronaut().astype(np.float32) * 0.6).astype(np.uint8)
    batch, face = face_batch(dim)
    gap = mouth_palette.read_gap(batch, 0, face)
    assert gap.shows_teeth and gap.parting < 0.4


def test_steady_takes_the_median_and_skips_missing_measures():
    values = [np.array([0.5, 0.5, 0.5]), None, np.array([0.7, 0.7, 0.7]), np.array([0.9, 0.9, 0.9])]
    assert np.allclose(mouth_palette.steady(values), 0.7)
    assert mouth_palette.steady([None, None]) is None


def test_lower_teeth_below_the_meshs_lower_lip_tell_how_far_down_the_mouth_is_open():
    batch, face = misread_mouth.tongue_filled_mouth()
    gap = mouth_palette.read_gap(batch, 0, face)
    assert not gap.shows_teeth  # no upper teeth
    # The teeth end at row 116, 19 px below the mesh's lower lip.
    expected = misread_mouth.TEETH_ROWS[1] - misread_mouth.MESH_LOWER_INNER
    assert expected - 3 <= gap.below_px <= expected + 1


def test_a_lips_red_sheen_below_the_mesh_is_not_taken_for_lower_teeth():
    batch, face = misread_mouth.tongue_filled_mouth(lower_band=(235, 160, 150))
    assert mouth_palette.read_gap(batch, 0, face).below_px == 0


def test_pale_pink_lips_between_the_meshs_lips_are_not_taken_for_teeth():
    """Pale lips on light skin (or a lipstick's highlight) are as bright as teeth and nearly as
    grey, but pink: a mouth showing them has no teeth of its own, so it gets drawn ones, and they
    do not take the lips' colour."""
    pale_lips = (241, 176, 177)  # read between a light-skinned man's closed lips
    lips_batch, lips_face = misread_mouth.tongue_filled_mouth(shade=pale_lips)
    assert not mouth_palette.read_gap(lips_batch, 0, lips_face).shows_teeth
    assert mouth_palette.enamel_colour(lips_batch, 0, lips_face) is None  # no eyes here either
    teeth_batch, teeth_face = misread_mouth.tongue_filled_mouth(shade=misread_mouth.TEETH)
    assert mouth_palette.read_gap(teeth_batch, 0, teeth_face).shows_teeth
    enamel = mouth_palette.enamel_colour(teeth_batch, 0, teeth_face)
    assert enamel is not None and np.allclose(enamel * 255, misread_mouth.TEETH, atol=6)
