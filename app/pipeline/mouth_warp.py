"""Open a mouth in a batch of crops: a smooth displacement of the lower lip and jaw, plus a cavity.

Coordinates per crop, in pixels: `a` runs along the mouth (corner to corner, in half mouth
widths), `b` runs down from the mouth line toward the chin. Everything above the mouth line
(b <= 0) keeps its exact pixels; below it the content is pulled down by D(a, b), which is
largest at the lips, holds through the chin and fades to zero below it and at the sides.
The gap that opens between the lips is painted as a dark cavity.
"""

from dataclasses import dataclass

import torch
import torch.nn.functional as F

# Cavity colour relative to the mean lip colour: dark, slightly red, like a shaded mouth interior.
_CAVITY_SHADE = torch.tensor([0.28, 0.16, 0.16])
# Antialiasing width of the cavity's edges, in pixels.
_EDGE_PX = 1.2
# Pixels displaced by less than this keep their exact values.
_STILL_PX = 1e-3


@dataclass
class MouthParams:
    """Per-crop parameters, each a tensor of shape (B,) or (B, 2), in crop pixel coordinates."""

    center: torch.Tensor  # (B, 2) middle of the mouth line, where the lips part
    along: torch.Tensor  # (B, 2) unit vector from one mouth corner to the other
    half_width: torch.Tensor  # (B,) half the corner-to-corner distance
    chin_depth: torch.Tensor  # (B,) distance from the mouth line down to the chin
    lip_depth: torch.Tensor  # (B,) distance from the mouth line down to the lower lip's outer edge
    opening: torch.Tensor  # (B,) how far the lower lip moves down, in pixels


def open_mouths(crops: torch.Tensor, params: MouthParams) -> tuple[torch.Tensor, torch.Tensor]:
    """`crops` (B, 3, H, W) floats in [0, 1] -> (crops with the mouths opened, (B, H, W) mask of
    the pixels that changed, 0..1)."""
    batch, _, height, width = crops.shape
    ys, xs = torch.meshgrid(
        torch.arange(height, dtype=crops.dtype, device=crops.device),
        torch.arange(width, dtype=crops.dtype, device=crops.device),
        indexing="ij",
    )
    down = torch.stack([-params.along[:, 1], params.along[:, 0]], dim=1)
    down = torch.where((down[:, 1:] < 0), -down, down)  # image y grows downward
    dx = xs[None] - params.center[:, 0, None, None]
    dy = ys[None] - params.center[:, 1, None, None]
    a = (dx * params.along[:, 0, None, None] + dy * params.along[:, 1, None, None])
    a = a / params.half_width[:, None, None]
    b = dx * down[:, 0, None, None] + dy * down[:, 1, None, None]

    shift = params.opening[:, None, None] * _profile(a, b, params)
    source_x = xs[None] - shift * down[:, 0, None, None]
    source_y = ys[None] - shift * down[:, 1, None, None]
    grid = torch.stack([2 * source_x / (width - 1) - 1, 2 * source_y / (height - 1) - 1], dim=-1)
    warped = F.grid_sample(crops, grid, mode="bilinear", padding_mode="border", align_corners=True)
    # Resampling in place is exact only up to float rounding; unmoved pixels keep their values.
    moved = shift > _STILL_PX
    warped = torch.where(moved.unsqueeze(1), warped, crops)

    gap = params.opening[:, None, None] * _lens(a)
    inside = torch.clamp(b / _EDGE_PX, 0, 1) * torch.clamp((gap - b) / _EDGE_PX, 0, 1)
    inside = (inside * (gap > 0.5)).unsqueeze(1)
    cavity = _cavity_colour(crops, params, a, b, gap)
    changed = torch.maximum(moved.to(crops.dtype), inside[:, 0])
    return warped * (1 - inside) + cavity * inside, changed


def _lens(a: torch.Tensor) -> torch.Tensor:
    """Opening across the mouth: full at the middle, zero at the corners."""
    return torch.clamp(1 - a * a, min=0) ** 0.7


def _profile(a: torch.Tensor, b: torch.Tensor, params: MouthParams) -> torch.Tensor:
    """D(a, b) / opening: 0 above the mouth line, lens-shaped at the lips, jaw-wide at the chin."""
    lip_depth = params.lip_depth[:, None, None]
    chin_depth = params.chin_depth[:, None, None]
    # Wide enough that the lens-to-jaw blend never folds the image (slope below 1).
    blend_depth = torch.maximum(lip_depth * 2, params.opening[:, None, None] * 2)
    jaw = torch.exp(-((a / 1.7) ** 6))
    to_jaw = _smoothstep(b / blend_depth)
    across = _lens(a) * (1 - to_jaw) + jaw * to_jaw
    below_chin = (b - chin_depth) / (0.7 * chin_depth)
    vertical = torch.clamp(b / 1.0, 0, 1) * (1 - _smoothstep(below_chin))
    return across * vertical


def _smoothstep(t: torch.Tensor) -> torch.Tensor:
    t = torch.clamp(t, 0, 1)
    return t * t * (3 - 2 * t)


def _cavity_colour(
    crops: torch.Tensor, params: MouthParams, a: torch.Tensor, b: torch.Tensor, gap: torch.Tensor
) -> torch.Tensor:
    """A dark interior tinted by the lips' colour, a little lighter toward the lips."""
    near_lips = (a.abs() < 0.8) & (b.abs() < params.lip_depth[:, None, None] + 1)
    weights = near_lips.unsqueeze(1).to(crops.dtype)
    lip_colour = (crops * weights).sum(dim=(2, 3)) / weights.sum(dim=(2, 3)).clamp(min=1)
    base = lip_colour * _CAVITY_SHADE.to(crops.device, crops.dtype)[None]
    depth = torch.clamp(b / gap.clamp(min=1), 0, 1)
    glow = 1 + 0.6 * (1 - torch.sin(depth * torch.pi)).unsqueeze(1)
    return torch.clamp(base[:, :, None, None] * glow, 0, 1)
