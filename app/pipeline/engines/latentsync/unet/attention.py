"""Multi-head attention, the GEGLU feed-forward and the per-frame spatial transformer.

The spatial transformer (the reference's `Transformer3DModel`) attends over the pixels of each
frame, then (with `add_audio_layer`, on in 1.6) from those pixels to the frame's audio tokens.
"""

import torch
import torch.nn.functional as F
from torch import nn

from app.pipeline.engines.latentsync.unet.resnet import batch_as_frames, frames_as_batch


class Attention(nn.Module):
    """Scaled dot-product attention of `tokens` to `context` (themselves when None); projections
    without bias except the output's, as in the reference."""

    def __init__(self, query_dim: int, heads: int, head_dim: int, context_dim: int | None = None) -> None:
        super().__init__()
        inner = heads * head_dim
        self.heads = heads
        self.to_q = nn.Linear(query_dim, inner, bias=False)
        self.to_k = nn.Linear(context_dim or query_dim, inner, bias=False)
        self.to_v = nn.Linear(context_dim or query_dim, inner, bias=False)
        # A list for the reference's key `to_out.0` (its `to_out.1` is a dropout of 0).
        self.to_out = nn.ModuleList([nn.Linear(inner, query_dim)])

    def forward(self, tokens: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        context = tokens if context is None else context
        query, key, value = (
            self._split_heads(project(source))
            for project, source in ((self.to_q, tokens), (self.to_k, context), (self.to_v, context))
        )
        attended = F.scaled_dot_product_attention(query, key, value)
        return self.to_out[0](attended.transpose(1, 2).flatten(2))

    def _split_heads(self, tokens: torch.Tensor) -> torch.Tensor:
        """`(n, length, heads * d)` as `(n, heads, length, d)`."""
        return tokens.unflatten(-1, (self.heads, -1)).transpose(1, 2)


class GEGLU(nn.Module):
    """One projection to twice the width; the first half gated by GELU of the second."""

    def __init__(self, dim: int, inner: int) -> None:
        super().__init__()
        self.proj = nn.Linear(dim, inner * 2)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        hidden, gate = self.proj(tokens).chunk(2, dim=-1)
        return hidden * F.gelu(gate)


class FeedForward(nn.Module):
    """diffusers' `FeedForward(dim, activation_fn="geglu")`: GEGLU to 4x the width, then back.
    Keys `net.0.proj` and `net.2` (`net.1` is a dropout of 0 there, an identity here)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.net = nn.ModuleList([GEGLU(dim, dim * 4), nn.Identity(), nn.Linear(dim * 4, dim)])

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        for layer in self.net:
            tokens = layer(tokens)
        return tokens


class TransformerBlock(nn.Module):
    """Pre-norm self-attention, audio cross-attention (when built with `audio_dim`), feed-forward."""

    def __init__(self, dim: int, heads: int, head_dim: int, audio_dim: int | None) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn1 = Attention(dim, heads, head_dim)
        self.norm2 = nn.LayerNorm(dim) if audio_dim is not None else None
        self.attn2 = Attention(dim, heads, head_dim, context_dim=audio_dim) if audio_dim is not None else None
        self.ff = FeedForward(dim)
        self.norm3 = nn.LayerNorm(dim)

    def forward(self, tokens: torch.Tensor, audio: torch.Tensor | None) -> torch.Tensor:
        tokens = self.attn1(self.norm1(tokens)) + tokens
        if self.norm2 is not None and self.attn2 is not None and audio is not None:
            tokens = self.attn2(self.norm2(tokens), audio) + tokens
        return self.ff(self.norm3(tokens)) + tokens


class SpatialTransformer(nn.Module):
    """Group norm, 1x1 conv in, one transformer block over each frame's pixels, 1x1 conv out,
    plus the input. `heads` heads of `channels // heads`."""

    def __init__(self, channels: int, heads: int, groups: int, audio_dim: int | None) -> None:
        super().__init__()
        self.norm = nn.GroupNorm(groups, channels, eps=1e-6)
        self.proj_in = nn.Conv2d(channels, channels, kernel_size=1)
        self.transformer_blocks = nn.ModuleList([TransformerBlock(channels, heads, channels // heads, audio_dim)])
        self.proj_out = nn.Conv2d(channels, channels, kernel_size=1)

    def forward(self, video: torch.Tensor, audio: torch.Tensor | None) -> torch.Tensor:
        """`video` (b, c, f, h, w); `audio` (b * f, tokens, d) or (b, f, tokens, d): one frame's
        tokens for each frame, as the reference's pipeline stacks them."""
        frames = video.shape[2]
        images = frames_as_batch(video)
        n, channels, height, width = images.shape
        tokens = self.proj_in(self.norm(images)).permute(0, 2, 3, 1).reshape(n, height * width, channels)
        if audio is not None and audio.dim() == 4:
            audio = audio.flatten(0, 1)
        for block in self.transformer_blocks:
            tokens = block(tokens, audio)
        hidden = tokens.reshape(n, height, width, channels).permute(0, 3, 1, 2).contiguous()
        return batch_as_frames(self.proj_out(hidden) + images, frames)
