"""The LatentSync UNet's configuration: the published 1.6 values, or a folder's `config.yaml`.

`PUBLISHED_UNET_CONFIG` is the `model:` section of the reference's
`configs/unet/stage2_512.yaml` (the file its `inference.sh` runs 1.6 with). A `config.yaml` in
the weights folder uses the same format; its `model:` values replace the published ones, so a
test or a fine-tune states only what differs. Only what our network implements is accepted:
anything else is refused here, naming the file, rather than loaded into a network that would
compute something other than the reference.
"""

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

# PyYAML ships no types and the service has no stub package for it.
import yaml  # type: ignore[import-untyped]

from app.pipeline.engines.latentsync.layout import UNET_CONFIG

PUBLISHED_UNET_CONFIG: dict[str, Any] = {
    "act_fn": "silu",
    "add_audio_layer": True,
    "attention_head_dim": 8,
    "block_out_channels": [320, 640, 1280, 1280],
    "center_input_sample": False,
    "cross_attention_dim": 384,
    "down_block_types": ["CrossAttnDownBlock3D", "CrossAttnDownBlock3D", "CrossAttnDownBlock3D", "DownBlock3D"],
    "mid_block_type": "UNetMidBlock3DCrossAttn",
    "up_block_types": ["UpBlock3D", "CrossAttnUpBlock3D", "CrossAttnUpBlock3D", "CrossAttnUpBlock3D"],
    "downsample_padding": 1,
    "flip_sin_to_cos": True,
    "freq_shift": 0,
    "in_channels": 13,
    "layers_per_block": 2,
    "mid_block_scale_factor": 1,
    "norm_eps": 1e-5,
    "norm_num_groups": 32,
    "out_channels": 4,
    "sample_size": 64,
    "resnet_time_scale_shift": "default",
    "use_motion_module": True,
    "motion_module_resolutions": [1, 2, 4, 8],
    "motion_module_mid_block": False,
    "motion_module_decoder_only": False,
    "motion_module_type": "Vanilla",
    "motion_module_kwargs": {
        "num_attention_heads": 8,
        "num_transformer_block": 1,
        "attention_block_types": ["Temporal_Self", "Temporal_Self"],
        "temporal_position_encoding": True,
        "temporal_position_encoding_max_len": 24,
        "temporal_attention_dim_div": 1,
        "zero_initialize": True,
    },
}

# Options of the reference's constructor that the published file leaves at their defaults: a
# config may state them, with the one value our network implements (the reference's linear
# projection, dual and class-conditioned variants are training experiments 1.6 does not use).
_FIXED = {
    "mid_block_type": "UNetMidBlock3DCrossAttn",
    "resnet_time_scale_shift": "default",
    "act_fn": "silu",
    "only_cross_attention": False,
    "dual_cross_attention": False,
    "use_linear_projection": False,
    "class_embed_type": None,
    "num_class_embeds": None,
    "motion_module_type": "Vanilla",
}
_DOWN_BLOCKS = {"CrossAttnDownBlock3D", "DownBlock3D"}
_UP_BLOCKS = {"CrossAttnUpBlock3D", "UpBlock3D"}


def _is_bool(value: object) -> bool:
    return isinstance(value, bool)


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_counts(value: object) -> bool:
    return isinstance(value, list) and len(value) > 0 and all(_is_count(item) for item in value)


# What each accepted key may hold (besides `_FIXED`'s and the block lists, checked together).
_CHECKS: dict[str, Callable[[object], bool]] = {
    "add_audio_layer": _is_bool,
    "attention_head_dim": lambda value: _is_count(value) or _is_counts(value),
    "block_out_channels": _is_counts,
    "center_input_sample": _is_bool,
    "cross_attention_dim": _is_count,
    "downsample_padding": _is_count,
    "flip_sin_to_cos": _is_bool,
    "freq_shift": _is_number,
    "in_channels": _is_count,
    "layers_per_block": _is_count,
    "mid_block_scale_factor": _is_number,
    "norm_eps": _is_number,
    "norm_num_groups": _is_count,
    "out_channels": _is_count,
    "sample_size": _is_count,
    "use_motion_module": _is_bool,
    "motion_module_resolutions": lambda value: isinstance(value, list) and all(_is_number(v) for v in value),
    "motion_module_mid_block": _is_bool,
    "motion_module_decoder_only": _is_bool,
    # Stored but unused by the reference's attention (always PyTorch's fused one), so here too.
    "upcast_attention": _is_bool,
    # Per-frame group norms in the residual blocks and at the output (off in 1.6).
    "use_inflated_groupnorm": _is_bool,
}
_MOTION_CHECKS: dict[str, Callable[[object], bool]] = {
    "num_attention_heads": _is_count,
    "num_transformer_block": _is_count,
    "attention_block_types": lambda value: isinstance(value, list) and all(v == "Temporal_Self" for v in value),
    "temporal_position_encoding": _is_bool,
    "temporal_position_encoding_max_len": _is_count,
    "temporal_attention_dim_div": _is_count,
    "zero_initialize": _is_bool,
    "cross_frame_attention_mode": lambda value: value is None,
}
# Written as `1e-5`, which YAML 1.1 (PyYAML) reads as a string; the reference's OmegaConf reads a float.
_FLOATS = ("norm_eps", "mid_block_scale_factor", "freq_shift")


def read_unet_config(folder: Path) -> dict[str, Any]:
    """The UNet configuration for the weights in `folder`: the published one, with the `model:`
    values of `folder/config.yaml` when that file exists. ValueError naming the file when it
    holds a key or value our network does not implement."""
    config = copy.deepcopy(PUBLISHED_UNET_CONFIG)
    path = folder / UNET_CONFIG
    if not path.exists():
        return config
    try:
        document = yaml.safe_load(path.read_text())
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise ValueError(f"could not read {path}: {error}") from error
    model = document.get("model") if isinstance(document, dict) else None
    if not isinstance(model, dict):
        raise ValueError(f"{path} has no `model:` section")
    for key, value in model.items():
        if key == "motion_module_kwargs" and isinstance(value, dict):
            config[key] = {**config[key], **value}
        else:
            config[key] = float(value) if key in _FLOATS and _is_float_text(value) else value
    problem = unet_config_problem(config)
    if problem:
        raise ValueError(f"{path}: {problem}")
    return config


def unet_config_problem(config: dict[str, Any]) -> str | None:
    """Why our network cannot be built from `config` as the reference would, or None."""
    for key, value in config.items():
        if key in _FIXED:
            if value != _FIXED[key]:
                return f"{key} {value!r} is not supported (only {_FIXED[key]!r})"
        elif key == "motion_module_kwargs":
            problem = _motion_problem(value)
            if problem:
                return problem
        elif key not in _CHECKS and key not in ("down_block_types", "up_block_types"):
            return f"unknown key {key!r}"
        elif key in _CHECKS and not _CHECKS[key](value):
            return f"{key} {value!r} is not a valid value"
    return _wiring_problem(config)


def _motion_problem(kwargs: object) -> str | None:
    if not isinstance(kwargs, dict):
        return "motion_module_kwargs is not a mapping"
    for key, value in kwargs.items():
        if key not in _MOTION_CHECKS:
            return f"unknown motion_module_kwargs key {key!r}"
        if not _MOTION_CHECKS[key](value):
            return f"motion_module_kwargs {key} {value!r} is not supported"
    return None


def _wiring_problem(config: dict[str, Any]) -> str | None:
    """Block lists, widths and head counts that fit together."""
    widths = config["block_out_channels"]
    down, up = config["down_block_types"], config["up_block_types"]
    if not (isinstance(down, list) and set(down) <= _DOWN_BLOCKS and len(down) == len(widths)):
        return f"down_block_types {down!r} must be {len(widths)} of {sorted(_DOWN_BLOCKS)}"
    if not (isinstance(up, list) and set(up) <= _UP_BLOCKS and len(up) == len(widths)):
        return f"up_block_types {up!r} must be {len(widths)} of {sorted(_UP_BLOCKS)}"
    heads = config["attention_head_dim"]
    if isinstance(heads, list) and len(heads) != len(widths):
        return f"attention_head_dim {heads!r} needs one value per block"
    # The reference's name: it is the number of heads, each `width // heads` wide.
    for width, count in zip(widths, heads if isinstance(heads, list) else [heads] * len(widths)):
        if width % count:
            return f"attention_head_dim {count} does not divide the block width {width}"
    groups = config["norm_num_groups"]
    if any(width % groups for width in widths):
        return f"norm_num_groups {groups} does not divide block_out_channels {widths!r}"
    if config["use_motion_module"] and any(width % 32 for width in widths):
        # The reference's temporal transformers normalise in 32 groups whatever the config says.
        return f"motion modules need block_out_channels divisible by 32, not {widths!r}"
    motion = config["motion_module_kwargs"]
    split = motion.get("num_attention_heads", 8) * motion.get("temporal_attention_dim_div", 1)
    if config["use_motion_module"] and any(width % split for width in widths):
        return f"motion modules' heads (times temporal_attention_dim_div) must divide {widths!r}"
    return None


def _is_float_text(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        float(value)
    except ValueError:
        return False
    return True
