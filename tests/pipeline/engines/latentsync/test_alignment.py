"""LatentSync's face alignment, mouth mask and paste-back against the unmodified reference
(`tests/fixtures/latentsync/make_frame_fixtures.py`), on frames of the astronaut photograph."""

from pathlib import Path

import numpy as np
import pytest
import torch

from app.pipeline.engines.latentsync.alignment import (
    CROP_HEIGHT,
    CROP_WIDTH,
    TEMPLATE,
    AlignmentTrack,
    align_face,
    anchor_points,
    frame_box,
    similarity_to_template,
)
from app.pipeline.engines.latentsync.mask import keep_mask
from app.pipeline.engines.latentsync.restore import FacePaste, restore_face
from app.pipeline.face.tracking import FaceLandmarks
from tests.fixtures.latentsync.make_frame_fixtures import known_face, make_frames

FIXTURE = Path(__file__).parents[3] / "fixtures" / "latentsync" / "frames_reference.npz"


@pytest.fixture(scope="module")
def reference() -> dict[str, np.ndarray]:
    """The reference's outputs, and the frames they were made from (made again: the same bytes)."""
    with np.load(FIXTURE) as data:
        saved = {key: data[key] for key in data.files}
    return saved | {f"frame{index}": frame for index, frame in enumerate(make_frames())}


@pytest.fixture(scope="module")
def matrices(reference: dict[str, np.ndarray]) -> list[np.ndarray]:
    """Ours for the fixture's three frames, in order, with one track (as the reference's one
    `AlignRestore` per video)."""
    track = AlignmentTrack()
    return [track.matrix(anchor_points(FaceLandmarks(points))) for points in reference["points"]]


def test_matrices_match_the_reference_with_smoothing_across_frames(reference, matrices):
    # The reference fits in float32, we in float64: crop positions agree to well under a pixel.
    for ours, theirs in zip(matrices, reference["matrices"]):
        np.testing.assert_allclose(ours[:, :2], theirs[:, :2], rtol=1e-5)
        np.testing.assert_allclose(ours[:, 2], theirs[:, 2], atol=2e-3)


def test_aligned_faces_match_the_reference(reference, matrices):
    """Truncation to bytes after the warp flips a level where the two sides' sample lands on
    either side of an integer (measured: 1 level on 0.02-0.05 % of the values)."""
    for index, theirs in enumerate(reference["faces"]):
        ours = align_face(reference[f"frame{index}"], matrices[index])
        difference = np.abs(ours.astype(int) - theirs.astype(int))
        assert difference.max() <= 1
        assert (difference > 0).mean() < 0.002


def test_restored_frames_match_the_reference(reference, matrices):
    for index in range(2):
        frame = reference[f"frame{index}"]
        face = known_face(torch.from_numpy(reference["faces"][index]).permute(2, 0, 1))
        paste = restore_face(face, matrices[index], *frame.shape[:2])
        ours = paste_rgb(frame, paste)
        difference = np.abs(ours.astype(int) - reference[f"restored{index}"].astype(int))
        # Measured: 1 level on 2 of ~300,000 values.
        assert difference.max() <= 1
        assert (difference > 0).sum() <= 20
        # The paste changed the face (the known face is upside down), not only its box.
        assert np.abs(ours.astype(int) - frame.astype(int)).max() > 50


def test_aligning_from_the_frame_box_gives_the_whole_frames_crop(reference, matrices):
    """The engine converts only the region the crop samples from to RGB."""
    frame = reference["frame1"]
    x0, y0, x1, y1 = frame_box(matrices[1], *frame.shape[:2])
    assert (x1 - x0) * (y1 - y0) < frame.shape[0] * frame.shape[1] / 2 and x0 % 2 == y0 % 2 == 0
    region = align_face(frame[y0:y1, x0:x1], matrices[1], origin=(x0, y0))
    difference = np.abs(region.astype(int) - align_face(frame, matrices[1]).astype(int))
    # Only a truncation flip (the two grids round differently in float32) may differ.
    assert difference.max() <= 1 and (difference > 0).mean() < 1e-3


def test_mask_is_the_reference_mask(reference):
    np.testing.assert_array_equal(np.round(keep_mask(512) * 255).astype(np.uint8), reference["mask_bytes"])
    # Keep (1) above the mouth, generate (0) over it.
    mask = keep_mask(512)
    assert mask[100, 256] == 1 and mask[400, 256] == 0


def test_a_face_shaped_like_the_template_lands_on_it():
    # Upright: the nose's residual is zero and the anchors land exactly on the template.
    anchors = TEMPLATE / 4 + [100.0, 50.0]
    matrix, bias = similarity_to_template(anchors, None)
    np.testing.assert_allclose(bias, 0, atol=1e-12)
    np.testing.assert_allclose(anchors @ matrix[:, :2].T + matrix[:, 2], TEMPLATE, atol=1e-3)
    # Turned by 20 degrees: the matrix turns it back and scales it by 4.
    angle = np.radians(20)
    turn = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    matrix, _ = similarity_to_template(anchors @ turn.T, None)
    np.testing.assert_allclose(matrix[:, :2], 4 * turn.T, atol=1e-5)


def test_anchors_are_brow_and_nose_centres_rounded_to_pixels():
    points = np.zeros((468, 2), np.float32)
    points[[46, 70, 63, 105, 66, 107]] = [[9.0, 20.0], [11.0, 18.0], [20.0, 17.0], [30.0, 16.0], [40.0, 17.0], [50, 19]]
    points[[276, 300, 293, 334, 296, 336]] = [[91, 20], [89, 18], [80, 17], [70, 16], [60, 17], [50.4, 19]]
    points[[5, 129, 358, 1]] = [[50, 40], [42, 46], [58, 46], [50, 49.6]]
    anchors = anchor_points(FaceLandmarks(points))
    # Brows: (outer corner midpoint, upper outline x3, inner upper corner) / 5; nose: four points / 4.
    np.testing.assert_array_equal(anchors, [[30, 18], [70, 18], [50, 45]])


def test_track_smooths_then_resets():
    anchors = np.array([[100.0, 100.0], [160.0, 102.0], [131.0, 140.0]])
    moved = anchors + [3.0, -2.0]
    track = AlignmentTrack()
    first = track.matrix(anchors)
    alone = similarity_to_template(moved, None)[0]
    smoothed = track.matrix(moved)
    # Same rotation and scale; the translation's nudge is 80 % this frame's, 20 % the last.
    np.testing.assert_allclose(smoothed[:, :2], alone[:, :2], rtol=1e-6)
    nudge_now = similarity_to_template(moved, None)[1]
    nudge_before = similarity_to_template(anchors, None)[1]
    np.testing.assert_allclose(smoothed[:, 2] - alone[:, 2], 0.2 * (nudge_before - nudge_now), atol=1e-4)
    track.reset()
    np.testing.assert_allclose(track.matrix(anchors), first)


def test_paste_covers_only_the_face_and_stays_inside_the_frame():
    # A face whose crop runs past the frame's left and top edges.
    matrix = np.array([[2.0, 0.0, 40.0], [0.0, 2.0, 60.0]], np.float32)
    paste = restore_face(torch.zeros(3, 512, 512), matrix, 240, 320)
    assert paste.x0 == 0 and paste.y0 == 0
    # A paste whose corner is odd in the frame starts at the even pixel before it (YuvBatch.paste).
    shifted = restore_face(
        torch.zeros(3, 512, 512), matrix - np.float32([[0, 0, 2 * 41.5], [0, 0, 2 * 61.5]]), 240, 320
    )
    assert shifted.x0 % 2 == shifted.y0 % 2 == 0 and shifted.alpha[:, :2].max() == 0
    height, width = paste.alpha.shape
    assert height <= 240 and width <= 320
    # The crop covers frame x in [-20, 190), y in [-30, 250): the box ends just past its right side.
    assert width <= 194 and paste.alpha[:, 192:].max() == 0
    assert paste.alpha[100, 100] == pytest.approx(1.0)
    assert CROP_WIDTH / 2 == 210 and CROP_HEIGHT / 2 == 280


def paste_rgb(frame_rgb: np.ndarray, paste: FacePaste) -> np.ndarray:
    """A copy of `frame_rgb` (h, w, 3 uint8) with `paste` blended in and truncated to bytes, as
    the reference composes its output frames."""
    out = frame_rgb.copy()
    height, width = paste.alpha.shape
    region = out[paste.y0 : paste.y0 + height, paste.x0 : paste.x0 + width]
    alpha = paste.alpha[..., None]
    region[:] = (alpha * paste.rgb + (1 - alpha) * region.astype(np.float32)).astype(np.uint8)
    return out
