"""Stable Diffusion's VAE (stabilityai/sd-vae-ft-mse), which MuseTalk and LatentSync both encode
and decode faces with, loaded strictly from diffusers' layout."""

from pathlib import Path

import torch
from diffusers.models import AutoencoderKL

from app.pipeline.engines.strict_loading import read_json_config, strict_load

# sd-vae-ft-mse was saved before diffusers renamed its attention layers; diffusers' own loader
# renames them the same way (ModelMixin._fix_state_dict_keys_on_load).
_OLD_ATTENTION_NAMES = {"query": "to_q", "key": "to_k", "value": "to_v", "proj_attn": "to_out.0"}


def load_sd_vae(config: Path, weights: Path, mmap: bool) -> AutoencoderKL:
    """The VAE `config` (config.json) describes, with every tensor of `weights` (.bin or
    .safetensors) under its current name."""
    built = read_json_config(config)
    return strict_load(lambda: AutoencoderKL.from_config(built), weights, rename_old_attention, mmap)


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
