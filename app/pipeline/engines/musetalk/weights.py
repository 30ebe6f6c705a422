"""Loading MuseTalk 1.5's published weights (see `layout`) strictly.

Each network is built from its own config on the `meta` device (no time spent on a random
initialisation) and takes the file's tensors strictly: a missing, extra or misshapen key is an
error naming the file.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import cast

import torch

# From `diffusers.models`, not `diffusers`: the package's `__init__` also imports placeholder
# classes (for an install without torch) under these names, and a type checker sees those.
from diffusers.models import AutoencoderKL, UNet2DConditionModel
from transformers import WhisperConfig, WhisperFeatureExtractor
from transformers.models.whisper.modeling_whisper import WhisperEncoder

from app.pipeline.engines.musetalk.layout import (
    UNET_CONFIG,
    UNET_WEIGHTS,
    VAE_CONFIG,
    VAE_WEIGHTS,
    WHISPER_CONFIG,
    WHISPER_PREPROCESSOR,
    WHISPER_WEIGHTS,
)
from app.pipeline.engines.sd_vae import load_sd_vae
from app.pipeline.engines.strict_loading import read_json_config, strict_load
from app.pipeline.engines.weights_cache import WeightsError


@dataclass
class MuseTalkModels:
    unet: UNet2DConditionModel
    vae: AutoencoderKL
    whisper: WhisperEncoder
    features: WhisperFeatureExtractor


def load_models(folder: Path, mmap: bool = False) -> MuseTalkModels:
    """The three networks of `folder` (WEIGHTS_DIR/musetalk) on the CPU, in eval mode.

    With `mmap` the tensors stay pages of the files, read only when used: checking 3.7 GB of
    weights then costs next to nothing. An engine must not compute from them that way (a file
    overwritten in place would pull the pages from under it), so it loads without.
    """
    unet_config = read_json_config(folder / UNET_CONFIG)
    unet: UNet2DConditionModel = strict_load(
        lambda: UNet2DConditionModel.from_config(unet_config), folder / UNET_WEIGHTS, lambda state: state, mmap
    )
    vae = load_sd_vae(folder / VAE_CONFIG, folder / VAE_WEIGHTS, mmap)
    whisper_config = _whisper_config(folder / WHISPER_CONFIG)
    if whisper_config.d_model != unet.config["cross_attention_dim"]:
        raise WeightsError(
            f"{folder / WHISPER_CONFIG}: d_model {whisper_config.d_model} does not match the UNet's "
            f"cross_attention_dim {unet.config['cross_attention_dim']}"
        )
    whisper = strict_load(lambda: WhisperEncoder(whisper_config), folder / WHISPER_WEIGHTS, whisper_encoder_part, mmap)
    try:
        # A classmethod that builds `cls`: transformers annotates it with the base class.
        features = cast(
            WhisperFeatureExtractor, WhisperFeatureExtractor.from_json_file(str(folder / WHISPER_PREPROCESSOR))
        )
    except (OSError, ValueError, TypeError) as error:
        raise WeightsError(f"could not read {folder / WHISPER_PREPROCESSOR}: {error}") from error
    return MuseTalkModels(unet.eval(), vae.eval(), whisper.eval(), features)


def whisper_encoder_part(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The encoder's tensors of a whisper checkpoint (`model.encoder.*` in the published
    WhisperForConditionalGeneration file, `encoder.*` in a WhisperModel one); the decoder is not used."""
    encoder = {}
    for key, value in state.items():
        for prefix in ("model.encoder.", "encoder."):
            if key.startswith(prefix):
                encoder[key.removeprefix(prefix)] = value
    return encoder


def _whisper_config(path: Path) -> WhisperConfig:
    try:
        return WhisperConfig.from_dict(read_json_config(path))
    except (TypeError, ValueError) as error:
        raise WeightsError(f"{path} is not a whisper config: {error}") from error
