"""LatentSync's audio encoder: the encoder half of openai-whisper (tiny for LatentSync 1.6), loaded
strictly from the original checkpoint format.

The file (`whisper/tiny.pt`) is `{"dims": {...}, "model_state_dict": {...}}` as openai-whisper
saves it, with float16 tensors. The module's state-dict keys are the file's `encoder.*` keys
without the prefix (`conv1.weight`, `blocks.0.attn.query.weight`, `ln_post.bias` ...); the
decoder's keys are expected in the file and ignored.

As the reference (`latentsync/whisper/whisper/model.py`), the parameters stay float32 and the
input's dtype sets the arithmetic: weights are cast to it on the fly, layer norms run in float32.
On a GPU the reference encodes in float16 (whisper's `transcribe` defaults to `fp16=True`).
"""

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from app.pipeline.engines.strict_loading import assign_strictly, read_state
from app.pipeline.engines.weights_cache import WeightsError

_DIMS = (
    "n_mels",
    "n_audio_ctx",
    "n_audio_state",
    "n_audio_head",
    "n_audio_layer",
    "n_vocab",
    "n_text_ctx",
    "n_text_state",
    "n_text_head",
    "n_text_layer",
)
# The reference's log-mel has one filterbank, 80 mels (tiny and small; large-v3's 128 is not supported).
_N_MELS = 80


class _Linear(nn.Linear):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight.to(x.dtype), None if self.bias is None else self.bias.to(x.dtype))


class _Conv1d(nn.Conv1d):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bias = None if self.bias is None else self.bias.to(x.dtype)
        return self._conv_forward(x, self.weight.to(x.dtype), bias)


class _LayerNorm(nn.LayerNorm):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.float()).to(x.dtype)


class _SelfAttention(nn.Module):
    """Whisper's multi-head attention, self-attention only; the key projection has no bias."""

    def __init__(self, n_state: int, n_head: int) -> None:
        super().__init__()
        self.n_head = n_head
        self.query = _Linear(n_state, n_state)
        self.key = _Linear(n_state, n_state, bias=False)
        self.value = _Linear(n_state, n_state)
        self.out = _Linear(n_state, n_state)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, length, _ = x.shape
        q, k, v = (
            projection(x).view(batch, length, self.n_head, -1).transpose(1, 2)
            for projection in (self.query, self.key, self.value)
        )
        # The reference scales q and k by head_dim ** -0.25 each: the usual head_dim ** -0.5 in all.
        attended = F.scaled_dot_product_attention(q, k, v)
        return self.out(attended.transpose(1, 2).flatten(2))


class _Block(nn.Module):
    """Pre-norm residual block: attention, then a 4x-wide GELU MLP (`mlp.0`, `mlp.2` in the file)."""

    def __init__(self, n_state: int, n_head: int) -> None:
        super().__init__()
        self.attn = _SelfAttention(n_state, n_head)
        self.attn_ln = _LayerNorm(n_state)
        self.mlp = nn.Sequential(_Linear(n_state, 4 * n_state), nn.GELU(), _Linear(4 * n_state, n_state))
        self.mlp_ln = _LayerNorm(n_state)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.attn_ln(x))
        return x + self.mlp(self.mlp_ln(x))


class WhisperEncoder(nn.Module):
    """Log-mel (batch, n_mels, 2 * n_ctx) in, every hidden state out (see `forward`)."""

    positional_embedding: torch.Tensor

    def __init__(self, n_mels: int, n_ctx: int, n_state: int, n_head: int, n_layer: int) -> None:
        super().__init__()
        self.conv1 = _Conv1d(n_mels, n_state, kernel_size=3, padding=1)
        self.conv2 = _Conv1d(n_state, n_state, kernel_size=3, stride=2, padding=1)
        self.register_buffer("positional_embedding", sinusoids(n_ctx, n_state))
        self.blocks = nn.ModuleList([_Block(n_state, n_head) for _ in range(n_layer)])
        # Part of the checkpoint (so loaded strictly) but unused: LatentSync keeps the states before it.
        self.ln_post = _LayerNorm(n_state)

    @property
    def width(self) -> int:
        return self.conv2.out_channels

    @property
    def hidden_states(self) -> int:
        """How many states `forward` stacks: the embeddings and each block's output."""
        return len(self.blocks) + 1

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        """(batch, n_ctx, hidden_states, n_state) in the input's dtype: the embeddings (convolutions
        plus positions) and each block's output, as the reference's `include_embeddings=True`
        stacks them (before `ln_post`)."""
        x = F.gelu(self.conv1(mel))
        x = F.gelu(self.conv2(x)).permute(0, 2, 1)
        # The buffer is float32: the sum is rounded back to the input's dtype, as the reference.
        x = (x + self.positional_embedding).to(x.dtype)
        states = [x]
        for block in self.blocks:
            x = block(x)
            states.append(x)
        return torch.stack(states, dim=2)


def sinusoids(length: int, channels: int, max_timescale: float = 10000.0) -> torch.Tensor:
    """(length, channels) whisper's positional embedding: sines then cosines (not interleaved),
    timescales from 1 to `max_timescale`. The checkpoint carries the same values."""
    increment = np.log(max_timescale) / (channels // 2 - 1)
    inverse = torch.exp(-increment * torch.arange(channels // 2))
    scaled = torch.arange(length)[:, None] * inverse[None, :]
    return torch.cat([torch.sin(scaled), torch.cos(scaled)], dim=1)


def load_whisper_encoder(path: Path, mmap: bool = False) -> WhisperEncoder:
    """The encoder of the openai-whisper checkpoint at `path`, float32 on the CPU, in eval mode.

    Every `encoder.*` tensor must be present with its shape for `dims`, and no other; anything
    else (a missing, truncated or foreign file) is a WeightsError naming `path`. With `mmap` a
    float32 file's tensors stay pages of the file; the published float16 ones are converted.
    """
    checkpoint = read_state(path, mmap)
    if not isinstance(checkpoint, dict):
        raise WeightsError(f"{path} is not a whisper checkpoint")
    dims, state = checkpoint.get("dims"), checkpoint.get("model_state_dict")
    if not isinstance(dims, dict) or not isinstance(state, dict):
        raise WeightsError(f"{path} is not a whisper checkpoint (no dims / model_state_dict)")
    if any(not isinstance(dims.get(name), int) for name in _DIMS):
        raise WeightsError(f"{path}: dims {dims} are not whisper's ModelDimensions")
    if dims["n_mels"] != _N_MELS:
        raise WeightsError(f"{path}: n_mels {dims['n_mels']}, the log-mel here has {_N_MELS}")
    with torch.device("meta"):
        encoder = WhisperEncoder(
            dims["n_mels"], dims["n_audio_ctx"], dims["n_audio_state"], dims["n_audio_head"], dims["n_audio_layer"]
        )
    tensors = {}
    for key, value in state.items():
        if isinstance(key, str) and key.startswith("encoder."):
            if not isinstance(value, torch.Tensor):
                raise WeightsError(f"{path}: {key} is not a tensor")
            tensors[key.removeprefix("encoder.")] = value.float()
    return assign_strictly(encoder, tensors, path).eval()
