"""The embedded engine on mouths the face mesh misreads: it closes an open mouth whose tongue the
mesh took for lip, and opens closed lips the mesh reads apart from where they touch."""

import numpy as np
import torch

from app.pipeline.engines.viseme import MouthDrawer, mouth_is_open
from app.pipeline.media.yuv import YuvBatch
from tests import misread_mouth

CLOSED = [0.0, 0.0, 0.0, 1.0]
# The inside's top rows: a dark shade, so the mesh's narrow gap reads as an open mouth.
DARK_INSIDE = (90, 50, 50)


def test_an_open_mouth_read_as_nearly_shut_closes_over_its_lower_teeth():
    batch, face = misread_mouth.tongue_filled_mouth(shade=DARK_INSIDE)
    assert mouth_is_open(batch, 0, face)
    MouthDrawer(torch.device("cpu")).draw(batch, {0: face}, np.array([CLOSED], np.float32))
    middle = batch.rgb(0)[misread_mouth.UPPER_INNER - 2 : misread_mouth.LOWER_OUTER, 96:105].mean(axis=1)
    luma = middle @ np.array([0.299, 0.587, 0.114])
    # The lower lip has risen over the tongue and the lower teeth (the mesh's 5 px gap alone would
    # leave them showing): down the middle no row is brighter than the skin (teeth, or a line of
    # them between the lips), none is the dark inside.
    as_luma = lambda colour: float(np.array(colour) @ [0.299, 0.587, 0.114])
    assert luma.max() < as_luma(misread_mouth.SKIN) + 8, luma
    assert luma.min() > as_luma(DARK_INSIDE) + 10, luma


def changed_rows(shape: list[float]) -> int:
    """Rows down the middle of the closed lips read apart that `shape` changes visibly."""
    batch, face = misread_mouth.closed_lips_read_apart()
    before = batch.rgb(0)[60:140, 96:105].astype(float).mean(axis=1)
    MouthDrawer(torch.device("cpu")).draw(batch, {0: face}, np.array([shape], np.float32))
    after = batch.rgb(0)[60:140, 96:105].astype(float).mean(axis=1)
    return int((np.abs(after - before).max(axis=1) > 30).sum())


def test_closed_lips_the_mesh_reads_apart_open_from_where_they_touch():
    # A third of the widest opening is about 13 px: counted from the mesh's 12 px gap it would be
    # 1 px; the lips touch, so it is 11.
    assert changed_rows([0.3, 0.0, 0.0, 0.0]) >= 8
    # Closing them for m/b/p presses nothing further together (the mesh's gap would be 14 px).
    assert changed_rows(CLOSED) <= 3


def test_a_mouth_open_over_a_tongue_closes_in_the_frames_that_show_no_dark_inside():
    """A mouth open mid-word, filmed: in most frames a dark inside shows above the tongue, in
    some the tongue fills the gap and its pixels alone read as lips together. Those close too."""
    open_frame, face = misread_mouth.tongue_filled_mouth(shade=DARK_INSIDE)
    tongue_frame, _ = misread_mouth.tongue_filled_mouth(shade=misread_mouth.TONGUE)
    assert not mouth_is_open(tongue_frame, 0, face)
    batch = YuvBatch.from_rgb(np.stack([open_frame.rgb(0), open_frame.rgb(0), tongue_frame.rgb(0)]))
    before = batch.rgb(2).astype(float)
    MouthDrawer(torch.device("cpu")).draw(batch, {i: face for i in range(3)}, np.array([CLOSED] * 3, np.float32))
    # The lips closed over the tongue: rows down the middle changed as the lips moved (none
    # where it was taken for lips that touch).
    changed = np.abs(batch.rgb(2).astype(float) - before)[60:140, 96:105].max(axis=(1, 2)) > 8
    assert changed.sum() >= 6, changed.sum()
