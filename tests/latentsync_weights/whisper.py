"""Writes whisper checkpoints in openai-whisper's original format, with random values.

The format is the published `whisper/tiny.pt`'s: `{"dims": {...}, "model_state_dict": {...}}`,
float16 tensors, the decoder's included (the reference loads the whole model strictly).
`PUBLISHED_WHISPER_DIMS` are whisper-tiny's; `SMALL_WHISPER_DIMS` keep its audio side's width (384,
what LatentSync's UNet cross-attends to) and 1500 positions, with 2 blocks instead of 4 (3 hidden
states, so 30 audio tokens per video frame instead of 50) and a token-sized decoder. Values come
from one seeded generator in key order, so a seed always writes the same file.
"""

from pathlib import Path

import torch

from app.pipeline.engines.latentsync.whisper_encoder import WhisperEncoder

PUBLISHED_WHISPER_DIMS = {
    "n_mels": 80,
    "n_vocab": 51865,
    "n_audio_ctx": 1500,
    "n_audio_state": 384,
    "n_audio_head": 6,
    "n_audio_layer": 4,
    "n_text_ctx": 448,
    "n_text_state": 384,
    "n_text_head": 6,
    "n_text_layer": 4,
}
SMALL_WHISPER_DIMS = {**PUBLISHED_WHISPER_DIMS, "n_audio_layer": 2, "n_vocab": 64, "n_text_ctx": 16, "n_text_layer": 1}


def write_whisper(path: Path, dims: dict[str, int] = SMALL_WHISPER_DIMS, seed: int = 0) -> None:
    """A whisper checkpoint for `dims` at `path` (its folder made if needed)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.device("meta"):
        encoder = WhisperEncoder(
            dims["n_mels"], dims["n_audio_ctx"], dims["n_audio_state"], dims["n_audio_head"], dims["n_audio_layer"]
        )
    shapes = {f"encoder.{key}": tuple(tensor.shape) for key, tensor in encoder.state_dict().items()}
    shapes.update(_decoder_shapes(dims))
    state = {key: _random(key, shape, generator).half() for key, shape in shapes.items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"dims": dict(dims), "model_state_dict": state}, path)


def _decoder_shapes(dims: dict[str, int]) -> dict[str, tuple[int, ...]]:
    """The text decoder's tensors in the reference's state-dict order (`TextDecoder`: positions,
    token embedding, blocks with self- and cross-attention, final norm; its mask is not saved)."""
    width = dims["n_text_state"]
    shapes: dict[str, tuple[int, ...]] = {
        "decoder.positional_embedding": (dims["n_text_ctx"], width),
        "decoder.token_embedding.weight": (dims["n_vocab"], width),
    }
    for index in range(dims["n_text_layer"]):
        block = f"decoder.blocks.{index}"
        for attention in ("attn", "cross_attn"):
            for name in ("query", "key", "value", "out"):
                shapes[f"{block}.{attention}.{name}.weight"] = (width, width)
                if name != "key":
                    shapes[f"{block}.{attention}.{name}.bias"] = (width,)
            shapes[f"{block}.{attention}_ln.weight"] = shapes[f"{block}.{attention}_ln.bias"] = (width,)
        shapes[f"{block}.mlp.0.weight"], shapes[f"{block}.mlp.0.bias"] = (4 * width, width), (4 * width,)
        shapes[f"{block}.mlp.2.weight"], shapes[f"{block}.mlp.2.bias"] = (width, 4 * width), (width,)
        shapes[f"{block}.mlp_ln.weight"] = shapes[f"{block}.mlp_ln.bias"] = (width,)
    shapes["decoder.ln.weight"] = shapes["decoder.ln.bias"] = (width,)
    return shapes


def _random(key: str, shape: tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
    """Matrices scaled by their fan-in, norms near 1, biases near 0."""
    values = torch.randn(shape, generator=generator)
    if len(shape) >= 2:
        return values / max(1, values[0].numel()) ** 0.5
    if key.endswith("weight"):
        return 1 + 0.1 * values
    return 0.02 * values
