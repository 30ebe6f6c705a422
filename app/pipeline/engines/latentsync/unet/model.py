"""LatentSync's UNet: a Stable Diffusion 1.5 UNet run frame by frame, with audio cross-attention
and motion modules across frames (the reference's `latentsync/models/unet.py`).

Built from a config of `unet_config` (the published one has 13 input channels: noisy latents,
mask, masked frame and reference frame latents); the module tree, and so every state-dict key,
is the reference's. Only the inference path is here: no attention masks, class labels,
ControlNet residuals or gradient checkpointing.
"""

from typing import Any, cast

import torch
from diffusers.models.embeddings import TimestepEmbedding, Timesteps
from torch import nn

from app.pipeline.engines.latentsync.unet.blocks import BlockOptions, DownBlock, MidBlock, UpBlock
from app.pipeline.engines.latentsync.unet.resnet import FrameConv, group_norm


class LatentSyncUNet(nn.Module):
    config: dict[str, Any]

    def __init__(self, config: dict[str, Any]) -> None:
        """`config`: one `unet_config.read_unet_config` returned (checked there)."""
        super().__init__()
        self.config = config
        widths = list(config["block_out_channels"])
        count = len(widths)
        heads = config["attention_head_dim"]
        heads = list(heads) if isinstance(heads, list) else [heads] * count
        temb_channels = widths[0] * 4
        options = BlockOptions(
            temb_channels=temb_channels,
            groups=config["norm_num_groups"],
            eps=float(config["norm_eps"]),
            audio_dim=config["cross_attention_dim"] if config["add_audio_layer"] else None,
            per_frame_norm=config.get("use_inflated_groupnorm", False),
            motion_kwargs=dict(config["motion_module_kwargs"]),
        )
        motion = config["use_motion_module"]

        self.conv_in = FrameConv(config["in_channels"], widths[0], kernel_size=3, padding=1)
        self.time_proj = Timesteps(widths[0], config["flip_sin_to_cos"], config["freq_shift"])
        self.time_embedding = TimestepEmbedding(widths[0], temb_channels)

        self.down_blocks = _down_blocks(config, widths, heads, options)
        self.mid_block = MidBlock(
            widths[-1],
            heads[-1],
            motion and config["motion_module_mid_block"],
            config["mid_block_scale_factor"],
            options,
        )
        self.up_blocks = _up_blocks(config, widths, heads, options)
        self.conv_norm_out = group_norm(widths[0], config["norm_num_groups"], options.eps, options.per_frame_norm)
        self.conv_act = nn.SiLU()
        self.conv_out = FrameConv(widths[0], config["out_channels"], kernel_size=3, padding=1)

    def forward(
        self, sample: torch.Tensor, timestep: torch.Tensor | float | int, encoder_hidden_states: torch.Tensor | None
    ) -> torch.Tensor:
        """`sample` (b, in_channels, f, h, w); `timestep` a number, or a tensor of one or b values;
        `encoder_hidden_states` the audio tokens of each frame, (b * f, tokens, dim) or
        (b, f, tokens, dim). Returns the prediction (b, out_channels, f, h, w)."""
        if self.config["center_input_sample"]:
            sample = 2 * sample - 1.0
        # The sinusoids come out in float32 whatever the weights are (fp16 on a GPU).
        temb = self.time_embedding(self.time_proj(_batch_timesteps(timestep, sample)).to(self.conv_in.weight.dtype))
        video = self.conv_in(sample)
        skips = [video]
        for down in self.down_blocks:
            video, block_skips = down(video, temb, encoder_hidden_states)
            skips.extend(block_skips)
        video = self.mid_block(video, temb, encoder_hidden_states)
        # Sizes that do not halve evenly all the way down: each upsampling goes to the size of
        # the skip connection waiting for it, not to twice its input.
        uneven = any(side % 2 ** (len(self.up_blocks) - 1) for side in sample.shape[-2:])
        for up in cast(list[UpBlock], self.up_blocks):
            following = len(skips) - len(up.resnets) - 1
            size = tuple(skips[following].shape[2:]) if uneven and following >= 0 else None
            video = up(video, skips, temb, encoder_hidden_states, size)
        return self.conv_out(self.conv_act(self.conv_norm_out(video)))


def _down_blocks(config: dict[str, Any], widths: list[int], heads: list[int], options: BlockOptions) -> nn.ModuleList:
    """The encoder's blocks, widest resolution first (the reference's `down_blocks`)."""
    motion, resolutions, count = config["use_motion_module"], config["motion_module_resolutions"], len(widths)
    blocks = nn.ModuleList()
    for i, kind in enumerate(config["down_block_types"]):
        blocks.append(
            DownBlock(
                widths[max(i - 1, 0)],
                widths[i],
                config["layers_per_block"],
                heads[i] if kind == "CrossAttnDownBlock3D" else None,
                motion and 2**i in resolutions and not config["motion_module_decoder_only"],
                config["downsample_padding"] if i < count - 1 else None,
                options,
            )
        )
    return blocks


def _up_blocks(config: dict[str, Any], widths: list[int], heads: list[int], options: BlockOptions) -> nn.ModuleList:
    """The decoder's blocks, coarsest resolution first, each taking its encoder block's skips."""
    motion, resolutions, count = config["use_motion_module"], config["motion_module_resolutions"], len(widths)
    blocks = nn.ModuleList()
    skips = _skip_widths(widths, config["layers_per_block"])
    for i, kind in enumerate(config["up_block_types"]):
        blocks.append(
            UpBlock(
                [skips.pop() for _ in range(config["layers_per_block"] + 1)],
                widths[count - i] if i > 0 else widths[-1],  # what comes in: the previous block's width
                widths[count - 1 - i],
                heads[count - 1 - i] if kind == "CrossAttnUpBlock3D" else None,
                # The reference counts resolutions up from 2**3 whatever the depth.
                motion and 2 ** (3 - i) in resolutions,
                upsample=i < count - 1,
                options=options,
            )
        )
    return blocks


def _skip_widths(widths: list[int], layers: int) -> list[int]:
    """The widths of the down path's skip connections in the order they are made: conv_in's,
    then each down block's layers and (but the last) its downsampler."""
    made = [widths[0]]
    for i, width in enumerate(widths):
        made += [width] * (layers + (1 if i < len(widths) - 1 else 0))
    return made


def _batch_timesteps(timestep: torch.Tensor | float | int, sample: torch.Tensor) -> torch.Tensor:
    """One timestep per batch item (the reference's rule: a float becomes float64, an int int64)."""
    if not isinstance(timestep, torch.Tensor):
        dtype = torch.float64 if isinstance(timestep, float) else torch.int64
        timestep = torch.tensor([timestep], dtype=dtype, device=sample.device)
    elif timestep.dim() == 0:
        timestep = timestep[None].to(sample.device)
    return timestep.expand(sample.shape[0])
