"""Motion modules: attention across the frames of a clip at each pixel (AnimateDiff's
"Vanilla" temporal transformer, as the reference's `motion_module.py` has it).

Every operation between the group norm and the output projection acts on one token at a time
except the attention, so this code keeps the tokens as `(b * h * w, f, c)` throughout, where
the reference moves them to `(b * f, h * w, c)` and back around each attention: same values.
"""

import math

import torch
from torch import nn

from app.pipeline.engines.latentsync.unet.attention import Attention, FeedForward
from app.pipeline.engines.latentsync.unet.resnet import frames_as_batch

# The reference's temporal transformers pass no group count: its default of 32 holds at every width.
_GROUPS = 32


def sinusoid_table(length: int, dim: int) -> torch.Tensor:
    """`(1, length, dim)`: sin at even, cos at odd features (the Transformer paper's encoding).
    Loaded from the checkpoint; this is only what the reference initialises it to."""
    position = torch.arange(length).unsqueeze(1)
    frequency = torch.exp(torch.arange(0, dim, 2) * (-math.log(10000.0) / dim))
    table = torch.zeros(1, length, dim)
    table[0, :, 0::2] = torch.sin(position * frequency)
    table[0, :, 1::2] = torch.cos(position * frequency)
    return table


class PositionalEncoding(nn.Module):
    pe: torch.Tensor

    def __init__(self, dim: int, max_len: int) -> None:
        super().__init__()
        self.register_buffer("pe", sinusoid_table(max_len, dim))

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return tokens + self.pe[:, : tokens.shape[1]]


class TemporalAttention(Attention):
    """Self-attention over frames, with the frame index encoded first when `max_len` is given."""

    def __init__(self, dim: int, heads: int, head_dim: int, max_len: int | None) -> None:
        super().__init__(dim, heads, head_dim)
        self.pos_encoder = PositionalEncoding(dim, max_len) if max_len is not None else None

    def forward(self, tokens: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        if self.pos_encoder is not None:
            tokens = self.pos_encoder(tokens)
        return super().forward(tokens)


class TemporalTransformerBlock(nn.Module):
    def __init__(self, dim: int, heads: int, head_dim: int, attentions: int, max_len: int | None) -> None:
        super().__init__()
        self.attention_blocks = nn.ModuleList(
            [TemporalAttention(dim, heads, head_dim, max_len) for _ in range(attentions)]
        )
        self.norms = nn.ModuleList([nn.LayerNorm(dim) for _ in range(attentions)])
        self.ff = FeedForward(dim)
        self.ff_norm = nn.LayerNorm(dim)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        for attention, norm in zip(self.attention_blocks, self.norms):
            tokens = attention(norm(tokens)) + tokens
        return self.ff(self.ff_norm(tokens)) + tokens


class TemporalTransformer(nn.Module):
    """Per-frame group norm, linear in, transformer blocks across frames, linear out, plus the input."""

    def __init__(self, channels: int, heads: int, head_dim: int, layers: int, attentions: int, max_len: int | None):
        super().__init__()
        inner = heads * head_dim
        self.norm = nn.GroupNorm(_GROUPS, channels, eps=1e-6)
        self.proj_in = nn.Linear(channels, inner)
        self.transformer_blocks = nn.ModuleList(
            [TemporalTransformerBlock(inner, heads, head_dim, attentions, max_len) for _ in range(layers)]
        )
        self.proj_out = nn.Linear(inner, channels)

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        batch, channels, frames, height, width = video.shape
        normed = self.norm(frames_as_batch(video)).unflatten(0, (batch, frames))
        # (b, f, c, h, w) -> (b, h, w, f, c) -> one sequence of frames per pixel.
        tokens = self.proj_in(normed.permute(0, 3, 4, 1, 2).reshape(batch * height * width, frames, channels))
        for block in self.transformer_blocks:
            tokens = block(tokens)
        hidden = self.proj_out(tokens).reshape(batch, height, width, frames, channels).permute(0, 4, 3, 1, 2)
        return hidden + video


class MotionModule(nn.Module):
    """The reference's `VanillaTemporalModule` (its time embedding and audio inputs are unused)."""

    def __init__(self, channels: int, kwargs: dict) -> None:
        super().__init__()
        heads = kwargs.get("num_attention_heads", 8)
        max_len = kwargs.get("temporal_position_encoding_max_len", 24)
        self.temporal_transformer = TemporalTransformer(
            channels,
            heads,
            channels // heads // kwargs.get("temporal_attention_dim_div", 1),
            layers=kwargs.get("num_transformer_block", 2),
            attentions=len(kwargs.get("attention_block_types", ("Temporal_Self", "Temporal_Self"))),
            max_len=max_len if kwargs.get("temporal_position_encoding", False) else None,
        )

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        return self.temporal_transformer(video)
