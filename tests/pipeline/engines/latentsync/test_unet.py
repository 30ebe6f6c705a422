"""LatentSync's UNet (`unet/`, `unet_config`, `unet_weights`): our network against the
unmodified reference's outputs, and strict loading of its weights and config.

The fixture (`tests/fixtures/latentsync/unet_reference.npz`, see `make_unet_fixtures.py`) holds
the reference UNet's predictions with the random weights `tests.latentsync_weights.unet` writes
(seed 0, `SMALL_UNET_CONFIG`); here the same files are written again and loaded by our code.
"""

from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from app.pipeline.engines.latentsync.layout import UNET_CONFIG, UNET_WEIGHTS
from app.pipeline.engines.latentsync.unet.model import LatentSyncUNet
from app.pipeline.engines.latentsync.unet_config import PUBLISHED_UNET_CONFIG, read_unet_config
from app.pipeline.engines.latentsync.unet_weights import load_unet
from app.pipeline.engines.weights_cache import WeightsError
from tests.fixtures.latentsync.make_unet_fixtures import CASES, OUTPUT, input_sums, unet_cases
from tests.latentsync_weights.unet import SMALL_UNET_CONFIG, write_unet

# Measured: 0.0 on CPU fp32 (the same operations in the same order as the reference).
TOLERANCE = {"atol": 1e-5, "rtol": 1e-5}


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("latentsync")
    write_unet(folder)
    return folder


@pytest.fixture(scope="module")
def variant_weights(tmp_path_factory) -> Path:
    config, seed = CASES["variant"]
    folder = tmp_path_factory.mktemp("latentsync-variant")
    write_unet(folder, config, seed)
    return folder


@pytest.fixture(scope="module")
def reference() -> dict[str, np.ndarray]:
    with np.load(OUTPUT) as saved:
        return dict(saved)


@pytest.mark.parametrize("case", ["guided", "uneven", "variant"])
def test_unet_matches_the_reference(weights, variant_weights, reference, case):
    """The published wiring (small widths) as the pipeline calls it with guidance, at a size
    that does not halve evenly, and with every other option the config accepts changed."""
    unet = load_unet(variant_weights if case == "variant" else weights)
    inputs = unet_cases()[case]
    np.testing.assert_allclose(input_sums(inputs), reference[f"{case}_input_sums"], rtol=1e-12)
    with torch.inference_mode():
        output = unet(*inputs)
    expected = torch.from_numpy(reference[f"{case}_output"])
    print(f"{case}: max abs difference {(output - expected).abs().max().item():.3g}")
    torch.testing.assert_close(output, expected, **TOLERANCE)


def test_unet_is_loaded_on_the_cpu_in_eval_mode(weights):
    unet = load_unet(weights, mmap=True)
    assert not unet.training
    assert {tensor.device.type for tensor in unet.state_dict().values()} == {"cpu"}


def _checkpoint(folder: Path) -> dict:
    return torch.load(folder / UNET_WEIGHTS, weights_only=True)


def _missing_key(state: dict) -> None:
    del state["down_blocks.0.motion_modules.0.temporal_transformer.proj_out.weight"]


def _extra_key(state: dict) -> None:
    state["mid_block.motion_modules.0.temporal_transformer.proj_out.weight"] = torch.zeros(64, 64)


def _misshapen(state: dict) -> None:
    state["conv_in.weight"] = state["conv_in.weight"][:, :9]


@pytest.mark.parametrize("damage", [_missing_key, _extra_key, _misshapen])
def test_weights_that_do_not_match_the_config_are_refused_naming_the_file(weights, tmp_path, damage):
    (tmp_path / UNET_CONFIG).write_text((weights / UNET_CONFIG).read_text())
    checkpoint = _checkpoint(weights)
    damage(checkpoint["state_dict"])
    torch.save(checkpoint, tmp_path / UNET_WEIGHTS)
    with pytest.raises(WeightsError, match=UNET_WEIGHTS):
        load_unet(tmp_path)


def test_a_truncated_file_is_refused_naming_it(weights, tmp_path):
    (tmp_path / UNET_CONFIG).write_text((weights / UNET_CONFIG).read_text())
    data = (weights / UNET_WEIGHTS).read_bytes()
    (tmp_path / UNET_WEIGHTS).write_bytes(data[: len(data) // 2])
    for mmap in (False, True):
        with pytest.raises(WeightsError, match=UNET_WEIGHTS):
            load_unet(tmp_path, mmap=mmap)


@pytest.mark.parametrize("content", [b"not a checkpoint\n", None])
def test_a_file_that_is_not_a_unet_checkpoint_is_refused_naming_it(weights, tmp_path, content):
    """Not a torch file at all, or a torch file without the reference's `state_dict`."""
    (tmp_path / UNET_CONFIG).write_text((weights / UNET_CONFIG).read_text())
    if content is None:
        torch.save(_checkpoint(weights)["state_dict"], tmp_path / UNET_WEIGHTS)
    else:
        (tmp_path / UNET_WEIGHTS).write_bytes(content)
    with pytest.raises(WeightsError, match=UNET_WEIGHTS):
        load_unet(tmp_path)


def test_a_missing_file_is_refused_naming_it(tmp_path):
    with pytest.raises(WeightsError, match=UNET_WEIGHTS):
        load_unet(tmp_path)


def test_without_config_yaml_the_published_configuration_is_used(tmp_path):
    assert read_unet_config(tmp_path) == PUBLISHED_UNET_CONFIG


def test_config_yaml_replaces_the_published_values_it_states(tmp_path):
    (tmp_path / UNET_CONFIG).write_text(
        "data:\n  num_frames: 16\n"
        "model:\n  block_out_channels: [32, 64, 64, 64]\n  norm_eps: 1e-6\n"
        "  motion_module_kwargs:\n    num_transformer_block: 2\n"
    )
    config = read_unet_config(tmp_path)
    assert config["block_out_channels"] == [32, 64, 64, 64]
    # YAML 1.1 reads `1e-6` as a string; the reference's OmegaConf as a float.
    assert config["norm_eps"] == 1e-6
    assert config["motion_module_kwargs"] == {
        **PUBLISHED_UNET_CONFIG["motion_module_kwargs"],
        "num_transformer_block": 2,
    }
    assert config["in_channels"] == 13


def test_the_written_config_builds_the_written_weights(weights):
    unet = load_unet(weights)
    assert unet.conv_in.weight.shape == (32, 13, 3, 3)
    assert read_unet_config(weights) == SMALL_UNET_CONFIG


@pytest.mark.parametrize(
    "model, problem",
    [
        ({"resnet_time_scale_shift": "scale_shift"}, "resnet_time_scale_shift"),
        ({"unknown_option": 1}, "unknown_option"),
        ({"down_block_types": ["CrossAttnDownBlock3D", "DownBlock2D"]}, "down_block_types"),
        ({"norm_num_groups": 48}, "norm_num_groups"),
        ({"motion_module_kwargs": {"attention_block_types": ["Temporal_Cross"]}}, "attention_block_types"),
        ({"layers_per_block": "two"}, "layers_per_block"),
        ([], "model"),
    ],
)
def test_config_yaml_with_unsupported_values_is_refused_naming_the_file(tmp_path, model, problem):
    (tmp_path / UNET_CONFIG).write_text(yaml.safe_dump({"model": model}) if model else "model: []\n")
    with pytest.raises(ValueError, match=f"{UNET_CONFIG}.*{problem}"):
        read_unet_config(tmp_path)
    with pytest.raises(WeightsError, match=UNET_CONFIG):
        load_unet(tmp_path)


# Shapes of the reference's UNet3DConditionModel for configs/unet/stage2_512.yaml, built on the
# meta device (1246 tensors, 1,267,944,644 values: a 5.1 GB float32 file, as published).
PUBLISHED_SHAPES = {
    "conv_in.weight": (320, 13, 3, 3),
    "time_embedding.linear_1.weight": (1280, 320),
    "down_blocks.0.attentions.1.transformer_blocks.0.attn2.to_k.weight": (320, 384),
    "down_blocks.0.motion_modules.0.temporal_transformer.transformer_blocks.0.attention_blocks.1.pos_encoder.pe": (
        1,
        24,
        320,
    ),
    "down_blocks.2.downsamplers.0.conv.weight": (1280, 1280, 3, 3),
    "down_blocks.3.motion_modules.1.temporal_transformer.proj_in.weight": (1280, 1280),
    "mid_block.attentions.0.transformer_blocks.0.ff.net.0.proj.weight": (10240, 1280),
    "up_blocks.0.resnets.0.conv1.weight": (1280, 2560, 3, 3),
    "up_blocks.2.upsamplers.0.conv.weight": (640, 640, 3, 3),
    "up_blocks.3.resnets.2.conv_shortcut.weight": (320, 640, 1, 1),
    "up_blocks.3.attentions.2.transformer_blocks.0.attn1.to_out.0.bias": (320,),
    "conv_norm_out.weight": (320,),
    "conv_out.weight": (4, 320, 3, 3),
}


def test_the_published_configuration_builds_the_references_tensors():
    with torch.device("meta"):
        state = LatentSyncUNet(PUBLISHED_UNET_CONFIG).state_dict()
    assert len(state) == 1246
    assert sum(tensor.numel() for tensor in state.values()) == 1_267_944_644
    assert {key: tuple(state[key].shape) for key in PUBLISHED_SHAPES} == PUBLISHED_SHAPES
    assert not any(key.startswith("mid_block.motion_modules") for key in state)
    assert not any(
        key.startswith("down_blocks.3.attentions") or key.startswith("up_blocks.0.attentions") for key in state
    )
