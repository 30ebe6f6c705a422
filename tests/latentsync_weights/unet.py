"""Writes LatentSync UNet weights in the published layout and file format, with random values.

`SMALL_UNET_CONFIG` keeps the published wiring (`unet_config.PUBLISHED_UNET_CONFIG`: block types,
layers per block, 8 attention heads, motion modules with position encoding, 384-wide audio
cross-attention, 13 input channels) at narrow widths, so a CPU runs 16 frames in well under a
second. Widths stay multiples of 32: the reference's motion modules normalise in 32 groups
whatever the config says.

Values come from one seeded generator in key order (not from an initialiser, and not the
reference's zeroed motion-module outputs and `conv_in`/`conv_out`, which would hide those layers
from a comparison), so the same seed writes the same file whatever the library versions do.
"""

import copy
from pathlib import Path
from typing import Any

import torch
import yaml

from app.pipeline.engines.latentsync import layout
from app.pipeline.engines.latentsync.unet.model import LatentSyncUNet
from app.pipeline.engines.latentsync.unet_config import PUBLISHED_UNET_CONFIG

SMALL_UNET_CONFIG: dict[str, Any] = {
    **copy.deepcopy(PUBLISHED_UNET_CONFIG),
    "block_out_channels": [32, 64, 64, 64],
    "sample_size": 32,
}
# The small wiring without attention at the full latent resolution (64x64 for 512x512 faces, where
# a CPU spends 80 % of a pass in attention over 4096 positions): for tests that run the whole
# engine on 512x512 faces rather than compare one network.
LIGHT_UNET_CONFIG: dict[str, Any] = {
    **copy.deepcopy(SMALL_UNET_CONFIG),
    "down_block_types": ["DownBlock3D", "CrossAttnDownBlock3D", "CrossAttnDownBlock3D", "DownBlock3D"],
    "up_block_types": ["UpBlock3D", "CrossAttnUpBlock3D", "CrossAttnUpBlock3D", "UpBlock3D"],
}


def write_unet(folder: Path, config: dict[str, Any] = SMALL_UNET_CONFIG, seed: int = 0) -> None:
    """`latentsync_unet.pt` and `config.yaml` for `config` in `folder` (made if needed)."""
    folder.mkdir(parents=True, exist_ok=True)
    with torch.device("meta"):
        unet = LatentSyncUNet(config)
    generator = torch.Generator().manual_seed(seed)
    state = {name: _random_like(name, tensor, generator) for name, tensor in unet.state_dict().items()}
    # The reference's training script saves this dictionary; its loader reads `state_dict`.
    torch.save({"global_step": 0, "state_dict": state}, folder / layout.UNET_WEIGHTS)
    (folder / layout.UNET_CONFIG).write_text(yaml.safe_dump({"model": config}, sort_keys=False))


def _random_like(name: str, tensor: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Weights scaled by their fan-in, norms near 1, biases near 0, position tables near the
    sinusoids' scale."""
    values = torch.randn(tensor.shape, generator=generator)
    if name.endswith(".pe"):
        return values
    if tensor.dim() >= 2:
        return values / max(1, tensor[0].numel()) ** 0.5
    if name.endswith("weight"):
        return 1 + 0.1 * values
    return 0.02 * values
