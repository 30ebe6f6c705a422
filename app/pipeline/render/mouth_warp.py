"""Reshape the lips in a batch of crops: a smooth displacement field (computed with torch on a
coarse grid, applied with OpenCV) plus a drawn interior.

Coordinates per crop, in pixels: `a` runs along the mouth (corner to corner, in half mouth
widths), `b` runs down from the mouth line (the lower lip's inner edge) toward the chin; both
turn with the head. Opening, the lower lip and jaw move down along `b` by `opening` and the
upper lip rises a little; where the lips part, a mouth interior is drawn (see
`mouth_interior`). Closing a mouth that is open in the source (`opening` < 0), both lips move
with their own texture: the upper lip comes down, the lower lip rises with the jaw and chin
(the skin between them moves as one piece, so it is never stretched into streaks). The two
lips are two fields that meet along a line: above it the picture follows the upper lip, below
it the lower one, so what was between them (teeth, the open interior) is covered, not squeezed
into a line. The corners move along `a` (out to spread, in to round). The fields fade to zero
below the chin, at the cheeks and before the nose, so nothing above the nose changes.
"""

from dataclasses import dataclass

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from app.pipeline.render.mouth_interior import add_grain, draw_interior, soften
from app.pipeline.render.mouth_palette import lit_enamel

# The upper lip rises by this share of the opening.
_UPPER_LIP_RISE = 0.3
# A closing is shared: the upper lip comes down this share of the way, the lower lip with the
# jaw rises the rest (the jaw does most of it).
_UPPER_LIP_CLOSING = 0.3
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
# Room around the lip gap for the softened edge, in interior samples.
_SOFT_EDGE_PX = 4
# Grain (luma standard deviation, 0..1) of a noisy camera; skin texture beyond it is not noise.
_MAX_GRAIN = 0.03
# Samples across the mouth, at most, of the displacement field and of the drawn interior.
_FIELD_MOUTH_PX = 24
_INTERIOR_MOUTH_PX = 64


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
    #                      teeth, see `mouth_palette.parting`); 0 for a closed source
    lips_closed: torch.Tensor  # (B,) 0..1, how closed the source's lips are: drawn lip rims show
    #                            that much (an open source's own lips and teeth stay)
    own_teeth: torch.Tensor  # (B,) pixels of the source's own upper teeth above the parting:
    #                          drawn teeth continue them, that much shorter
    source_gap: torch.Tensor  # (B,) the source's gap between the lips at the middle
    enamel: torch.Tensor  # (B, 3) colour of drawn teeth, 0..1 (see `mouth_palette`)


def open_mouths(crops: np.ndarray, params: MouthParams) -> tuple[np.ndarray, np.ndarray]:
    """RGB crops (B, H, W, 3) uint8 -> (reshaped crops, uint8, and (B, H, W) float32 weights 0..1
    of the changed pixels, grown a little so that resampled edges are written back too).

    The cost hardly grows with the face: the displacement field (smooth) is computed with torch
    on a coarse grid, `_FIELD_MOUTH_PX` samples across the mouth, and the lip gap with its drawn
    interior on a finer one, `_INTERIOR_MOUTH_PX` across, only over the gap. Both are upsampled;
    full-resolution pixels are resampled once, in 8 bits with OpenCV, and the interior gets its
    grain at full resolution.
    """
    _, height, width, _ = crops.shape
    device = params.center.device
    mouth_px = max(float(2 * params.half_width.max()), 1.0)
    field_scale = min(1.0, _FIELD_MOUTH_PX / mouth_px)
    field_size = (max(2, round(height * field_scale)), max(2, round(width * field_scale)))
    a, b = _mouth_coordinates(params, _sample_centres(field_size[0], 0, height, device),
                              _sample_centres(field_size[1], 0, width, device))
    upper_shift, lower_shift, below, gap = _displacement(a, b, params)

    # What changes, grown by one field sample so that resampled edges are written back too.
    lower_side = (below > 0).to(a.dtype)[:, None]
    shift = lower_shift * lower_side + upper_shift * (1 - lower_side)
    changed = torch.maximum((shift.abs().amax(dim=1) > _STILL_PX).to(shift.dtype), gap)
    changed = F.max_pool2d(changed[:, None], 3, stride=1, padding=1)
    upsample = lambda maps: F.interpolate(maps, size=(height, width), mode="bilinear", align_corners=False)
    changed = upsample(changed)[:, 0].cpu().numpy()
    # `below` is smooth (pixels below the lips' meeting line), so it upsamples exactly enough
    # for a meeting line antialiased over one full-resolution pixel.
    lower_weight = upsample(below[:, None])[:, 0].add(0.5).clamp(0, 1).cpu().numpy()
    upper_shift, lower_shift = upsample(upper_shift).cpu().numpy(), upsample(lower_shift).cpu().numpy()
    closing = (params.opening < 0).cpu().numpy()
    warped = np.stack([
        _resample_two(crop, up, low, weight) if shut else _resample(crop, low)
        for crop, up, low, weight, shut in zip(crops, upper_shift, lower_shift, lower_weight, closing)
    ])

    rows, cols = _extent(gap.amax(dim=0) > 0, 1)
    if rows is not None:
        # The gap's rectangle in crop pixels, with room for the softened edge.
        margin = _SOFT_EDGE_PX * mouth_px / _INTERIOR_MOUTH_PX
        top = max(int(rows.start / field_scale - margin), 0)
        bottom = min(int(rows.stop / field_scale + margin) + 1, height)
        left = max(int(cols.start / field_scale - margin), 0)
        right = min(int(cols.stop / field_scale + margin) + 1, width)
        colours = _lip_and_skin_colours(crops, a, b, params, field_size)
        interior, weight = _drawn_interior(params, colours, (top, bottom, left, right), mouth_px, height * width)
        interior = interior.permute(0, 2, 3, 1).cpu().numpy() * 255
        weight = weight.permute(0, 2, 3, 1).cpu().numpy()
        band = (slice(None), slice(top, bottom), slice(left, right))
        warped[band] = np.round(warped[band] * (1 - weight) + interior * weight).astype(np.uint8)
        changed[band] = np.maximum(changed[band], weight[..., 0])
    return warped, changed


def _resample(crop: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """`crop` (H, W, 3) uint8 with each pixel showing what was `shift` (2, H, W) behind it;
    pixels that do not move keep their exact values."""
    height, width = crop.shape[:2]
    map_x = np.arange(width, dtype=np.float32)[None, :] - shift[0]
    map_y = np.arange(height, dtype=np.float32)[:, None] - shift[1]
    return cv2.remap(crop, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def _resample_two(crop: np.ndarray, upper_shift: np.ndarray, lower_shift: np.ndarray, lower_weight: np.ndarray) -> np.ndarray:
    """`crop` following the upper lip's field above the meeting line and the lower lip's below it."""
    upper, lower = _resample(crop, upper_shift), _resample(crop, lower_shift)
    weight = lower_weight[..., None]
    return np.round(lower * weight + upper * (1 - weight)).astype(np.uint8)


def _mouth_coordinates(params: MouthParams, ys: torch.Tensor, xs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(a, b) of shape (B, len(ys), len(xs)) at crop-pixel positions `ys` x `xs` (see the module)."""
    along, down = _mouth_axes(params)
    dx = xs[None, None, :] - params.center[:, 0, None, None]
    dy = ys[None, :, None] - params.center[:, 1, None, None]
    a = (dx * along[:, 0] + dy * along[:, 1]) / params.half_width[:, None, None]
    return a, dx * down[:, 0] + dy * down[:, 1]


def _displacement(
    a: torch.Tensor, b: torch.Tensor, params: MouthParams
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The upper lip's and the lower lip's fields, each (B, 2, h, w): how far each pixel moves
    (x, y; it shows what was `shift` behind it); (B, h, w) how far each sample lies below the
    line where the two meet (pixels; the lower field applies where it is > 0); and (B, h, w)
    where the lips part (0..1). Opening, both fields are one."""
    along, down = _mouth_axes(params)
    lens = _lens(a, params.rounding[:, None, None])
    split = params.split[:, None, None]
    top, bottom = _gap_edges(lens, params)
    rise = -split - top  # the upper lip's lift
    opening = params.opening[:, None, None].clamp(min=0) * _lower_profile(a, b, lens, params)
    opened = opening - rise * _upper_profile(b + split, params)
    # Closing: the lips meet where the lower one has risen to, with the gap's own shape.
    closing = (-params.opening[:, None, None]).clamp(min=0)
    closed_lens = _lens(a, torch.zeros_like(a))
    lower_rise = (1 - _UPPER_LIP_CLOSING) * closing
    upper_fall = _UPPER_LIP_CLOSING * closing * closed_lens * _upper_closing_profile(b, params)
    lower_down = opened - lower_rise * _jaw_profile(a, b, closed_lens, params)
    below = b + lower_rise * closed_lens
    shift_along = params.widen[:, None, None] * _corner_profile(a, b, params)
    as_xy = lambda shift_down: torch.stack([
        shift_down * down[:, 0] + shift_along * along[:, 0],
        shift_down * down[:, 1] + shift_along * along[:, 1],
    ], dim=1)
    gap = ((b > top) & (b < bottom) & (bottom - top > 0.5)).to(a.dtype)
    return as_xy(opened + upper_fall), as_xy(lower_down), below, gap


def _gap_edges(lens: torch.Tensor, params: MouthParams) -> tuple[torch.Tensor, torch.Tensor]:
    """Where the parted lips' inner edges are, along `b`: the upper lip rises, the lower drops."""
    opening = params.opening[:, None, None].clamp(min=0)
    split = params.split[:, None, None]
    return -split - _UPPER_LIP_RISE * opening * lens, -split + opening * lens


def _sample_centres(samples: int, start: int, stop: int, device: torch.device) -> torch.Tensor:
    """Pixel coordinates of the centres of `samples` equal cells spanning pixels [start, stop)."""
    cell = (stop - start) / samples
    return start + (torch.arange(samples, dtype=torch.float32, device=device) + 0.5) * cell - 0.5


def _drawn_interior(
    params: MouthParams, colours: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    box: tuple[int, int, int, int], mouth_px: float, seed: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, 3, h, w) interior and (B, 1, h, w) weights over the crop-pixel box (top, bottom, left,
    right), drawn on a grid `_INTERIOR_MOUTH_PX` across the mouth, softened like the picture,
    upsampled, and given the picture's grain."""
    top, bottom, left, right = box
    scale = min(1.0, _INTERIOR_MOUTH_PX / mouth_px)
    size = (max(1, round((bottom - top) * scale)), max(1, round((right - left) * scale)))
    device = params.center.device
    a, b = _mouth_coordinates(params, _sample_centres(size[0], top, bottom, device),
                              _sample_centres(size[1], left, right, device))
    upper, lower = _gap_edges(_lens(a, params.rounding[:, None, None]), params)
    # The gap, antialiased over at least one sample.
    edge = max(_EDGE_PX, 1 / scale)
    inside = torch.clamp((b - upper) / edge, 0, 1) * torch.clamp((lower - b) / edge, 0, 1) * (lower - upper > 0.5)
    gap = (lower - upper).clamp(min=1)
    lip_colour, skin, grain = colours
    mouth_width = 2 * params.half_width
    enamel = lit_enamel(params.enamel, skin)
    drawn = draw_interior(a, (b - upper) / gap, gap, mouth_width, lip_colour, enamel, skin,
                          params.rounding, params.lips_closed, params.own_teeth)
    # Softened like the picture: a share of the mouth width, in samples.
    blur = float((_BLUR_OF_WIDTH * mouth_width).clamp(*_BLUR_PX).max()) * scale
    drawn, weight = soften(drawn, inside[:, None], blur)
    if scale < 1:
        full = (bottom - top, right - left)
        drawn = F.interpolate(drawn, size=full, mode="bilinear", align_corners=False)
        weight = F.interpolate(weight, size=full, mode="bilinear", align_corners=False)
    return add_grain(drawn, grain, skin, seed), weight


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
    """How much of an opening moves each pixel: lens-shaped at the lips, then jaw-wide down to
    the chin (the jaw drops), fading below it. Nothing above the split moves."""
    lip_depth = params.lip_depth[:, None, None]
    opening = params.opening[:, None, None].clamp(min=0)
    # Deep enough that the blend never folds the image (slope below 1).
    to_jaw = _smoothstep(b / (2 * (lip_depth + opening)))
    across = lens * (1 - to_jaw) + _jaw_width(a) * to_jaw
    vertical = torch.clamp(b + params.split[:, None, None], 0, 1)
    return across * vertical * _above_chin(b, params)


def _jaw_profile(a: torch.Tensor, b: torch.Tensor, lens: torch.Tensor, params: MouthParams) -> torch.Tensor:
    """How much of a closing's rise moves each pixel of the lower lip's field: the gap's shape at
    the lip's edge (the corners stay joined), the whole jaw from below the lip to the chin (the
    chin rises with the lip, its skin unstretched), fading below the chin. The blend from the
    lips' shape to the jaw's is deep enough that the skin below the corners never folds."""
    rise = (1 - _UPPER_LIP_CLOSING) * (-params.opening[:, None, None]).clamp(min=0)
    blend = torch.maximum(1.5 * params.lip_depth[:, None, None], 2 * rise)
    to_jaw = _smoothstep(b / blend)
    return (lens * (1 - to_jaw) + _jaw_width(a) * to_jaw) * _above_chin(b, params)


def _upper_closing_profile(b: torch.Tensor, params: MouthParams) -> torch.Tensor:
    """The upper lip's share of a closing's fall: the whole lip moves (inner edge to outer
    edge), the skin above it takes the stretch up to `upper_reach`."""
    outer = torch.maximum(params.upper_depth, params.source_gap + 1)[:, None, None]
    reach = (params.upper_reach[:, None, None] - outer).clamp(min=1)
    return 1 - _smoothstep((-b - outer) / reach)


def _jaw_width(a: torch.Tensor) -> torch.Tensor:
    """The jaw moves as one across the chin, fading toward the cheeks."""
    return torch.exp(-((a / 1.7) ** 6))


def _above_chin(b: torch.Tensor, params: MouthParams) -> torch.Tensor:
    """1 down to the chin, fading to 0 over the neck below it."""
    chin_depth = params.chin_depth[:, None, None]
    return 1 - _smoothstep((b - chin_depth) / (0.7 * chin_depth))


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
    crops: np.ndarray, a: torch.Tensor, b: torch.Tensor, params: MouthParams, grid: tuple[int, int]
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(B, 3) mean colours (0..1) of the lips and of the skin between lip and chin, taken at the
    pixels nearest the coarse grid's samples (`a`, `b` on that grid), and (B,) the skin's grain
    at full resolution: the standard deviation of its luma around a 3x3 local mean (noise, film
    grain, pores)."""
    height, width = crops.shape[1:3]
    samples = _as_tensor(crops[:, _nearest(grid[0], height)][:, :, _nearest(grid[1], width)], a.device)
    lip_depth, chin_depth = params.lip_depth[:, None, None], params.chin_depth[:, None, None]
    lips = (a.abs() < 0.8) & (b.abs() < lip_depth + 1)
    chin = (a.abs() < 1) & (b > 1.5 * lip_depth) & (b < 0.8 * chin_depth)
    # A beard or stubble is texture, not noise: the grain is capped at a camera's.
    return _masked_mean(samples, lips), _masked_mean(samples, chin), _grain(crops, chin).clamp(max=_MAX_GRAIN)


def _nearest(samples: int, pixels: int) -> np.ndarray:
    """Index of the pixel nearest each of `samples` equal cells' centres across `pixels`."""
    return np.minimum(((np.arange(samples) + 0.5) * (pixels / samples)).astype(int), pixels - 1)


def _as_tensor(crops: np.ndarray, device: torch.device) -> torch.Tensor:
    """(B, h, w, 3) uint8 -> (B, 3, h, w) floats in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(crops)).to(device).permute(0, 3, 1, 2).float() / 255


def _grain(crops: np.ndarray, region: torch.Tensor) -> torch.Tensor:
    """(B,) luma detail's standard deviation at full resolution inside `region`, a (B, h, w) mask
    on the coarse grid."""
    rows, cols = _extent(region.any(dim=0), 0)
    if rows is None:
        return torch.zeros(crops.shape[0], device=region.device)
    height, width = crops.shape[1:3]
    to_full = lambda cells, count, pixels: slice(cells.start * pixels // count, -(-cells.stop * pixels // count))
    full_rows, full_cols = to_full(rows, region.shape[1], height), to_full(cols, region.shape[2], width)
    luma = _as_tensor(crops[:, full_rows, full_cols], region.device).mean(dim=1, keepdim=True)
    detail = luma - F.avg_pool2d(luma, 3, 1, 1, count_include_pad=False)
    inside = F.interpolate(region[:, None, rows, cols].float(), size=luma.shape[2:], mode="nearest")
    return _masked_mean(detail ** 2, inside[:, 0] > 0)[:, 0].sqrt()


def _masked_mean(crops: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    mask = mask.unsqueeze(1).to(crops.dtype)
    return (crops * mask).sum(dim=(2, 3)) / mask.sum(dim=(2, 3)).clamp(min=1)
