"""Reshape the lips in a batch of crops: a smooth displacement field (`mouth_fields`, computed
with torch on a coarse grid, applied with OpenCV) plus a drawn interior (`mouth_interior`)
where the lips part. The upper and the lower lip's fields are applied each on its side of the
line where the lips part (an opening) or meet (a closing), found at full resolution.
"""

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from app.pipeline.render.mouth_fields import MouthParams, displacement, gap_edges, mouth_coordinates, opening_lens
from app.pipeline.render.mouth_interior import LOWER_RIM_OVER_LIP, add_grain, draw_interior, lip_rim_px, soften
from app.pipeline.render.mouth_palette import lit_enamel
from app.pipeline.render.own_mouths import luma

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
# The light's slope across the mouth is read on the skin under it, this far (half mouth widths)
# to either side of the middle; it is at most this (a side twice as bright as the other is 1/3).
_LIGHT_SIDE_FROM = 0.3
_MAX_LIGHT_SLOPE = 0.4
# Samples across the mouth, at most, of the displacement field; of the drawn interior, at most
# the first, or one per the second's pixels on a larger mouth (on a close-up, coarser samples
# draw the teeth's edges in visible steps).
_FIELD_MOUTH_PX = 24
_INTERIOR_MOUTH_PX = 64
_INTERIOR_SAMPLE_PX = 2.0
# The lower lip's rim covers the lip's own edge below the gap where it is paler than the lips
# (luma, 0..1) by more than the first (a lip's own sheen), fully from the second on.
_PALE_OVER_LIPS = (0.1, 0.2)


def open_mouths(crops: np.ndarray, params: MouthParams) -> tuple[np.ndarray, np.ndarray]:
    """RGB crops (B, H, W, 3) uint8 -> (reshaped crops, uint8, and (B, H, W) float32 weights 0..1
    of the changed pixels, grown a little so that resampled edges are written back too).

    The cost hardly grows with the face: the displacement field (smooth) is computed with torch
    on a coarse grid, `_FIELD_MOUTH_PX` samples across the mouth, and the lip gap with its drawn
    interior on a finer one, `_INTERIOR_MOUTH_PX` across (more only on a close-up's mouth wider
    than twice that), only over the gap. Both are upsampled;
    full-resolution pixels are resampled once per lip field that moves, in 8 bits with OpenCV,
    and the interior gets its grain at full resolution.
    """
    _, height, width, _ = crops.shape
    device = params.center.device
    mouth_px = max(float(2 * params.half_width.max()), 1.0)
    field_scale = min(1.0, _FIELD_MOUTH_PX / mouth_px)
    field_size = (max(2, round(height * field_scale)), max(2, round(width * field_scale)))
    a, b = mouth_coordinates(
        params, _sample_centres(field_size[0], 0, height, device), _sample_centres(field_size[1], 0, width, device)
    )
    upper_shift, lower_shift, below, gap = displacement(a, b, params)

    # What changes, grown by one field sample so that resampled edges are written back too.
    lower_side = (below > 0).to(a.dtype)[:, None]
    shift = lower_shift * lower_side + upper_shift * (1 - lower_side)
    changed_field = torch.maximum((shift.abs().amax(dim=1) > _STILL_PX).to(shift.dtype), gap)
    changed_field = F.max_pool2d(changed_field[:, None], 3, stride=1, padding=1)
    upsample = lambda maps: F.interpolate(maps, size=(height, width), mode="bilinear", align_corners=False)
    changed = upsample(changed_field)[:, 0].cpu().numpy()
    # `below` is smooth (pixels below the line where the lips part or meet), so it upsamples
    # exactly enough for that line antialiased over one full-resolution pixel: the lips' edges
    # stay as crisp as the picture's, where the coarse fields would leave steps along them.
    lower_weight = upsample(below[:, None])[:, 0].add(0.5).clamp(0, 1).cpu().numpy()
    upper_px, lower_px = upsample(upper_shift).cpu().numpy(), upsample(lower_shift).cpu().numpy()
    warped = np.stack([_resample_two(*args) for args in zip(crops, upper_px, lower_px, lower_weight)])

    extent = _extent(gap.amax(dim=0) > 0, 1)
    if extent is not None:
        rows, cols = extent
        # The gap's rectangle in crop pixels, with room for the softened edge.
        margin = _SOFT_EDGE_PX / _interior_scale(mouth_px)
        rim_px = float(lip_rim_px(torch.tensor(mouth_px)))
        over_lip = LOWER_RIM_OVER_LIP * rim_px
        top = max(int(rows.start / field_scale - margin), 0)
        bottom = min(int(rows.stop / field_scale + margin + over_lip) + 1, height)
        left = max(int(cols.start / field_scale - margin), 0)
        right = min(int(cols.stop / field_scale + margin) + 1, width)
        colours = _lip_and_skin_colours(crops, a, b, params, field_size)
        drawn, drawn_weight = _drawn_interior(params, colours, (top, bottom, left, right), mouth_px, height * width)
        interior = drawn.permute(0, 2, 3, 1).cpu().numpy() * 255
        in_gap_and_on_lip = drawn_weight.permute(0, 2, 3, 1).cpu().numpy()
        band = (slice(None), slice(top, bottom), slice(left, right))
        # Over the lower lip's own edge, only where it is paler than the lips (LOWER_RIM_OVER_LIP).
        pale = _pale_cover(warped[band], colours[0], rim_px)
        weight = in_gap_and_on_lip[..., :1] + in_gap_and_on_lip[..., 1:] * pale
        warped[band] = np.round(warped[band] * (1 - weight) + interior * weight).astype(np.uint8)
        changed[band] = np.maximum(changed[band], weight[..., 0])
    return warped, changed


def _pale_cover(pixels: np.ndarray, colour: torch.Tensor, rim_px: float) -> np.ndarray:
    """(B, h, w, 1) 0..1: how much of each pixel of `pixels` (B, h, w, 3) uint8 the lower rim
    covers: where it is paler than `colour` (B, 3, 0..1), in luma, between the bounds of
    `_PALE_OVER_LIPS`, grown by `rim_px`, so that a pale edge's blurred fringe is covered with it
    (covered pixel by pixel, the fringe, a little less pale, stayed as a ragged white outline
    around the covered teeth). Not softened further: the rim's own weight already is, and
    softening the cover spreads the rim over the lip's own edge where it is not pale (the quality
    report's dark-pixel reading of the astronaut's openings fell from 0.61 to 0.57)."""
    lips = luma(colour.cpu().numpy())[:, None, None]
    start, full = _PALE_OVER_LIPS
    paler = np.clip((luma(pixels) / 255 - lips - start) / (full - start), 0, 1).astype(np.float32)
    size = 2 * max(1, round(rim_px)) + 1
    grow = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    return np.stack([cv2.dilate(crop, grow) for crop in paler])[..., None]


def _resample(crop: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """`crop` (H, W, 3) uint8 with each pixel showing what was `shift` (2, H, W) behind it;
    pixels that do not move keep their exact values."""
    if not shift.any():  # a lip field that moves nothing (no fall, rise or widening)
        return crop
    height, width = crop.shape[:2]
    map_x = np.arange(width, dtype=np.float32)[None, :] - shift[0]
    map_y = np.arange(height, dtype=np.float32)[:, None] - shift[1]
    return cv2.remap(crop, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def _resample_two(
    crop: np.ndarray, upper_shift: np.ndarray, lower_shift: np.ndarray, lower_weight: np.ndarray
) -> np.ndarray:
    """`crop` following the upper lip's field above the line where the lips part or meet, and the
    lower lip's below it."""
    upper, lower = _resample(crop, upper_shift), _resample(crop, lower_shift)
    weight = lower_weight[..., None]
    return np.round(lower * weight + upper * (1 - weight)).astype(np.uint8)


def _interior_scale(mouth_px: float) -> float:
    """Samples of the drawn interior per crop pixel, for a mouth `mouth_px` wide."""
    return min(1.0, max(_INTERIOR_MOUTH_PX / mouth_px, 1 / _INTERIOR_SAMPLE_PX))


def _sample_centres(samples: int, start: int, stop: int, device: torch.device) -> torch.Tensor:
    """Pixel coordinates of the centres of `samples` equal cells spanning pixels [start, stop)."""
    cell = (stop - start) / samples
    return start + (torch.arange(samples, dtype=torch.float32, device=device) + 0.5) * cell - 0.5


def _drawn_interior(
    params: MouthParams,
    colours: tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor],
    box: tuple[int, int, int, int],
    mouth_px: float,
    seed: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, 3, h, w) interior and (B, 2, h, w) weights, over the gap and over the lower lip's own
    edge below it, within the crop-pixel box (top, bottom, left, right); drawn on the interior's
    grid (`_interior_scale`), softened like the picture, upsampled, and given the picture's grain."""
    top, bottom, left, right = box
    scale = _interior_scale(mouth_px)
    size = (max(1, round((bottom - top) * scale)), max(1, round((right - left) * scale)))
    device = params.center.device
    a, b = mouth_coordinates(
        params, _sample_centres(size[0], top, bottom, device), _sample_centres(size[1], left, right, device)
    )
    upper, lower = gap_edges(opening_lens(a, params.rounding[:, None, None]), params)
    mouth_width = 2 * params.half_width
    # The gap, antialiased over at least one sample, and the lower lip's rim drawn over its own
    # edge below it (`LOWER_RIM_OVER_LIP`).
    edge = max(_EDGE_PX, 1 / scale)
    over_lip = LOWER_RIM_OVER_LIP * lip_rim_px(mouth_width)[:, None, None]
    below_upper = torch.clamp((b - upper) / edge, 0, 1) * (lower - upper > 0.5)
    in_gap = below_upper * torch.clamp((lower - b) / edge, 0, 1)
    on_lip = below_upper * torch.clamp((lower + over_lip - b) / edge, 0, 1) - in_gap
    gap = (lower - upper).clamp(min=1)
    lip_colour, skin, grain, light_slope = colours
    enamel = lit_enamel(params.enamel, skin)
    drawn = draw_interior(
        a,
        (b - upper) / gap,
        gap,
        mouth_width,
        lip_colour,
        enamel,
        skin,
        params.rounding,
        params.lips_closed,
        params.own_teeth,
        light_slope,
    )
    # Softened like the picture: a share of the mouth width, in samples.
    blur = float((_BLUR_OF_WIDTH * mouth_width).clamp(*_BLUR_PX).max()) * scale
    drawn, weight = soften(drawn, torch.stack([in_gap, on_lip], dim=1), blur)
    if scale < 1:
        full = (bottom - top, right - left)
        drawn = F.interpolate(drawn, size=full, mode="bilinear", align_corners=False)
        weight = F.interpolate(weight, size=full, mode="bilinear", align_corners=False)
    return add_grain(drawn, grain, skin, seed), weight


def _extent(mask: torch.Tensor, margin: int) -> tuple[slice, slice] | None:
    """Row and column slices of the bounding box of a (H, W) mask's true pixels, `margin` wider;
    None where none is true."""
    rows, cols = torch.nonzero(mask.any(dim=1)), torch.nonzero(mask.any(dim=0))
    if len(rows) == 0:
        return None
    height, width = mask.shape
    return (
        slice(max(int(rows[0]) - margin, 0), min(int(rows[-1]) + 1 + margin, height)),
        slice(max(int(cols[0]) - margin, 0), min(int(cols[-1]) + 1 + margin, width)),
    )


def _lip_and_skin_colours(
    crops: np.ndarray, a: torch.Tensor, b: torch.Tensor, params: MouthParams, grid: tuple[int, int]
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(B, 3) mean colours (0..1) of the lips and of the skin between lip and chin, taken at the
    pixels nearest the coarse grid's samples (`a`, `b` on that grid); (B,) the skin's grain at
    full resolution: the standard deviation of its luma around a 3x3 local mean (noise, film
    grain, pores); and (B,) the light's slope across the mouth, from that skin's two sides:
    (right - left) / (right + left), so a light from one side shades the drawn inside as it
    shades the face."""
    height, width = crops.shape[1:3]
    samples = _as_tensor(crops[:, _nearest(grid[0], height)][:, :, _nearest(grid[1], width)], a.device)
    lip_depth, chin_depth = params.lip_depth[:, None, None], params.chin_depth[:, None, None]
    lips = (a.abs() < 0.8) & (b.abs() < lip_depth + 1)
    chin = (a.abs() < 1) & (b > 1.5 * lip_depth) & (b < 0.8 * chin_depth)
    left = _masked_mean(samples, chin & (a < -_LIGHT_SIDE_FROM)).mean(dim=1)
    right = _masked_mean(samples, chin & (a > _LIGHT_SIDE_FROM)).mean(dim=1)
    slope = ((right - left) / (right + left).clamp(min=1e-3)).clamp(-_MAX_LIGHT_SLOPE, _MAX_LIGHT_SLOPE)
    # A beard or stubble is texture, not noise: the grain is capped at a camera's.
    grain = _grain(crops, chin).clamp(max=_MAX_GRAIN)
    return _masked_mean(samples, lips), _masked_mean(samples, chin), grain, slope


def _nearest(samples: int, pixels: int) -> np.ndarray:
    """Index of the pixel nearest each of `samples` equal cells' centres across `pixels`."""
    return np.minimum(((np.arange(samples) + 0.5) * (pixels / samples)).astype(int), pixels - 1)


def _as_tensor(crops: np.ndarray, device: torch.device) -> torch.Tensor:
    """(B, h, w, 3) uint8 -> (B, 3, h, w) floats in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(crops)).to(device).permute(0, 3, 1, 2).float() / 255


def _grain(crops: np.ndarray, region: torch.Tensor) -> torch.Tensor:
    """(B,) luma detail's standard deviation at full resolution inside `region`, a (B, h, w) mask
    on the coarse grid."""
    extent = _extent(region.any(dim=0), 0)
    if extent is None:
        return torch.zeros(crops.shape[0], device=region.device)
    rows, cols = extent
    height, width = crops.shape[1:3]
    to_full = lambda cells, count, pixels: slice(cells.start * pixels // count, -(-cells.stop * pixels // count))
    full_rows, full_cols = to_full(rows, region.shape[1], height), to_full(cols, region.shape[2], width)
    luma = _as_tensor(crops[:, full_rows, full_cols], region.device).mean(dim=1, keepdim=True)
    detail = luma - F.avg_pool2d(luma, 3, 1, 1, count_include_pad=False)
    inside = F.interpolate(region[:, None, rows, cols].float(), size=luma.shape[2:], mode="nearest")
    return _masked_mean(detail**2, inside[:, 0] > 0)[:, 0].sqrt()


def _masked_mean(crops: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    mask = mask.unsqueeze(1).to(crops.dtype)
    return (crops * mask).sum(dim=(2, 3)) / mask.sum(dim=(2, 3)).clamp(min=1)
