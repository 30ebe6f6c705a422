"""What a drawn mouth takes from this face, measured on the source frame's own pixels.

- `enamel_colour`: the colour drawn teeth take. The person's own teeth where the source shows
  them between the lips; otherwise the whites of the eyes, which are about as white as enamel
  whatever the skin's tone, so they tell the scene's light on this face (`lit_enamel` keeps it
  nearly grey and brighter than the skin, or guesses from the skin where neither can be read).
- `read_gap`: where between the lips the mouth parts when it opens further (just below the
  upper teeth, or at the darkest row of an open mouth, so an opening never cuts across teeth),
  whether its teeth show there, how tall its dark inside is, and how far below the mesh's lower
  lip its lower teeth show: the face mesh can misread a mouth parted below its upper teeth, or
  one whose tongue fills it, as nearly closed.
The engine reduces them to one value per chunk (`steady`) where a per-frame value would
flicker with the measurement's noise.
"""

from collections.abc import Sequence
from dataclasses import dataclass, replace

import cv2
import numpy as np
import torch
from numpy.typing import ArrayLike

from app.pipeline.face import tracking
from app.pipeline.face.tracking import FaceLandmarks
from app.pipeline.media.yuv import YuvBatch, even_box
from app.pipeline.render.own_mouths import INNER_LIPS, luma, reads_as_teeth

# mediapipe's eye contours (FACEMESH_RIGHT_EYE, FACEMESH_LEFT_EYE), in order around each eye.
_RIGHT_EYE = [33, 246, 161, 160, 159, 158, 157, 173, 133, 155, 154, 153, 145, 144, 163, 7]
_LEFT_EYE = [263, 466, 388, 387, 386, 385, 384, 398, 362, 382, 381, 380, 374, 373, 390, 249]
# Sclera: the brightest tenth of an eye's nearly grey pixels (the iris, lashes and lid shadow are
# darker or coloured; most of the white is in the lids' shade).
_SCLERA_PERCENTILE = 90
_GREY_SATURATION = 0.35
# Teeth are grey to yellow: their red exceeds their green by at most this share of the brightest
# channel more than their green exceeds their blue. Lips are pink, however pale or lit: red far
# above green and blue alike (pale lips on light skin, or a lipstick's highlight, are as bright
# and nearly as grey as teeth, and taken for teeth they left a closed mouth with none drawn).
_MAX_TEETH_PINK = 0.15
_MIN_PIXELS = 6
# Enamel is a little yellower than the whites of the eyes under the same light.
_ENAMEL_OF_SCLERA = np.array([1.0, 0.98, 0.92])
# Fallback: enamel under a light that makes skin this bright (mean RGB, 0..1) is drawn as _ENAMEL.
_ENAMEL = np.array([0.88, 0.85, 0.78])
_REFERENCE_SKIN = 0.62
_TEETH_OVER_SKIN = 1.35
_MAX_ENAMEL_SATURATION = 0.15
# Own teeth count once they fill this share of the inside of the lips.
_OWN_TEETH_SHARE = 0.15
# The gap's middle: columns within this share of the mouth width from its centre line.
_MIDDLE_OF_WIDTH = 0.15
# A gap narrower than this (pixels) has no parting of its own: the mouth parts at the lower lip.
MIN_GAP_PX = 3.0
# The search for a smile's teeth edge reaches this share of the gap below the lower lip's
# landmark; teeth stand out of the gap's profile by this share of its brightest luma at least
# (a fixed 40 levels missed the dim teeth of a soft, darker photograph: 34 of 148).
_BELOW_LOWER_LIP = 0.4
_TEETH_CONTRAST = 0.17
# An open mouth's inside is darker than this share of the lips' luma.
_INTERIOR_OF_LIPS = 0.7
# Lower teeth are looked for this share of the lower lip's thickness below the mesh's lower lip
# (a mesh that takes the tongue for lip puts its lower lip that far above the real one); they are
# brighter than the middle of the gap's profile and, at their greyest, less saturated than this
# (a lip's sheen is redder).
_LOWER_TEETH_REACH = 0.9
_LOWER_TEETH_SATURATION = 0.3


def enamel_colour(frames: YuvBatch, index: int, face: FaceLandmarks) -> np.ndarray | None:
    """(3,) RGB 0..1 of this face's teeth (own, or lit like the eyes' whites); None where
    neither can be read."""
    mouth = _region_pixels(frames, index, face, INNER_LIPS)
    if mouth is not None:
        inside, around = mouth
        skin = float(np.median(luma(around)))
        teeth = inside[reads_as_teeth(inside, skin) & (_pinkness(inside) < _MAX_TEETH_PINK)]
        if len(teeth) >= _MIN_PIXELS and len(teeth) >= _OWN_TEETH_SHARE * len(inside):
            return teeth.mean(axis=0) / 255
    whites = [
        white for white in (_sclera(frames, index, face, eye) for eye in (_RIGHT_EYE, _LEFT_EYE)) if white is not None
    ]
    if whites:
        return np.clip(np.mean(whites, axis=0) / 255 * _ENAMEL_OF_SCLERA, 0, 1)
    return None


def lit_enamel(enamel: torch.Tensor, skin: torch.Tensor) -> torch.Tensor:
    """(B, 3) the drawn teeth's colour from `enamel` (B, 3; NaN rows where the face gave none)
    and the skin's mean colour `skin` (B, 3): NaN rows become enamel lit as the skin suggests,
    the colour is kept nearly grey, and teeth are at least `_TEETH_OVER_SKIN` as bright as the
    skin (teeth that read darker than the skin around them look grey and dirty)."""
    light = (skin.mean(dim=1, keepdim=True) / _REFERENCE_SKIN).clamp(0.7, 1.3)
    guess = (torch.as_tensor(_ENAMEL, dtype=skin.dtype, device=skin.device) * light).clamp(0, 1)
    enamel = torch.where(enamel.isnan(), guess, enamel)
    luma_of = lambda colours: colours @ torch.tensor([0.299, 0.587, 0.114], dtype=colours.dtype, device=colours.device)
    # Teeth are nearly grey: a small face's eye whites blend with the skin around them.
    grey = luma_of(enamel)[:, None]
    brightest, darkest = enamel.max(dim=1, keepdim=True).values, enamel.min(dim=1, keepdim=True).values
    # Chroma scaled by k about the luma gives saturation k·spread / (grey + k·(brightest - grey));
    # k is chosen so that this is at most the limit.
    limit, spread = _MAX_ENAMEL_SATURATION, brightest - darkest
    k = limit * grey / (spread - limit * (brightest - grey)).clamp(min=1e-6)
    enamel = grey + (enamel - grey) * k.clamp(max=1)
    lift = (_TEETH_OVER_SKIN * luma_of(skin) / luma_of(enamel).clamp(min=1e-3)).clamp(min=1)
    return (enamel * lift[:, None]).clamp(0, 1)


@dataclass(frozen=True)
class GapReading:
    """The source's gap between the lips as its pixels show it."""

    parting: float  # where it parts, as a share of the landmarks' gap up from their lower lip
    shows_teeth: bool  # whether its middle shows teeth
    open_px: float  # how tall its dark inside is (pixels)
    below_px: float = 0.0  # how far below the landmarks' lower lip its lower teeth reach (pixels)
    teeth_px: float = 0.0  # how tall its upper teeth show (pixels)


_CLOSED = GapReading(0.0, False, 0.0)


def read_gap(frames: YuvBatch, index: int, face: FaceLandmarks) -> GapReading:
    """The gap down its middle, read once: it parts just below the upper teeth where it shows
    teeth (the end of the first bright run down from the upper lip; the mesh often puts a
    smile's lower lip on the teeth, so the reading reaches a little below it), else at its
    darkest row; its open height counts the rows darker than `_INTERIOR_OF_LIPS` of the lips'
    luma (neither lips nor teeth), which the mesh can misread on a mouth parted below its teeth.
    Lower teeth below the parting that reach below the mesh's lower lip tell how far down an open
    mouth reaches, whatever fills it above (a tongue reads as lip). A closed mouth parts at the
    lower lip and is not open."""
    gap = _gap_profile(frames, index, face)
    lips = _region_pixels(frames, index, face, INNER_LIPS) if gap is not None else None
    if gap is None or lips is None:
        return _CLOSED
    shares, colours, gap_px = gap
    near = shares >= -_BELOW_LOWER_LIP
    reading = _upper_reading(shares[near], colours[near], gap_px, float(np.median(luma(lips[1]))))
    under = shares < reading.parting
    return replace(reading, below_px=_lower_teeth_depth(shares[under], colours[under], colours, gap_px))


def _upper_reading(shares: np.ndarray, colours: np.ndarray, gap_px: float, lips_luma: float) -> GapReading:
    """Parting, teeth and dark height from the profile within the gap and a little below it."""
    profile = luma(colours)
    dark = profile < _INTERIOR_OF_LIPS * lips_luma
    open_px = float(dark.sum() * gap_px * (shares[1] - shares[0]))
    inside = shares >= 0
    bright = _teeth_rows(colours, profile)
    if _shows_contrast(profile) and bright[inside].any():
        # The upper teeth: the first bright run down from the upper lip; it parts where it ends
        # (lower teeth further down stay with the jaw).
        run_start, run_end = _runs(bright[::-1])[0]
        teeth_px = (run_end - run_start) * float(shares[1] - shares[0]) * gap_px
        return GapReading(float(shares[::-1][run_end - 1]), True, open_px, teeth_px=teeth_px)
    return GapReading(float(shares[inside][int(np.argmin(profile[inside]))]), False, open_px)


def _lower_teeth_depth(shares: np.ndarray, colours: np.ndarray, whole: np.ndarray, gap_px: float) -> float:
    """How far below the mesh's lower lip (pixels) lower teeth reach in the profile's part
    `shares`, `colours` below the parting (`whole`: the whole profile's colours, whose range tells
    bright); 0 where none reach below it. Teeth are bright and grey, and at their greyest less
    saturated than `_LOWER_TEETH_SATURATION`, which a lip's sheen is not."""
    if len(shares) == 0:
        return 0.0
    whole_luma = luma(whole)
    if not _shows_contrast(whole_luma):
        return 0.0
    profile = luma(colours)
    bright = _teeth_rows(colours, profile, (whole_luma.max() + whole_luma.min()) / 2)
    saturation = _saturation(colours)
    # Rows run from the lowest up. The lower teeth are the first grey run under the inside that
    # reaches below the mesh's lip (further down, a white beard is bright and grey too); the lip
    # starts on the row below them (a closing that brings up that row leaves no line of teeth
    # between the lips).
    teeth = [
        start
        for start, end in _runs(bright)
        if shares[start] < 0 and saturation[start:end].min() < _LOWER_TEETH_SATURATION
    ]
    return float(-shares[max(teeth[-1] - 1, 0)] * gap_px) if teeth else 0.0


def _shows_contrast(profile: np.ndarray) -> bool:
    """Whether a luma profile's range is wide enough for teeth to stand out of it."""
    return bool(profile.max() - profile.min() >= _TEETH_CONTRAST * profile.max())


def _teeth_rows(colours: np.ndarray, profile: np.ndarray, threshold: float | None = None) -> np.ndarray:
    """Rows bright (above `threshold`, by default the middle of the profile's range), nearly
    grey and not pink: teeth (a lit lip is bright too, but red)."""
    middle = (profile.max() + profile.min()) / 2 if threshold is None else threshold
    return (profile >= middle) & (_saturation(colours) < _GREY_SATURATION) & (_pinkness(colours) < _MAX_TEETH_PINK)


def _saturation(colours: np.ndarray) -> np.ndarray:
    return (colours.max(axis=1) - colours.min(axis=1)) / np.maximum(colours.max(axis=1), 1)


def _pinkness(colours: np.ndarray) -> np.ndarray:
    """(n,) how much further red stands above green than green above blue, over the brightest
    channel, for (n, 3) RGB: near 0 for grey and yellow (teeth), high for pink and red (lips)."""
    colours = colours.astype(np.float32)
    red, green, blue = colours[:, 0], colours[:, 1], colours[:, 2]
    return ((red - green) - (green - blue)) / np.maximum(colours.max(axis=1), 1)


def _runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """(start, end) index pairs of the runs of True in a 1-D bool array, in order."""
    edges = np.diff(np.concatenate([[0], flags.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist()))


def _gap_profile(frames: YuvBatch, index: int, face: FaceLandmarks) -> tuple[np.ndarray, np.ndarray, float] | None:
    """Colours (n, 3) down the gap's middle at `shares` of its height up from the lower lip's
    landmark (from within the lower lip, where lower teeth can hide, to near the upper lip),
    averaged across the middle columns, one sample per pixel; and the gap in pixels. None for a
    closed mouth."""
    lower, upper = face.point(tracking.LOWER_LIP_INNER), face.point(tracking.UPPER_LIP_INNER)
    gap = float(np.linalg.norm(upper - lower))
    if gap < MIN_GAP_PX:
        return None
    along = face.point(tracking.MOUTH_CORNER_B) - face.point(tracking.MOUTH_CORNER_A)
    half = _MIDDLE_OF_WIDTH * float(np.linalg.norm(along))
    lower_lip = float(np.linalg.norm(face.point(tracking.LOWER_LIP_OUTER) - lower))
    reach = max(_BELOW_LOWER_LIP * gap, _LOWER_TEETH_REACH * lower_lip)
    x0, y0, x1, y1 = even_box(
        min(lower[0], upper[0]) - half - 2,
        upper[1] - 2,
        max(lower[0], upper[0]) + half + 2,
        lower[1] + reach + 2,
        frames.width,
        frames.height,
    )
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    rgb = frames.rgb(index, (x0, y0, x1, y1)).astype(np.float32)
    near = np.linspace(-_BELOW_LOWER_LIP, 0.9, max(int(gap * (0.9 + _BELOW_LOWER_LIP)), 4))
    # Further down within the lower lip, at the same spacing.
    step = near[1] - near[0]
    shares = np.concatenate([np.arange(-_BELOW_LOWER_LIP - step, -reach / gap, -step)[::-1], near])
    offsets = np.linspace(-half, half, 7) * (along / max(float(np.linalg.norm(along)), 1.0))[:, None]
    points = lower + shares[:, None] * (upper - lower)
    xs = (points[:, None, 0] + offsets[0][None, :] - x0).astype(np.float32)
    ys = (points[:, None, 1] + offsets[1][None, :] - y0).astype(np.float32)
    colours = cv2.remap(rgb, xs, ys, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE).mean(axis=1)
    return shares, colours, gap


def steady(values: Sequence[ArrayLike | None]) -> np.ndarray | None:
    """The chunk's median of per-frame measurements (None where none could be made)."""
    known = [np.asarray(value, float) for value in values if value is not None]
    return np.median(known, axis=0) if known else None


def _sclera(frames: YuvBatch, index: int, face: FaceLandmarks, eye: list[int]) -> np.ndarray | None:
    region = _region_pixels(frames, index, face, eye)
    if region is None:
        return None
    inside = region[0].astype(np.float32)
    brightest = inside.max(axis=1)
    grey = inside[(brightest - inside.min(axis=1)) < _GREY_SATURATION * np.maximum(brightest, 1)]
    if len(grey) < _MIN_PIXELS:
        return None
    grey_luma = luma(grey)
    return grey[grey_luma >= np.percentile(grey_luma, _SCLERA_PERCENTILE)].mean(axis=0)


def _region_pixels(
    frames: YuvBatch, index: int, face: FaceLandmarks, contour: list[int]
) -> tuple[np.ndarray, np.ndarray] | None:
    """RGB pixels (n, 3) inside the landmark `contour`, and those of its bounding box outside it."""
    points = face.points[contour]
    low, high = points.min(axis=0) - 2, points.max(axis=0) + 2
    x0, y0, x1, y1 = even_box(low[0], low[1], high[0], high[1], frames.width, frames.height)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    rgb = frames.rgb(index, (x0, y0, x1, y1))
    mask = np.zeros(rgb.shape[:2], np.uint8)
    cv2.fillPoly(mask, [np.round(points - [x0, y0]).astype(np.int32)], 1)
    inside = mask.astype(bool)
    if inside.sum() < _MIN_PIXELS:
        return None
    return rgb[inside], rgb[~inside]
