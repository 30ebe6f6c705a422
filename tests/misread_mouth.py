"""A mouth the face mesh misreads: open, its tongue taken for lip.

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
    points = np.tile(np.array([100.0, 20.0], np.float32), (468, 1))  # far from the mouth
    angles = np.linspace(0, 2 * np.pi, len(INNER_LIPS), endpoint=False)
    middle = (UPPER_INNER + MESH_LOWER_INNER) / 2
    points[INNER_LIPS] = np.stack([100 + 38 * np.cos(angles), middle + 2.5 * np.sin(angles)], axis=1)
    points[tracking.MOUTH_CORNER_A], points[tracking.MOUTH_CORNER_B] = (60, middle), (140, middle)
    points[tracking.UPPER_LIP_OUTER], points[tracking.UPPER_LIP_INNER] = (100, 80), (100, UPPER_INNER)
    points[tracking.LOWER_LIP_INNER], points[tracking.LOWER_LIP_OUTER] = (100, MESH_LOWER_INNER), (100, LOWER_OUTER)
    points[tracking.NOSE_BOTTOM], points[tracking.CHIN] = (100, 50), (100, 170)
    return YuvBatch.from_rgb(image[None]), FaceLandmarks(points)
