"""How a lip-synced mouth looks, measured on the output's own landmarks against its source.

Per frame the app's face tracker finds the output's inner lip contour (mediapipe's inner-lip
ring), so what is measured is what a viewer sees, not what the renderer meant to draw:
- interior brightness: mean luma inside the inner lip contour over the skin between the lower
  lip and the chin (a real mouth mid-speech measures about 0.5; a flat dark hole about 0.2);
- teeth share: share of pixels inside that are bright and unsaturated;
- chin drop: how far the chin moves down with the opening (correlation and pixels per pixel);
- chin-skin detail: mean vertical luma gradient of the skin between the lower lip and the chin,
  output over source on the same pixels (a lower face that moves with its texture stays near
  1; skin stretched into streaks falls toward 0), median over frames;
- seam: luma gradient on the edge of the changed area, output over source (1 = invisible);
- flicker: mean frame-to-frame luma change in the mouth box, output minus source.
"""

from dataclasses import dataclass

import cv2
import numpy as np

from app.pipeline.face import tracking
from app.pipeline.face.tracking import FaceLandmarks, FaceTracker
from app.pipeline.media.yuv import YuvBatch
from app.pipeline.render.own_mouths import inner_lips_mask, reads_as_teeth

# A frame counts as open when the lips part by this share of the mouth width.
OPEN_SHARE = 0.2
_CHANGED_LEVEL = 4.0


@dataclass(frozen=True)
class MouthFrame:
    opening: float  # inner lip gap over mouth width
    gap_px: float  # inner lip gap, pixels
    chin_y: float  # chin below the nose tip, pixels
    interior: float  # mean luma inside the inner lips over the chin skin's
    teeth: float  # share of inside pixels that read as teeth


def track_faces(frames: np.ndarray) -> list[FaceLandmarks | None]:
    tracker = FaceTracker(detect_interval=8)
    faces: list[FaceLandmarks | None] = []
    for start in range(0, len(frames), 32):
        faces += tracker.track(YuvBatch.from_rgb(frames[start : start + 32]))
    return faces


def luma(rgb: np.ndarray) -> np.ndarray:
    return rgb.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)


def measure_frame(frame: np.ndarray, face: FaceLandmarks) -> MouthFrame:
    points = face.points
    width = float(np.linalg.norm(points[tracking.MOUTH_CORNER_A] - points[tracking.MOUTH_CORNER_B]))
    gap = float(np.linalg.norm(points[tracking.UPPER_LIP_INNER] - points[tracking.LOWER_LIP_INNER]))
    values = frame[inner_lips_mask(frame.shape, points)]
    skin = luma(frame[_chin_skin(face, frame.shape)]).mean()
    if len(values) == 0:
        return MouthFrame(gap / width, gap, _chin_drop(face), 0.0, 0.0)
    teeth = reads_as_teeth(values, skin)
    return MouthFrame(gap / width, gap, _chin_drop(face), float(luma(values).mean() / skin), float(teeth.mean()))


def _chin_drop(face: FaceLandmarks) -> float:
    return float(face.point(tracking.CHIN)[1] - face.point(tracking.NOSE_TIP)[1])


def _chin_skin(face: FaceLandmarks, shape: tuple[int, ...]) -> tuple[slice, slice]:
    """A box of skin between the lower lip and the chin."""
    lip, chin = face.point(tracking.LOWER_LIP_OUTER), face.point(tracking.CHIN)
    width = np.linalg.norm(face.point(tracking.MOUTH_CORNER_A) - face.point(tracking.MOUTH_CORNER_B))
    middle = (lip + chin) / 2
    half_w, half_h = 0.25 * width, max(0.2 * (chin[1] - lip[1]), 1.0)
    rows = slice(max(int(middle[1] - half_h), 0), min(int(middle[1] + half_h) + 1, shape[0]))
    cols = slice(max(int(middle[0] - half_w), 0), min(int(middle[0] + half_w) + 1, shape[1]))
    return rows, cols


def mouth_box(face: FaceLandmarks, shape: tuple[int, ...], scale: float = 1.7) -> tuple[slice, slice]:
    """A square around the mouth, `scale` mouth widths across, inside the frame."""
    corners = face.point(tracking.MOUTH_CORNER_A), face.point(tracking.MOUTH_CORNER_B)
    center = (corners[0] + corners[1]) / 2 + [0, 0.15 * np.linalg.norm(corners[0] - corners[1])]
    half = scale * np.linalg.norm(corners[0] - corners[1]) / 2
    top, left = int(max(center[1] - half, 0)), int(max(center[0] - half, 0))
    return slice(top, min(int(center[1] + half), shape[0])), slice(left, min(int(center[0] + half), shape[1]))


def chin_skin_detail(output: np.ndarray, source: np.ndarray, source_face: FaceLandmarks) -> float:
    """Mean vertical luma gradient between the lower lip and the chin (the source's landmarks),
    output frame over source frame."""
    lip, chin = source_face.point(tracking.LOWER_LIP_OUTER), source_face.point(tracking.CHIN)
    width = np.linalg.norm(source_face.point(tracking.MOUTH_CORNER_A) - source_face.point(tracking.MOUTH_CORNER_B))
    depth = chin[1] - lip[1]
    rows = slice(int(lip[1] + 0.15 * depth), max(int(chin[1] - 0.15 * depth), int(lip[1] + 0.15 * depth) + 2))
    cols = slice(int(chin[0] - 0.3 * width), int(chin[0] + 0.3 * width) + 1)
    gradient = lambda frame: float(np.abs(np.diff(luma(frame[rows, cols]), axis=0)).mean())
    return gradient(output) / max(gradient(source), 1e-3)


def seam(output: np.ndarray, source: np.ndarray) -> float:
    """Mean luma gradient on the edge of the changed area, output over source, over all frames."""
    ratios = []
    for out, src in zip(output, source):
        out_l, src_l = luma(out), luma(src)
        changed = (np.abs(out_l - src_l) > _CHANGED_LEVEL).astype(np.uint8)
        changed = cv2.morphologyEx(changed, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
        if changed.sum() < 20:
            continue
        edge = cv2.morphologyEx(changed, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)).astype(bool)
        gradient = lambda image: np.hypot(cv2.Sobel(image, cv2.CV_32F, 1, 0), cv2.Sobel(image, cv2.CV_32F, 0, 1))
        ratios.append(gradient(out_l)[edge].mean() / max(gradient(src_l)[edge].mean(), 1.0))
    return float(np.mean(ratios)) if ratios else 1.0


def flicker(output: np.ndarray, source: np.ndarray, box: tuple[slice, slice]) -> float:
    """Mean frame-to-frame luma change in the mouth box, output minus source (luma levels)."""
    change = lambda frames: float(np.abs(np.diff(luma(frames[:, box[0], box[1]]), axis=0)).mean())
    return change(output) - change(source)


def summarise(
    frames: list[MouthFrame],
    source_frames: list[MouthFrame],
    output: np.ndarray,
    source: np.ndarray,
    box: tuple[slice, slice],
    chin_detail: list[float],
) -> dict:
    chin = np.array([f.chin_y for f in frames]) - np.array([f.chin_y for f in source_frames])
    gap_px = np.array([f.gap_px for f in frames]) - np.array([f.gap_px for f in source_frames])
    open_frames = [f for f in frames if f.opening >= OPEN_SHARE]
    pick = lambda name: round(float(np.mean([getattr(f, name) for f in open_frames])), 3) if open_frames else None
    moving = np.std(gap_px) > 1e-6 and np.std(chin) > 1e-6
    return {
        "open_frames": len(open_frames),
        "interior_over_skin": pick("interior"),
        "teeth_share": pick("teeth"),
        "chin_drop_correlation": round(float(np.corrcoef(gap_px, chin)[0, 1]), 3) if moving else None,
        "chin_drop_per_opening": round(float(np.polyfit(gap_px, chin, 1)[0]), 3) if moving else None,
        "chin_skin_detail": round(float(np.median(chin_detail)), 3) if chin_detail else None,
        "seam": round(seam(output, source), 3),
        "flicker": round(flicker(output, source, box), 3),
    }
