"""Loading LatentSync's UNet (`latentsync_unet.pt`, see `layout`) strictly.

The published file is what the reference's training script saves, `{"global_step": n,
"state_dict": ...}`; the reference reads `["state_dict"]` and loads it with `strict=False`
(it also fine-tunes from other checkpoints). Here the network is built from its config on the
`meta` device (no time spent on a random initialisation) and must take every tensor of the
file: a missing, extra or misshapen key is an error naming the file, never a silently random layer.
"""

from pathlib import Path

import torch

from app.pipeline.engines.latentsync.layout import UNET_WEIGHTS
from app.pipeline.engines.latentsync.unet.model import LatentSyncUNet
from app.pipeline.engines.latentsync.unet_config import read_unet_config
from app.pipeline.engines.strict_loading import strict_load
from app.pipeline.engines.weights_cache import WeightsError


def load_unet(folder: Path, mmap: bool = False) -> LatentSyncUNet:
    """The UNet of `folder` (WEIGHTS_DIR/latentsync) on the CPU, in eval mode, configured by
    `folder/config.yaml` when present, else as published.

    With `mmap` the tensors stay pages of the file, read only when used: checking 5 GB of
    weights then costs next to nothing. An engine must not compute from them that way (a file
    overwritten in place would pull the pages from under it), so it loads without.
    """
    path = folder / UNET_WEIGHTS
    try:
        config = read_unet_config(folder)
    except ValueError as error:
        raise WeightsError(str(error)) from error
    unet = strict_load(lambda: LatentSyncUNet(config), path, lambda checkpoint: _state_dict(checkpoint, path), mmap)
    return unet.eval()


def _state_dict(checkpoint: dict, path: Path) -> dict[str, torch.Tensor]:
    """The checkpoint's `state_dict`: the reference's training script saves the network there."""
    state = checkpoint.get("state_dict")
    if not isinstance(state, dict) or not all(isinstance(value, torch.Tensor) for value in state.values()):
        raise WeightsError(f"{path} holds no state_dict of tensors (the reference's checkpoint format)")
    return state
