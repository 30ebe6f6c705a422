"""The embedded engine on faces unlike the one it was tuned on: the drawn mouth takes its light
from the person (dark skin gets no hole), and an open mouth closes with both lips, unstretched."""

import numpy as np
import pytest
import torch

from app.pipeline.engines.viseme import VisemeEngine
from app.pipeline.face import tracking
from app.pipeline.face.tracking import FaceLandmarks, FaceTracker
from app.pipeline.media.yuv import YuvBatch
from app.pipeline.render.own_mouths import inner_lips_mask, reads_as_teeth
from tests import media_factory

OPEN = [0.8, 0.0, 0.0, 0.0]
CLOSED = [0.0, 0.0, 0.0, 1.0]


def darker_skin(photo: np.ndarray) -> np.ndarray:
    """The photo at 40 % brightness but for its nearly grey bright pixels (the eyes' whites):
    a darker-skinned person under the same light."""
    rgb = photo.astype(np.float32)
    brightest = rgb.max(axis=2)
    grey_and_bright = ((brightest - rgb.min(axis=2)) < 0.35 * brightest) & (rgb.mean(axis=2) > 150)
    return np.where(grey_and_bright[..., None], rgb, rgb * 0.4).astype(np.uint8)


def track(photo: np.ndarray) -> FaceLandmarks:
    face = FaceTracker().track(YuvBatch.from_rgb(photo[None]))[0]
    assert face is not None
    return face


def render(engine: VisemeEngine, photo: np.ndarray, shape: list[float]) -> np.ndarray:
    batch = YuvBatch.from_rgb(photo[None])
    engine.render(batch, [track(photo)], np.array([shape], np.float32))
    return batch.to_rgb()[0]


def chin_skin(face: FaceLandmarks) -> tuple[slice, slice]:
    lip, chin = face.point(tracking.LOWER_LIP_OUTER), face.point(tracking.CHIN)
    depth = chin[1] - lip[1]
    return slice(int(lip[1] + 0.2 * depth), int(chin[1] - 0.2 * depth)), slice(int(chin[0] - 10), int(chin[0] + 10))


def luma(rgb: np.ndarray) -> np.ndarray:
    return rgb.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)


@pytest.fixture(scope="module")
def engine() -> VisemeEngine:
    return VisemeEngine(torch.device("cpu"))


@pytest.fixture(scope="module")
def portrait() -> np.ndarray:
    """Grace Hopper's closed mouth, a face about 190 px wide."""
    return np.ascontiguousarray(media_factory.hopper_photo()[:512])


@pytest.mark.parametrize("skin", ["as photographed", "darker"])
def test_an_opened_mouth_shows_a_lit_interior_and_teeth_on_any_skin(engine, portrait, skin):
    photo = portrait if skin == "as photographed" else darker_skin(portrait)
    output = render(engine, photo, OPEN)
    face = track(output)
    inside = output[inner_lips_mask(output.shape, face.points)]
    skin_luma = float(luma(output[chin_skin(face)]).mean())
    # Measured as a viewer sees it, on the output's own landmarks: no dark hole, real teeth.
    assert luma(inside).mean() > 0.4 * skin_luma
    assert reads_as_teeth(inside, skin_luma).mean() > 0.08


def test_the_drawn_teeth_do_not_darken_with_the_skin(engine, portrait):
    teeth = []
    for photo in (portrait, darker_skin(portrait)):
        output = render(engine, photo, OPEN)
        inside = output[inner_lips_mask(output.shape, track(output).points)]
        teeth.append(np.percentile(luma(inside), 90))
    assert teeth[1] > 0.8 * teeth[0]


def test_an_open_mouth_closes_with_both_lips_and_an_unstretched_chin(engine, portrait):
    opened = render(engine, portrait, OPEN)  # an open-mouthed source: the engine's own wide mouth
    closed = render(engine, opened, CLOSED)
    source_face, closed_face = track(opened), track(closed)
    gap = lambda face: float(
        np.linalg.norm(face.point(tracking.UPPER_LIP_INNER) - face.point(tracking.LOWER_LIP_INNER))
    )
    width = float(
        np.linalg.norm(source_face.point(tracking.MOUTH_CORNER_A) - source_face.point(tracking.MOUTH_CORNER_B))
    )
    assert gap(source_face) > 0.2 * width and gap(closed_face) < 0.05 * width
    # The skin between the lower lip and the chin keeps its texture (vertical detail), measured
    # where each image's own landmarks put it: the chin rises with the jaw, so the same pixels
    # would show the chin's underside, not whether the skin was smeared.
    detail = lambda image, face: float(np.abs(np.diff(luma(image[chin_skin(face)]), axis=0)).mean())
    assert detail(closed, closed_face) > 0.7 * detail(opened, source_face)
    # Nothing of the open interior (dark cavity, teeth) is left between the lips.
    inside = closed[inner_lips_mask(closed.shape, closed_face.points)]
    if len(inside):
        assert luma(inside).mean() > 0.6 * luma(closed[chin_skin(closed_face)]).mean()
