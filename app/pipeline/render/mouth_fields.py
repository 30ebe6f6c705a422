"""How far each pixel of the lower face moves as the mouth takes its new shape.

Coordinates per crop, in pixels: `a` runs along the mouth (corner to corner, in half mouth
widths), `b` runs down from the mouth line (the lower lip's inner edge) toward the chin; both
turn with the head. Near the lips the mouth line is curved up to the corners, as the lips' and
teeth's edges are (a smile's strongly): an opening parts along that curve, under the teeth.
Opening, the lower lip and jaw move down along `b` by `opening` and the upper lip rises a
little. Closing a mouth that is open in the source (`opening` < 0), both lips move with their own
texture: the upper lip comes down, the lower lip rises with the jaw and chin (the skin between
them moves as one piece, so it is never stretched into streaks). The two lips are two fields
that meet along a line: above it the picture follows the upper lip, below it the lower one, so
what was between them (teeth, the open interior) is covered, not squeezed into a line; opening,
they part along the split. The corners move along `a` (out to spread, in to round). The fields
fade to zero below the chin, at the cheeks and before the nose, so nothing above the nose
changes.
"""

from dataclasses import dataclass

import torch

# The upper lip rises by this share of the opening.
UPPER_LIP_RISE = 0.3
# A closing is shared: the upper lip comes down this share of the way, the lower lip with the
# jaw rises the rest (the jaw does most of it). The skin between the upper lip and `upper_reach`
# takes the upper lip's fall: the fall is at most this share of that skin's height, or the skin
# is pulled into vertical streaks (the lower lip then rises further).
_UPPER_LIP_CLOSING = 0.3
_MAX_UPPER_STRETCH = 0.4
# A lower lip that rises without the jaw pulls the skin under it up to this share of the way
# to the chin.
_LIP_ONLY_BLEND = 0.8
# Below the chin the jaw's movement fades out over the neck: over this share of the mouth-to-chin
# distance, and for a closing long enough that the neck stretches by at most this share of its
# length (a large closing's rise over a short fade pulls the neck and collar into streaks).
NECK_FADE_OF_CHIN = 0.7
MAX_NECK_STRETCH = 0.3
# An opening reaches this share of the way to each corner (in half mouth widths).
_OPENING_REACH = 0.92
# The mouth line's curve rises to the corners by at most this share of the half mouth width (a
# smile's teeth arc less than its corners, which rise into the cheeks), and bends down by at most
# the second (a frown); it is whole over the lips and fades above and below them over at least
# the lip's height (and three times the curve: the bend never folds the image).
_MAX_CURVE, _MAX_FROWN = 0.15, 0.2
# A closing reaches a little past the corners: a smile's gap runs dark right into them, and what
# is left open there would stay as dark corners on the closed lips.
_CLOSING_REACH = 1.05


@dataclass
class MouthParams:
    """Per-crop parameters, each a tensor of shape (B,) or (B, 2), in crop pixel coordinates."""

    center: torch.Tensor  # (B, 2) middle of the mouth line (lower lip's inner edge)
    along: torch.Tensor  # (B, 2) unit vector from one mouth corner to the other
    half_width: torch.Tensor  # (B,) half the corner-to-corner distance
    chin_depth: torch.Tensor  # (B,) mouth line to chin
    lip_depth: torch.Tensor  # (B,) mouth line to the lower lip's outer edge
    upper_depth: torch.Tensor  # (B,) mouth line to the upper lip's outer edge
    upper_reach: torch.Tensor  # (B,) how far above the mouth line the rising lip pulls (short of the nose)
    opening: torch.Tensor  # (B,) lower lip movement in pixels: > 0 down (open), < 0 up (close)
    widen: torch.Tensor  # (B,) corner movement in pixels: > 0 out (spread), < 0 in (round)
    rounding: torch.Tensor  # (B,) 0..1, a rounder, narrower opening
    split: torch.Tensor  # (B,) how far above the mouth line an opening parts (below a smile's upper
    #                      teeth, see `mouth_palette.read_gap`); 0 for a closed source
    lips_closed: torch.Tensor  # (B,) 0..1, how closed the source's lips are: drawn lip rims show
    #                            that much (an open source's own lips and teeth stay)
    own_teeth: torch.Tensor  # (B,) pixels of the source's own upper teeth above the parting:
    #                          drawn teeth continue them, that much shorter
    source_gap: torch.Tensor  # (B,) the source's gap between the lips at the middle
    corner_rise: torch.Tensor  # (B,) how far the mouth corners lie above the mouth line's middle
    jaw_share: torch.Tensor  # (B,) 0..1, how much of a closing's rise the jaw and chin take (0: the
    #                          lower lip rises alone, as over a smile's teeth that are together)
    enamel: torch.Tensor  # (B, 3) colour of drawn teeth, 0..1 (see `mouth_palette`)


def mouth_coordinates(params: MouthParams, ys: torch.Tensor, xs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(a, b) of shape (B, len(ys), len(xs)) at crop-pixel positions `ys` x `xs` (see the module)."""
    along, down = _mouth_axes(params)
    dx = xs[None, None, :] - params.center[:, 0, None, None]
    dy = ys[None, :, None] - params.center[:, 1, None, None]
    a = (dx * along[:, 0] + dy * along[:, 1]) / params.half_width[:, None, None]
    b = dx * down[:, 0] + dy * down[:, 1]
    return a, b + _line_curve(a, b, params)


def _line_curve(a: torch.Tensor, b: torch.Tensor, params: MouthParams) -> torch.Tensor:
    """How far the curved mouth line lies above the straight one, where the lips part (at
    `split`): through the parting in the middle and the corners, along a parabola that fades out
    past the corners and above and below the lips."""
    half_width = params.half_width[:, None, None]
    curve = (params.corner_rise - params.split)[:, None, None]
    curve = torch.maximum(torch.minimum(curve, _MAX_CURVE * half_width), -_MAX_FROWN * half_width)
    across = torch.where(a.abs() <= 1, a**2, 1 - _smoothstep((a.abs() - 1) / 0.6))
    fade = torch.maximum(torch.maximum(params.lip_depth, params.upper_depth)[:, None, None], 3 * curve.abs())
    below = (b - params.lip_depth[:, None, None]) / fade
    above = (-b - params.upper_depth[:, None, None]) / fade
    return curve * across * (1 - _smoothstep(torch.maximum(below, above)))


def displacement(
    a: torch.Tensor, b: torch.Tensor, params: MouthParams
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The upper lip's and the lower lip's fields, each (B, 2, h, w): how far each pixel moves
    (x, y; it shows what was `shift` behind it); (B, h, w) how far each sample lies below the
    line that parts them (pixels; the lower field applies where it is > 0: where an opening
    parts, or where a closing's lips meet); and (B, h, w) where the lips part (0..1)."""
    along, down = _mouth_axes(params)
    lens = opening_lens(a, params.rounding[:, None, None])
    split = params.split[:, None, None]
    top, bottom = gap_edges(lens, params)
    rise = -split - top  # the upper lip's lift
    # Closing: the lips meet where the lower one has risen to, with the gap's own shape.
    closed_lens = opening_lens(a, torch.zeros_like(a), _CLOSING_REACH)
    fall, lower_rise = _closing_shares(params)
    upper = fall * closed_lens * _upper_closing_profile(b, params) - rise * _upper_profile(b + split, params)
    lower_down = params.opening[:, None, None].clamp(min=0) * _lower_profile(a, b, lens, params)
    lower_down = lower_down - lower_rise * _jaw_profile(a, b, closed_lens, params)
    below = b + split + lower_rise * closed_lens
    shift_along = params.widen[:, None, None] * _corner_profile(a, b, params)
    as_xy = lambda shift_down: torch.stack(
        [
            shift_down * down[:, 0] + shift_along * along[:, 0],
            shift_down * down[:, 1] + shift_along * along[:, 1],
        ],
        dim=1,
    )
    gap = ((b > top) & (b < bottom) & (bottom - top > 0.5)).to(a.dtype)
    return as_xy(upper), as_xy(lower_down), below, gap


def gap_edges(lens: torch.Tensor, params: MouthParams) -> tuple[torch.Tensor, torch.Tensor]:
    """Where the parted lips' inner edges are, along `b`: the upper lip rises, the lower drops."""
    opening = params.opening[:, None, None].clamp(min=0)
    split = params.split[:, None, None]
    return -split - UPPER_LIP_RISE * opening * lens, -split + opening * lens


def _mouth_axes(params: MouthParams) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, 2, 1, 1) unit vectors along the mouth and down the face (image y grows downward)."""
    down = torch.stack([-params.along[:, 1], params.along[:, 0]], dim=1)
    down = torch.where(down[:, 1:] < 0, -down, down)
    return params.along[:, :, None, None], down[:, :, None, None]


def opening_lens(a: torch.Tensor, rounding: torch.Tensor, reach: float = _OPENING_REACH) -> torch.Tensor:
    """Opening across the mouth: full in the middle, closing with rounded ends just inside the
    corners at `reach` (the lips stay joined there); narrower and rounder when the lips round."""
    rounded_reach = reach * (1 - 0.3 * rounding)
    return torch.clamp(1 - (a.abs() / rounded_reach) ** 2.4, min=0) ** (0.5 - 0.15 * rounding)


def _lower_profile(a: torch.Tensor, b: torch.Tensor, lens: torch.Tensor, params: MouthParams) -> torch.Tensor:
    """How much of an opening moves each pixel below the split: lens-shaped at the lips, then
    jaw-wide down to the chin (the jaw drops), fading below it."""
    lip_depth = params.lip_depth[:, None, None]
    opening = params.opening[:, None, None].clamp(min=0)
    # Deep enough that the blend never folds the image (slope below 1).
    to_jaw = _smoothstep(b / (2 * (lip_depth + opening)))
    across = lens * (1 - to_jaw) + _jaw_width(a) * to_jaw
    return across * _above_chin(b, params)


def _jaw_profile(a: torch.Tensor, b: torch.Tensor, lens: torch.Tensor, params: MouthParams) -> torch.Tensor:
    """How much of a closing's rise moves each pixel of the lower lip's field: the gap's shape at
    the lip's edge (the corners stay joined), the whole jaw from below the lip to the chin (the
    chin rises with the lip, its skin unstretched), fading below the chin. The blend from the
    lips' shape to the jaw's is deep enough that the skin below the corners never folds. Where
    the jaw stays (`jaw_share` 0), the rise fades out over most of the way to the chin instead:
    the skin under the lip takes the stretch, spread thin."""
    _, rise = _closing_shares(params)
    jaw_share = params.jaw_share[:, None, None]
    blend = torch.maximum(1.5 * params.lip_depth[:, None, None], 2 * rise)
    blend = torch.maximum(blend, (1 - jaw_share) * _LIP_ONLY_BLEND * params.chin_depth[:, None, None])
    to_jaw = _smoothstep(b / blend)
    return (lens * (1 - to_jaw) + jaw_share * _jaw_width(a) * to_jaw) * _above_chin(b, params)


def _closing_shares(params: MouthParams) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, 1, 1) each: how far a closing brings the upper lip down and the lower lip up (pixels)."""
    closing = (-params.opening).clamp(min=0)
    skin_above = (params.upper_reach - _upper_lip_outer(params)).clamp(min=0)
    fall = torch.minimum(_UPPER_LIP_CLOSING * closing, _MAX_UPPER_STRETCH * skin_above)
    return fall[:, None, None], (closing - fall)[:, None, None]


def _upper_lip_outer(params: MouthParams) -> torch.Tensor:
    """(B,) the upper lip's outer edge above the mouth line (at least above the source's gap)."""
    return torch.maximum(params.upper_depth, params.source_gap + 1)


def _upper_closing_profile(b: torch.Tensor, params: MouthParams) -> torch.Tensor:
    """The upper lip's share of a closing's fall: the whole lip moves (inner edge to outer
    edge), the skin above it takes the stretch up to `upper_reach`."""
    outer = _upper_lip_outer(params)[:, None, None]
    reach = (params.upper_reach[:, None, None] - outer).clamp(min=1)
    return 1 - _smoothstep((-b - outer) / reach)


def _jaw_width(a: torch.Tensor) -> torch.Tensor:
    """The jaw moves as one across the chin, fading toward the cheeks."""
    return torch.exp(-((a / 1.7) ** 6))


def _above_chin(b: torch.Tensor, params: MouthParams) -> torch.Tensor:
    """1 down to the chin, fading to 0 over the neck below it."""
    chin_depth = params.chin_depth[:, None, None]
    closing = (-params.opening).clamp(min=0)[:, None, None]
    fade = torch.maximum(NECK_FADE_OF_CHIN * chin_depth, closing / MAX_NECK_STRETCH)
    return 1 - _smoothstep((b - chin_depth) / fade)


def _upper_profile(b: torch.Tensor, params: MouthParams) -> torch.Tensor:
    """The upper lip's share of the rise: whole where the lips part, none from `upper_reach` up."""
    return (b < 0) * (1 - _smoothstep(-b / params.upper_reach[:, None, None]))


def _corner_profile(a: torch.Tensor, b: torch.Tensor, params: MouthParams) -> torch.Tensor:
    """Along-mouth movement: corners (|a| = 1) move fully, the middle not at all, fading past the
    corners and above and below the lips."""
    inside = torch.clamp(a, -1, 1) * (1 - _smoothstep((a.abs() - 1) / 0.8))
    lips = torch.where(b < 0, -b / (2 * params.upper_depth[:, None, None]), b / (2 * params.lip_depth[:, None, None]))
    return inside * (1 - _smoothstep(lips))


def _smoothstep(t: torch.Tensor) -> torch.Tensor:
    t = torch.clamp(t, 0, 1)
    return t * t * (3 - 2 * t)
