"""Regions of a face found with the app's tracker: the mouth-and-chin box and the box above the nose."""

import numpy as np

from app.pipeline.face import tracking
from app.pipeline.face.tracking import FaceTracker
from app.pipeline.media.yuv import YuvBatch

Region = tuple[slice, slice]


def mouth_and_upper_regions(frame: np.ndarray) -> tuple[Region, Region]:
    """(mouth-and-chin box, box above the nose) of the face in an RGB frame with even sides."""
    face = FaceTracker().track(YuvBatch.from_rgb(frame[None]))[0]
    if face is None:
        raise AssertionError("no face found in the reference frame")
    nose_y = int(face.point(tracking.NOSE_TIP)[1])
    corners = face.point(tracking.MOUTH_CORNER_A), face.point(tracking.MOUTH_CORNER_B)
    left, right = int(min(c[0] for c in corners)), int(max(c[0] for c in corners))
    chin_y = int(face.point(tracking.CHIN)[1])
    return (slice(nose_y + 5, chin_y), slice(left, right)), above_nose_region(face)


def above_nose_region(face: tracking.FaceLandmarks) -> Region:
    """The box of the face above the nose tip (and 20 px above the face), which lip-sync must
    leave as it is."""
    xs, ys = face.points[:, 0], face.points[:, 1]
    nose_y = int(face.point(tracking.NOSE_TIP)[1])
    return slice(max(0, int(ys.min()) - 20), nose_y - 2), slice(max(0, int(xs.min())), int(xs.max()))


def dark_share(region: np.ndarray) -> float:
    """Share of pixels dark enough to be a mouth interior (skin, lips and teeth are lighter)."""
    luma = region.astype(float) @ [0.299, 0.587, 0.114]
    return float((luma < 60).mean())


def interior_share(region: np.ndarray, reference: np.ndarray) -> float:
    """Share of a mouth region's pixels dark enough to be an open mouth's inside: darker than
    0.45 of the median luma of `reference` (the same region of the source: skin and lips). The
    drawn interior is lit like the face, so an absolute threshold would miss it on light skin."""
    luma = lambda pixels: pixels.astype(float) @ [0.299, 0.587, 0.114]
    return float((luma(region) < 0.45 * np.median(luma(reference))).mean())
