"""Mouths the face mesh misreads: open, its tongue taken for lip; closed, its lips read apart.

On real photos of a mouth open mid-word with the tongue up (a surprised face in the face set),
the mesh puts the lower lip's inner edge on the tongue and reads the mouth as nearly closed; the
lower teeth, further down, show how far it is really open. This builds such a picture with the
landmarks the mesh gives it, for the parts that read and draw the mouth.
"""

import numpy as np

from app.pipeline.face import tracking
from app.pipeline.face.tracking import FaceLandmarks
from app.pipeline.media.yuv import YuvBatch
from app.pipeline.render.own_mouths import INNER_LIPS

SKIN, LIP, TONGUE = (200, 150, 130), (170, 90, 85), (150, 85, 85)
TEETH = (205, 200, 190)
# Rows: the upper lip's inner edge, where the mesh puts the lower lip's, the lower teeth's band
# and the lower lip's outer edge.
UPPER_INNER, MESH_LOWER_INNER, TEETH_ROWS, LOWER_OUTER = 92, 97, (112, 116), 128


def tongue_filled_mouth(lower_band: tuple[int, int, int] = TEETH, shade: tuple[int, int, int] = TONGUE):
    """(batch of one frame, its landmarks): a mouth open from `UPPER_INNER` to the lower teeth,
    its top rows down to the mesh's lower lip in `shade` (a dark inside, or tongue), then tongue,
    then `lower_band` (teeth, or whatever else) over the lower lip."""
    image = np.full((200, 200, 3), SKIN, np.uint8)
    image[80:UPPER_INNER, 60:140] = LIP
    image[UPPER_INNER:MESH_LOWER_INNER, 60:140] = shade
    image[MESH_LOWER_INNER : TEETH_ROWS[0], 60:140] = TONGUE
    image[TEETH_ROWS[0] : TEETH_ROWS[1], 60:140] = lower_band
    image[TEETH_ROWS[1] : LOWER_OUTER, 60:140] = LIP
    return YuvBatch.from_rgb(image[None]), _landmarks(UPPER_INNER, MESH_LOWER_INNER, LOWER_OUTER)


# Closed lips the mesh reads apart: its inner edges at these rows, the lips meeting along a dark
# seam in between.
READ_UPPER_INNER, READ_LOWER_INNER, SEAM_ROWS = 90, 102, (96, 98)


def closed_lips_read_apart():
    """(batch of one frame, its landmarks): closed lips, upper 80-96 and lower 98-112, meeting
    along a 2 px dark seam, with the mesh's inner lip edges 12 px apart (as it reads some closed
    smiles)."""
    image = np.full((200, 200, 3), SKIN, np.uint8)
    image[80:112, 60:140] = LIP
    image[SEAM_ROWS[0] : SEAM_ROWS[1], 60:140] = (np.array(LIP) * 0.55).astype(np.uint8)
    return YuvBatch.from_rgb(image[None]), _landmarks(READ_UPPER_INNER, READ_LOWER_INNER, 112)


def _landmarks(upper_inner: int, lower_inner: int, lower_outer: int) -> FaceLandmarks:
    """A mouth 80 px wide whose upper lip starts at row 80, its inner edges at the rows given,
    the rest of the face far from it."""
    points = np.tile(np.array([100.0, 20.0], np.float32), (468, 1))
    angles = np.linspace(0, 2 * np.pi, len(INNER_LIPS), endpoint=False)
    middle = (upper_inner + lower_inner) / 2
    half_gap = (lower_inner - upper_inner) / 2
    points[INNER_LIPS] = np.stack([100 + 38 * np.cos(angles), middle + half_gap * np.sin(angles)], axis=1)
    points[tracking.MOUTH_CORNER_A], points[tracking.MOUTH_CORNER_B] = (60, middle), (140, middle)
    points[tracking.UPPER_LIP_OUTER], points[tracking.UPPER_LIP_INNER] = (100, 80), (100, upper_inner)
    points[tracking.LOWER_LIP_INNER], points[tracking.LOWER_LIP_OUTER] = (100, lower_inner), (100, lower_outer)
    points[tracking.NOSE_BOTTOM], points[tracking.CHIN] = (100, 50), (100, 170)
    return FaceLandmarks(points)
