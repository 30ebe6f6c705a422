"""Where MuseTalk looks: the face box from 68-point landmarks, and the mask it is blended with.

The reference finds 68 landmarks (iBUG order) with DWPose and boxes the face as: sides at the
outermost points, bottom at the lowest (the chin) plus a 10-pixel margin in v1.5, top as far
above landmark 29 (the lower nose bridge) as the chin is below it. Landmark 29 therefore sits at
the box's middle row, which the network sees as the line between the kept upper half and the
masked lower half. Here the 68 points are taken from our face mesh (one mesh vertex, or the
middle of two, per point), so no pose model is needed.
"""

import cv2
import numpy as np

from app.pipeline.face import tracking
from app.pipeline.face.lower_face import below_nose_weights, smoothstep
from app.pipeline.face.tracking import FaceLandmarks

# Face-mesh vertices of each iBUG point: jaw 0-16 (right ear to left ear), brows 17-26, nose
# bridge 27-30 and base 31-35, eyes 36-47, outer lips 48-59, inner lips 60-67.
_IBUG_FROM_MESH: tuple[tuple[int, ...], ...] = (
    (127,),
    (234,),
    (93,),
    (132, 58),
    (58, 172),
    (136,),
    (150,),
    (176,),
    (152,),
    (400,),
    (379,),
    (365,),
    (397, 288),
    (361,),
    (323,),
    (454,),
    (356,),
    (70,),
    (63,),
    (105,),
    (66,),
    (107,),
    (336,),
    (296,),
    (334,),
    (293,),
    (300,),
    (168,),
    (197, 195),
    (5,),
    (4,),
    (75,),
    (97,),
    (2,),
    (326,),
    (305,),
    (33,),
    (160,),
    (158,),
    (133,),
    (153,),
    (144,),
    (362,),
    (385,),
    (387,),
    (263,),
    (373,),
    (380,),
    (61,),
    (39,),
    (37,),
    (0,),
    (267,),
    (269,),
    (291,),
    (321,),
    (314,),
    (17,),
    (84,),
    (91,),
    (78,),
    (82,),
    (13,),
    (312,),
    (308,),
    (317,),
    (14,),
    (87,),
)
_JAW = slice(0, 17)
# The network's input and output side (pixels).
FACE_SIDE = 256
LOWER_NOSE_BRIDGE = 29
# v1.5's extra_margin: pixels added below the chin (the reference's default, in frame pixels).
CHIN_MARGIN_PX = 10
# The blend: the jaw line from this iBUG point to its mirror (cheek to cheek under the mouth),
# closed along the nose's base; feathered over this share of the box width.
_MASK_JAW_FIRST, _MASK_JAW_LAST = 2, 14
_FEATHER = 0.08
_MIN_FEATHER_PX = 4.0


def ibug_points(face: FaceLandmarks) -> np.ndarray:
    """(68, 2) float pixels in iBUG order."""
    return np.stack([face.points[list(vertices)].mean(axis=0) for vertices in _IBUG_FROM_MESH])


def face_box(points: np.ndarray, height: int, width: int) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) integer box of the reference's rule for 68 `points` in a frame of
    `height` x `width`, chin margin included.

    Like the reference, the points are truncated to integers first. Where the reference falls
    back to another detector's box (a face cut by the frame's left edge), this box is clipped to
    the frame instead.
    """
    points = points.astype(np.int32)
    chin = int(points[:, 1].max())
    middle = int(points[LOWER_NOSE_BRIDGE, 1])
    x0, x1 = int(points[:, 0].min()), int(points[:, 0].max())
    y0 = max(0, middle - (chin - middle))
    y1 = min(chin + CHIN_MARGIN_PX, height)
    return max(0, x0), y0, min(x1, width), y1


def crop_face(image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """(256, 256, 3) uint8 of `box` of `image`, resized with Lanczos as the reference."""
    x0, y0, x1, y1 = box
    return cv2.resize(image[y0:y1, x0:x1], (FACE_SIDE, FACE_SIDE), interpolation=cv2.INTER_LANCZOS4)


def lower_face_mask(face: FaceLandmarks, box: tuple[int, int, int, int]) -> np.ndarray:
    """(box height, box width) float32 blend weights: 1 over the mouth, the jaw (a moved chin
    must not show twice) and the lower cheeks, 0 from the nose up, feathered; zero on the box's
    own edge, so the generated face meets the frame without a seam."""
    x0, y0, x1, y1 = box
    width, height = x1 - x0, y1 - y0
    feather = max(_MIN_FEATHER_PX, _FEATHER * width)
    points = ibug_points(face) - np.array([x0, y0])
    nose_tip = face.point(tracking.NOSE_TIP) - np.array([x0, y0])
    jaw = points[_JAW][_MASK_JAW_FIRST : _MASK_JAW_LAST + 1]
    # The jaw line pushed out by the feather, so that the weight is full on the jaw itself.
    outward = jaw - nose_tip
    jaw = jaw + outward / np.maximum(np.linalg.norm(outward, axis=1, keepdims=True), 1.0) * feather
    nose_row = face.point(tracking.NOSE_BOTTOM)[1] - y0
    outline = np.vstack([[jaw[0][0], nose_row], jaw, [jaw[-1][0], nose_row]])
    mask: np.ndarray = np.zeros((height, width), np.float32)
    cv2.fillPoly(mask, [np.round(outline).astype(np.int32)], 1.0, lineType=cv2.LINE_AA)
    mask = cv2.GaussianBlur(mask, (0, 0), feather / 2)
    # Nothing from the nose up.
    mask *= below_nose_weights(face, y0, height)[:, None]
    # The generated picture ends at the box: fade to zero before its edges.
    rows = np.arange(height, dtype=np.float32)
    edge = np.minimum.outer(np.minimum(rows, rows[::-1]), np.minimum(np.arange(width), np.arange(width)[::-1]))
    mask *= smoothstep(edge / feather)
    return mask
