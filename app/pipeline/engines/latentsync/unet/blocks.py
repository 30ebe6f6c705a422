"""The UNet's down, middle and up blocks: residual blocks, each followed by a spatial transformer
(in the `CrossAttn*` blocks) and a motion module (where the config puts one).

One class per direction covers both of the reference's variants (`CrossAttnDownBlock3D` and
`DownBlock3D`, and the same going up): without attention the `attentions` list is empty, so the
state-dict keys are the reference's either way.
"""

from dataclasses import dataclass

import torch
from torch import nn

from app.pipeline.engines.latentsync.unet.attention import SpatialTransformer
from app.pipeline.engines.latentsync.unet.motion import MotionModule
from app.pipeline.engines.latentsync.unet.resnet import Downsample, ResnetBlock, Upsample


@dataclass(frozen=True)
class BlockOptions:
    """What every block of one network shares (from its config)."""

    temb_channels: int
    groups: int
    eps: float
    audio_dim: int | None  # None: no audio cross-attention (`add_audio_layer` off)
    per_frame_norm: bool
    motion_kwargs: dict


def _layer_extras(
    channels: int, count: int, heads: int | None, motion: bool, options: BlockOptions
) -> tuple[nn.ModuleList, nn.ModuleList]:
    """`count` spatial transformers (none when `heads` is None) and motion modules (none unless `motion`)."""
    attentions = (
        [SpatialTransformer(channels, heads, options.groups, options.audio_dim) for _ in range(count)]
        if heads is not None
        else []
    )
    motions = [MotionModule(channels, options.motion_kwargs) for _ in range(count)] if motion else []
    return nn.ModuleList(attentions), nn.ModuleList(motions)


def _transform(
    block: "DownBlock | UpBlock | MidBlock", index: int, video: torch.Tensor, audio: torch.Tensor | None
) -> torch.Tensor:
    """The layer's spatial transformer then its motion module, those it has."""
    if block.attentions:
        video = block.attentions[index](video, audio)
    if block.motion_modules:
        video = block.motion_modules[index](video)
    return video


class DownBlock(nn.Module):
    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        layers: int,
        heads: int | None,
        motion: bool,
        downsample_padding: int | None,
        options: BlockOptions,
    ) -> None:
        """`heads`: attention heads of the spatial transformers, None for none;
        `downsample_padding`: None for a block that does not halve the size (the last)."""
        super().__init__()
        self.resnets = nn.ModuleList(
            [
                ResnetBlock(
                    in_channels if i == 0 else out_channels,
                    out_channels,
                    options.temb_channels,
                    options.groups,
                    options.eps,
                    per_frame_norm=options.per_frame_norm,
                )
                for i in range(layers)
            ]
        )
        self.attentions, self.motion_modules = _layer_extras(out_channels, layers, heads, motion, options)
        self.downsamplers = (
            nn.ModuleList([Downsample(out_channels, downsample_padding)]) if downsample_padding is not None else None
        )

    def forward(
        self, video: torch.Tensor, temb: torch.Tensor, audio: torch.Tensor | None
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """The block's output and the skip connections it leaves for the up blocks."""
        skips = []
        for index, resnet in enumerate(self.resnets):
            video = _transform(self, index, resnet(video, temb), audio)
            skips.append(video)
        if self.downsamplers is not None:
            video = self.downsamplers[0](video)
            skips.append(video)
        return video, skips


class MidBlock(nn.Module):
    """residual, spatial transformer, (motion module: off in 1.6), residual."""

    def __init__(self, channels: int, heads: int, motion: bool, scale: float, options: BlockOptions) -> None:
        super().__init__()
        self.resnets = nn.ModuleList(
            [
                ResnetBlock(
                    channels,
                    channels,
                    options.temb_channels,
                    options.groups,
                    options.eps,
                    output_scale_factor=scale,
                    per_frame_norm=options.per_frame_norm,
                )
                for _ in range(2)
            ]
        )
        self.attentions, self.motion_modules = _layer_extras(channels, 1, heads, motion, options)

    def forward(self, video: torch.Tensor, temb: torch.Tensor, audio: torch.Tensor | None) -> torch.Tensor:
        video = self.resnets[0](video, temb)
        return self.resnets[1](_transform(self, 0, video, audio), temb)


class UpBlock(nn.Module):
    def __init__(
        self,
        skip_channels: list[int],
        previous_channels: int,
        out_channels: int,
        heads: int | None,
        motion: bool,
        upsample: bool,
        options: BlockOptions,
    ) -> None:
        """`skip_channels`: the widths of the skip connections its layers take, in the order taken."""
        super().__init__()
        self.resnets = nn.ModuleList(
            [
                ResnetBlock(
                    (previous_channels if i == 0 else out_channels) + skip,
                    out_channels,
                    options.temb_channels,
                    options.groups,
                    options.eps,
                    per_frame_norm=options.per_frame_norm,
                )
                for i, skip in enumerate(skip_channels)
            ]
        )
        self.attentions, self.motion_modules = _layer_extras(out_channels, len(skip_channels), heads, motion, options)
        self.upsamplers = nn.ModuleList([Upsample(out_channels)]) if upsample else None

    def forward(
        self,
        video: torch.Tensor,
        skips: list[torch.Tensor],
        temb: torch.Tensor,
        audio: torch.Tensor | None,
        size: tuple[int, ...] | None,
    ) -> torch.Tensor:
        """`skips`: the down blocks' outputs still unused, the last one taken first; `size`: the
        upsampled size when it is not twice the input's."""
        for index, resnet in enumerate(self.resnets):
            video = torch.cat([video, skips.pop()], dim=1)
            video = _transform(self, index, resnet(video, temb), audio)
        if self.upsamplers is not None:
            video = self.upsamplers[0](video, size)
        return video
