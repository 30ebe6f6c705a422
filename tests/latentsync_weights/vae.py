"""Writes LatentSync's VAE (stabilityai/sd-vae-ft-mse in diffusers' layout) with random values.

`SMALL_VAE_CONFIG` keeps sd-vae-ft-mse's wiring (four blocks of two layers, so an 8x
downsampling to 4 latent channels, and the mid-block attention) at narrow widths. Values come
from one seeded generator in key order, so the same seed writes the same file whatever the
libraries do at init. The posterior is made near-certain (log-variance -30, the clamp's floor):
the reference samples the latent where the service takes the mean, and with this VAE the two
agree to 1e-6.
"""

import json
from pathlib import Path

import torch
from diffusers import AutoencoderKL
from safetensors.torch import save_file

from app.pipeline.engines.latentsync import layout
from tests.musetalk_weights import PUBLISHED_VAE, old_attention_names

SMALL_VAE_CONFIG = {**PUBLISHED_VAE, "block_out_channels": [32, 32, 64, 64]}


def write_vae(folder: Path, seed: int = 0) -> None:
    """`sd-vae-ft-mse/config.json` and its safetensors weights in `folder` (WEIGHTS_DIR/latentsync)."""
    with torch.device("meta"):
        vae = AutoencoderKL.from_config(SMALL_VAE_CONFIG)
    generator = torch.Generator().manual_seed(seed)
    state = {name: _random_like(name, tensor, generator) for name, tensor in vae.state_dict().items()}
    logvar = state["quant_conv.weight"].shape[0] // 2
    state["quant_conv.weight"][logvar:] = 0
    state["quant_conv.bias"][logvar:] = -30
    config_path, weights_path = folder / layout.VAE_CONFIG, folder / layout.VAE_WEIGHTS
    config_path.parent.mkdir(parents=True, exist_ok=True)
    config_path.write_text(json.dumps(SMALL_VAE_CONFIG, indent=2))
    save_file(old_attention_names(state), str(weights_path))


def _random_like(name: str, tensor: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Weights scaled by their fan-in, norms near 1, biases near 0."""
    values = torch.randn(tensor.shape, generator=generator)
    if tensor.dim() >= 2:
        return values / max(1, tensor[0].numel()) ** 0.5
    if name.endswith("weight"):
        return 1 + 0.1 * values
    return 0.02 * values
