"""Frame-wise convolutions and the residual blocks built from them.

A video is `(batch, channels, frames, height, width)`. Convolutions see each frame alone (the
reference's `InflatedConv3d`: a 2-D convolution over `batch * frames` images), but the residual
blocks' group norms are plain `nn.GroupNorm` over the 5-D tensor, so their statistics span all
frames of a clip; `use_inflated_groupnorm` (off in 1.6) makes them per frame instead.
"""

import torch
import torch.nn.functional as F
from torch import nn


def frames_as_batch(video: torch.Tensor) -> torch.Tensor:
    """`(b, c, f, h, w)` as `(b * f, c, h, w)`, frame-major within each clip."""
    return video.transpose(1, 2).flatten(0, 1)


def batch_as_frames(images: torch.Tensor, frames: int) -> torch.Tensor:
    """The inverse of `frames_as_batch`."""
    return images.unflatten(0, (-1, frames)).transpose(1, 2)


class FrameConv(nn.Conv2d):
    """A 2-D convolution applied to every frame of a video."""

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        return batch_as_frames(super().forward(frames_as_batch(video)), video.shape[2])


class FrameGroupNorm(nn.GroupNorm):
    """Group norm with statistics per frame (the reference's `InflatedGroupNorm`)."""

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        return batch_as_frames(super().forward(frames_as_batch(video)), video.shape[2])


def group_norm(channels: int, groups: int, eps: float, per_frame: bool) -> nn.GroupNorm:
    return (FrameGroupNorm if per_frame else nn.GroupNorm)(groups, channels, eps=eps)


class ResnetBlock(nn.Module):
    """norm, SiLU, conv, + time embedding, norm, SiLU, conv, + (projected) input; divided by
    `output_scale_factor` (1 in 1.6). Dropout (0 in the reference) is left out."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        temb_channels: int,
        groups: int,
        eps: float,
        output_scale_factor: float = 1.0,
        per_frame_norm: bool = False,
    ) -> None:
        super().__init__()
        self.output_scale_factor = output_scale_factor
        self.norm1 = group_norm(in_channels, groups, eps, per_frame_norm)
        self.conv1 = FrameConv(in_channels, out_channels, kernel_size=3, padding=1)
        self.time_emb_proj = nn.Linear(temb_channels, out_channels)
        self.norm2 = group_norm(out_channels, groups, eps, per_frame_norm)
        self.conv2 = FrameConv(out_channels, out_channels, kernel_size=3, padding=1)
        self.conv_shortcut = (
            FrameConv(in_channels, out_channels, kernel_size=1) if in_channels != out_channels else None
        )

    def forward(self, video: torch.Tensor, temb: torch.Tensor) -> torch.Tensor:
        hidden = self.conv1(F.silu(self.norm1(video)))
        hidden = hidden + self.time_emb_proj(F.silu(temb))[:, :, None, None, None]
        hidden = self.conv2(F.silu(self.norm2(hidden)))
        shortcut = video if self.conv_shortcut is None else self.conv_shortcut(video)
        return (shortcut + hidden) / self.output_scale_factor


class Downsample(nn.Module):
    """A stride-2 frame-wise convolution."""

    def __init__(self, channels: int, padding: int) -> None:
        super().__init__()
        self.conv = FrameConv(channels, channels, kernel_size=3, stride=2, padding=padding)

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        return self.conv(video)


class Upsample(nn.Module):
    """Nearest-neighbour doubling of height and width (or to `size`, when the skip connection's
    odd size asks for it), then a frame-wise convolution."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = FrameConv(channels, channels, kernel_size=3, padding=1)

    def forward(self, video: torch.Tensor, size: tuple[int, ...] | None = None) -> torch.Tensor:
        dtype = video.dtype
        # The reference's cast: nearest upsampling has no bfloat16 kernel on some devices.
        if dtype == torch.bfloat16:
            video = video.float()
        if size is None:
            video = F.interpolate(video, scale_factor=(1.0, 2.0, 2.0), mode="nearest")
        else:
            video = F.interpolate(video, size=size, mode="nearest")
        return self.conv(video.to(dtype))
