"""Reshape the lips in a batch of crops: a smooth torch displacement field plus a drawn interior.

Coordinates per crop, in pixels: `a` runs along the mouth (corner to corner, in half mouth
widths), `b` runs down from the mouth line (the lower lip's inner edge) toward the chin; both
turn with the head. The lower lip and jaw move along `b` by `opening` (negative: up, closing a
mouth that is open in the source), the upper lip rises a little as the mouth opens, and the
corners move along `a` (out to spread, in to round). The field fades to zero below the chin,
at the cheeks and before the nose, so nothing above the nose changes. Where the lips part,
a mouth interior is drawn (see `mouth_interior`).
"""

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from app.pipeline.render.mouth_interior import draw_interior, match_picture

# The upper lip rises by this share of the opening.
_UPPER_LIP_RISE = 0.3
# An opening reaches this share of the way to each corner (in half mouth widths).
_OPENING_REACH = 0.92
# Antialiasing width of the interior's edges, in pixels.
_EDGE_PX = 1.2
# Pixels displaced by less than this keep their exact values.
_STILL_PX = 1e-3
# The drawn interior is softened by this share of the mouth width (within the bounds below),
# like the optics and compression of the video around it.
_BLUR_OF_WIDTH = 0.01
_BLUR_PX = (0.5, 2.0)
# Room around the lip gap for the softened edge, in pixels.
_SOFT_EDGE_PX = 4


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
    split: torch.Tensor  # (B,) how far above the mouth line an opening parts (mid-gap of a source
    #                      showing teeth, so the new gap falls between the rows); 0 for a closed source
    teeth: torch.Tensor  # (B,) 0..1, how much of the drawn upper-teeth band to show


def open_mouths(crops: torch.Tensor, params: MouthParams) -> tuple[torch.Tensor, torch.Tensor]:
    """`crops` (B, 3, H, W) floats in [0, 1] -> (reshaped crops, (B, H, W) mask of changed pixels)."""
    _, _, height, width = crops.shape
    ys = torch.arange(height, dtype=crops.dtype, device=crops.device)[None, :, None]
    xs = torch.arange(width, dtype=crops.dtype, device=crops.device)[None, None, :]
    along, down = _mouth_axes(params)
    dx = xs - params.center[:, 0, None, None]
    dy = ys - params.center[:, 1, None, None]
    a = (dx * along[:, 0] + dy * along[:, 1]) / params.half_width[:, None, None]
    b = dx * down[:, 0] + dy * down[:, 1]

    lens = _lens(a, params.rounding[:, None, None])
    opening = params.opening[:, None, None]
    split = params.split[:, None, None]
    rise = _UPPER_LIP_RISE * opening.clamp(min=0) * lens
    shift_down = opening * _lower_profile(a, b, lens, params) - rise * _upper_profile(b + split, params)
    shift_along = params.widen[:, None, None] * _corner_profile(a, b, params)
    source_x = xs - shift_down * down[:, 0] - shift_along * along[:, 0]
    source_y = ys - shift_down * down[:, 1] - shift_along * along[:, 1]
    grid = torch.stack([2 * source_x / (width - 1) - 1, 2 * source_y / (height - 1) - 1], dim=-1)
    warped = F.grid_sample(crops, grid, mode="bilinear", padding_mode="border", align_corners=True)
    # Resampling in place is exact only up to float rounding; unmoved pixels keep their values.
    moved = (shift_down.abs() > _STILL_PX) | (shift_along.abs() > _STILL_PX)
    warped = torch.where(moved.unsqueeze(1), warped, crops)

    top, bottom = -split - rise, -split + opening.clamp(min=0) * lens
    inside = torch.clamp((b - top) / _EDGE_PX, 0, 1) * torch.clamp((bottom - b) / _EDGE_PX, 0, 1)
    inside = inside * (bottom - top > 0.5)
    changed = torch.maximum(moved.to(crops.dtype), inside)
    # The interior is drawn only inside the rectangle that holds every crop's lip gap (a thin
    # band of the window), which spares most of the per-pixel colour work.
    rows, cols = _extent(inside.amax(dim=0) > 0, _SOFT_EDGE_PX)
    if rows is not None:
        region, band = (slice(None), slice(None), rows, cols), (slice(None), rows, cols)
        lip_colour, skin, grain = _lip_and_skin_colours(crops, a, b, params)
        gap = (bottom[band] - top[band]).clamp(min=1)
        mouth_width = 2 * params.half_width
        interior = draw_interior(
            a[band], (b[band] - top[band]) / gap, gap, mouth_width, lip_colour, skin,
            params.rounding, params.teeth,
        )
        blur = (_BLUR_OF_WIDTH * mouth_width).clamp(*_BLUR_PX)
        interior, weight = match_picture(interior, inside[:, None, rows, cols], blur, grain, seed=height * width)
        warped[region] = warped[region] * (1 - weight) + interior * weight
        changed[band] = torch.maximum(changed[band], weight[:, 0])
    return warped, changed


def _extent(mask: torch.Tensor, margin: int) -> tuple[slice, slice] | tuple[None, None]:
    """Row and column slices of the bounding box of a (H, W) mask's true pixels, `margin` wider."""
    rows, cols = torch.nonzero(mask.any(dim=1)), torch.nonzero(mask.any(dim=0))
    if len(rows) == 0:
        return None, None
    height, width = mask.shape
    return (slice(max(int(rows[0]) - margin, 0), min(int(rows[-1]) + 1 + margin, height)),
            slice(max(int(cols[0]) - margin, 0), min(int(cols[-1]) + 1 + margin, width)))


def _mouth_axes(params: MouthParams) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, 2, 1, 1) unit vectors along the mouth and down the face (image y grows downward)."""
    down = torch.stack([-params.along[:, 1], params.along[:, 0]], dim=1)
    down = torch.where(down[:, 1:] < 0, -down, down)
    return params.along[:, :, None, None], down[:, :, None, None]


def _lens(a: torch.Tensor, rounding: torch.Tensor) -> torch.Tensor:
    """Opening across the mouth: full in the middle, closing with rounded ends just inside the
    corners (the lips stay joined there); narrower and rounder when the lips round."""
    reach = _OPENING_REACH * (1 - 0.3 * rounding)
    return torch.clamp(1 - (a.abs() / reach) ** 2.4, min=0) ** (0.5 - 0.15 * rounding)


def _lower_profile(a: torch.Tensor, b: torch.Tensor, lens: torch.Tensor, params: MouthParams) -> torch.Tensor:
    """How much of `opening` moves each pixel: lens-shaped at the lips, then jaw-wide down to the
    chin when opening (the jaw drops); when closing only the lower lip rises and the chin stays.
    Nothing above the mouth line moves (but the lower lip entering a gap being closed)."""
    lip_depth = params.lip_depth[:, None, None]
    chin_depth = params.chin_depth[:, None, None]
    opening = params.opening[:, None, None]
    # Deep enough that the blend never folds the image (slope below 1). A closing is done by the
    # chin, or the shadow under the chin would be pulled up into it.
    blend_depth = 2 * (lip_depth + opening.abs())
    closing_depth = torch.minimum(blend_depth, torch.maximum(chin_depth, 1.5 * opening.abs() + 1))
    blend_depth = torch.where(opening < 0, closing_depth, blend_depth)
    jaw = torch.exp(-((a / 1.7) ** 6)) * (opening > 0)
    to_jaw = _smoothstep(b / blend_depth)
    across = lens * (1 - to_jaw) + jaw * to_jaw
    # An opening parts at the split; a closing lower lip moves up into the gap above the line.
    start = torch.where(opening > 0, -params.split[:, None, None], opening * lens)
    below_chin = (b - chin_depth) / (0.7 * chin_depth)
    vertical = torch.clamp(b - start, 0, 1) * (1 - _smoothstep(below_chin))
    return across * vertical


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


def _lip_and_skin_colours(
    crops: torch.Tensor, a: torch.Tensor, b: torch.Tensor, params: MouthParams
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(B, 3) mean colours of the lips and of the skin between lip and chin, and (B,) the skin's
    grain: the standard deviation of its luma around a 3x3 local mean (noise, film grain, pores).

    Every other pixel of every other row is plenty for a mean colour, at a quarter of the cost.
    """
    detail = crops.mean(dim=1) - F.avg_pool2d(crops.mean(dim=1, keepdim=True), 3, 1, 1, count_include_pad=False)[:, 0]
    crops, a, b, detail = crops[:, :, ::2, ::2], a[:, ::2, ::2], b[:, ::2, ::2], detail[:, ::2, ::2]
    lip_depth, chin_depth = params.lip_depth[:, None, None], params.chin_depth[:, None, None]
    lips = (a.abs() < 0.8) & (b.abs() < lip_depth + 1)
    chin = (a.abs() < 1) & (b > 1.5 * lip_depth) & (b < 0.8 * chin_depth)
    grain = _masked_mean(detail[:, None] ** 2, chin)[:, 0].sqrt()
    return _masked_mean(crops, lips), _masked_mean(crops, chin), grain


def _masked_mean(crops: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    mask = mask.unsqueeze(1).to(crops.dtype)
    return (crops * mask).sum(dim=(2, 3)) / mask.sum(dim=(2, 3)).clamp(min=1)
