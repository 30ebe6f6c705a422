"""Writes MuseTalk 1.5 weights in the published layout and file formats, with random values.

`PUBLISHED_*` are the published configs (musetalkV15/musetalk.json, sd-vae-ft-mse's config.json,
whisper-tiny's); `SMALL_*` keep their wiring (block types, layers per block, attention, 384-wide
audio tokens, 5 encoder hidden states) at narrower widths, so that CI runs them in seconds.
Values come from one seeded generator in key order (not from the libraries' initialisers), so
the same seed writes the same files whatever the library versions do at init.
"""

import json
from pathlib import Path

import torch
from diffusers import AutoencoderKL, UNet2DConditionModel
from transformers import WhisperConfig, WhisperFeatureExtractor, WhisperForConditionalGeneration

from app.pipeline.engines.musetalk import layout

PUBLISHED_UNET = {
    "_class_name": "UNet2DConditionModel",
    "_diffusers_version": "0.6.0.dev0",
    "act_fn": "silu",
    "attention_head_dim": 8,
    "block_out_channels": [320, 640, 1280, 1280],
    "center_input_sample": False,
    "cross_attention_dim": 384,
    "down_block_types": ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
    "downsample_padding": 1,
    "flip_sin_to_cos": True,
    "freq_shift": 0,
    "in_channels": 8,
    "layers_per_block": 2,
    "mid_block_scale_factor": 1,
    "norm_eps": 1e-05,
    "norm_num_groups": 32,
    "out_channels": 4,
    "sample_size": 64,
    "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
}
SMALL_UNET = {**PUBLISHED_UNET, "block_out_channels": [32, 64, 64, 64]}
PUBLISHED_VAE = {
    "_class_name": "AutoencoderKL",
    "_diffusers_version": "0.4.2",
    "act_fn": "silu",
    "block_out_channels": [128, 256, 512, 512],
    "down_block_types": ["DownEncoderBlock2D"] * 4,
    "in_channels": 3,
    "latent_channels": 4,
    "layers_per_block": 2,
    "norm_num_groups": 32,
    "out_channels": 3,
    "sample_size": 256,
    "up_block_types": ["UpDecoderBlock2D"] * 4,
}
SMALL_VAE = {**PUBLISHED_VAE, "block_out_channels": [32, 32, 64, 64]}
PUBLISHED_WHISPER = {
    "d_model": 384,
    "encoder_layers": 4,
    "encoder_attention_heads": 6,
    "encoder_ffn_dim": 1536,
    "decoder_layers": 4,
    "decoder_attention_heads": 6,
    "decoder_ffn_dim": 1536,
    "vocab_size": 51865,
    "num_mel_bins": 80,
    "max_source_positions": 1500,
    "max_target_positions": 448,
}
# The decoder is not used: a small vocabulary, with its special tokens inside it.
SMALL_WHISPER = {
    **PUBLISHED_WHISPER,
    "encoder_ffn_dim": 256,
    "decoder_layers": 1,
    "decoder_ffn_dim": 256,
    "vocab_size": 64,
    "max_target_positions": 16,
    "pad_token_id": 0,
    "bos_token_id": 1,
    "eos_token_id": 1,
    "decoder_start_token_id": 2,
    "begin_suppress_tokens": None,
    "suppress_tokens": None,
}


def write_published_layout(folder: Path, small: bool = True, seed: int = 0) -> Path:
    """Write WEIGHTS_DIR/musetalk under `folder`; returns `folder` (the WEIGHTS_DIR)."""
    root = folder / layout.FOLDER
    generator = torch.Generator().manual_seed(seed)
    unet_config = SMALL_UNET if small else PUBLISHED_UNET
    with torch.device("meta"):
        unet = UNet2DConditionModel.from_config(unet_config)
    _save(root / layout.UNET_CONFIG, unet_config, root / layout.UNET_WEIGHTS, _random_state(unet, generator))

    vae_config = SMALL_VAE if small else PUBLISHED_VAE
    with torch.device("meta"):
        vae = AutoencoderKL.from_config(vae_config)
    vae_state = _random_state(vae, generator)
    # A near-certain posterior (log-variance -30, the clamp's floor): the reference samples the
    # latent where we take the mean, and with this VAE the two agree to 1e-7.
    logvar = vae_state["quant_conv.weight"].shape[0] // 2
    vae_state["quant_conv.weight"][logvar:] = 0
    vae_state["quant_conv.bias"][logvar:] = -30
    _save(root / layout.VAE_CONFIG, vae_config, root / layout.VAE_WEIGHTS, old_attention_names(vae_state))

    whisper_config = WhisperConfig(**(SMALL_WHISPER if small else PUBLISHED_WHISPER))
    with torch.device("meta"):
        whisper = WhisperForConditionalGeneration(whisper_config)
    _save(
        root / layout.WHISPER_CONFIG,
        whisper_config.to_dict(),
        root / layout.WHISPER_WEIGHTS,
        _random_state(whisper, generator),
    )
    WhisperFeatureExtractor().to_json_file(str(root / layout.WHISPER_PREPROCESSOR))
    return folder


def _random_state(module: torch.nn.Module, generator: torch.Generator) -> dict[str, torch.Tensor]:
    """Every tensor of `module`'s state dict, in order: weights scaled by their fan-in, norms
    near 1, biases near 0."""
    state = {}
    for name, tensor in module.state_dict().items():
        values = torch.randn(tensor.shape, generator=generator)
        if tensor.dim() >= 2:
            values /= max(1, tensor[0].numel()) ** 0.5
        elif name.endswith("weight"):
            values = 1 + 0.1 * values
        else:
            values *= 0.02
        state[name] = values
    return state


def old_attention_names(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The VAE's mid-block attention under the names sd-vae-ft-mse's file uses."""
    old = {"to_q": "query", "to_k": "key", "to_v": "value", "to_out.0": "proj_attn"}
    renamed = {}
    for key, value in state.items():
        for new, previous in old.items():
            if ".mid_block.attentions.0." in key and f".{new}." in key:
                key = key.replace(f".{new}.", f".{previous}.")
        renamed[key] = value
    return renamed


def _save(config_path: Path, config: dict, weights_path: Path, state: dict[str, torch.Tensor]) -> None:
    config_path.parent.mkdir(parents=True, exist_ok=True)
    config_path.write_text(json.dumps(config, indent=2))
    torch.save(state, weights_path)
