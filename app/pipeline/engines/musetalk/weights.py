"""Loading MuseTalk 1.5's published weights (see `layout`) strictly.

Each network is built from its own config on the `meta` device (no time spent on a random
initialisation) and takes the file's tensors strictly: a missing, extra or misshapen key is an
error naming the file.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, cast

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
from app.pipeline.engines.weights_cache import WeightsError

# sd-vae-ft-mse was saved before diffusers renamed its attention layers; diffusers' own loader
# renames them the same way (ModelMixin._fix_state_dict_keys_on_load).
_OLD_ATTENTION_NAMES = {"query": "to_q", "key": "to_k", "value": "to_v", "proj_attn": "to_out.0"}

ModuleT = TypeVar("ModuleT", bound=torch.nn.Module)


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
    unet_config = _read_config(folder / UNET_CONFIG)
    unet: UNet2DConditionModel = _strict_load(
        lambda: UNet2DConditionModel.from_config(unet_config), folder / UNET_WEIGHTS, lambda state: state, mmap
    )
    vae_config = _read_config(folder / VAE_CONFIG)
    vae: AutoencoderKL = _strict_load(
        lambda: AutoencoderKL.from_config(vae_config), folder / VAE_WEIGHTS, rename_old_attention, mmap
    )
    whisper_config = _whisper_config(folder / WHISPER_CONFIG)
    if whisper_config.d_model != unet.config["cross_attention_dim"]:
        raise WeightsError(
            f"{folder / WHISPER_CONFIG}: d_model {whisper_config.d_model} does not match the UNet's "
            f"cross_attention_dim {unet.config['cross_attention_dim']}"
        )
    whisper = _strict_load(lambda: WhisperEncoder(whisper_config), folder / WHISPER_WEIGHTS, whisper_encoder_part, mmap)
    try:
        # A classmethod that builds `cls`: transformers annotates it with the base class.
        features = cast(
            WhisperFeatureExtractor, WhisperFeatureExtractor.from_json_file(str(folder / WHISPER_PREPROCESSOR))
        )
    except (OSError, ValueError, TypeError) as error:
        raise WeightsError(f"could not read {folder / WHISPER_PREPROCESSOR}: {error}") from error
    return MuseTalkModels(unet.eval(), vae.eval(), whisper.eval(), features)


def rename_old_attention(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The VAE's mid-block attention keys under their current names (`...attentions.0.query.weight`
    becomes `...attentions.0.to_q.weight`); other keys are unchanged."""
    renamed = {}
    for key, value in state.items():
        path, _, leaf = key.rpartition(".")
        module_path, _, module = path.rpartition(".")
        if ".mid_block.attentions." in key and module in _OLD_ATTENTION_NAMES:
            key = f"{module_path}.{_OLD_ATTENTION_NAMES[module]}.{leaf}"
        renamed[key] = value
    return renamed


def whisper_encoder_part(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The encoder's tensors of a whisper checkpoint (`model.encoder.*` in the published
    WhisperForConditionalGeneration file, `encoder.*` in a WhisperModel one); the decoder is not used."""
    encoder = {}
    for key, value in state.items():
        for prefix in ("model.encoder.", "encoder."):
            if key.startswith(prefix):
                encoder[key.removeprefix(prefix)] = value
    return encoder


def _read_config(path: Path) -> dict[str, Any]:
    try:
        config = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise WeightsError(f"could not read {path}: {error}") from error
    if not isinstance(config, dict):
        raise WeightsError(f"{path} is not a JSON object")
    return config


def _whisper_config(path: Path) -> WhisperConfig:
    try:
        return WhisperConfig.from_dict(_read_config(path))
    except (TypeError, ValueError) as error:
        raise WeightsError(f"{path} is not a whisper config: {error}") from error


def _strict_load(
    build: Callable[[], ModuleT],
    path: Path,
    select: Callable[[dict[str, torch.Tensor]], dict[str, torch.Tensor]],
    mmap: bool,
) -> ModuleT:
    """`build()` on the meta device, then every tensor of `path` (after `select`) assigned strictly."""
    try:
        with torch.device("meta"):
            module = build()
    except (TypeError, ValueError, KeyError) as error:
        raise WeightsError(f"the config for {path.name} does not build its network: {error}") from error
    state = _read_state(path, mmap)
    if not isinstance(state, dict):
        raise WeightsError(f"{path} holds no state dict")
    try:
        module.load_state_dict(select(state), strict=True, assign=True)
    except RuntimeError as error:
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        raise WeightsError(f"{path} does not match its config: {' '.join(lines[1:3])[:300]}") from error
    # A buffer the file does not hold (none in these networks today) would be left unset.
    unset = [name for name, tensor in [*module.named_parameters(), *module.named_buffers()] if tensor.is_meta]
    if unset:
        raise WeightsError(f"{path} leaves {unset[0]} unset")
    return module


def _read_state(path: Path, mmap: bool) -> object:
    """The file's tensors (weights only: no code in a checkpoint runs). Only the zip format can
    be memory-mapped; a file in torch's older format is read whole."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except Exception as error:
        if mmap:
            return _read_state(path, mmap=False)
        raise WeightsError(f"could not read {path}: {type(error).__name__}") from None
