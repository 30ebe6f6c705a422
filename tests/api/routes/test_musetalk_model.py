"""model4 (MuseTalk 1.5) through the API, with random weights in the published layout."""

import json

import pytest

from tests.generator_engines import (
    assert_a_damaged_layout_is_refused,
    assert_renders_the_lower_face_only,
    described_model,
)
from tests.musetalk_weights import write_published_layout


@pytest.fixture(scope="module")
def weights_dir(tmp_path_factory):
    return write_published_layout(tmp_path_factory.mktemp("weights"))


def test_models_reports_musetalk_available_when_every_file_loads(make_client, weights_dir):
    described = described_model(make_client(weights_dir=weights_dir), "model4")
    assert described == {
        "model_choice": "model4",
        "engine": "musetalk",
        "description": described["description"],
        "available": True,
        "reason": None,
        "install_command": None,
    }


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (
            lambda root: (root / "sd-vae/diffusion_pytorch_model.bin").unlink(),
            "musetalk/sd-vae/diffusion_pytorch_model.bin not found",
        ),
        (lambda root: (root / "musetalkV15/unet.pth").write_bytes(b"\x00garbage" * 100), "could not read"),
        # A UNet of the v1.0 input width: the published unet.pth no longer fits its config.
        (
            lambda root: (root / "musetalkV15/musetalk.json").write_text(
                json.dumps({**json.loads((root / "musetalkV15/musetalk.json").read_text()), "in_channels": 4})
            ),
            "unet.pth does not match its config",
        ),
        (lambda root: (root / "whisper/config.json").write_text("{not json"), "could not read"),
    ],
)
def test_a_missing_or_wrong_file_is_named_and_tasks_get_503(
    make_client, weights_dir, face_video, short_audio, tmp_path, damage, reason
):
    assert_a_damaged_layout_is_refused(
        make_client, weights_dir, "musetalk", damage, reason, "model4", face_video, short_audio, tmp_path
    )


@pytest.mark.e2e
def test_musetalk_renders_the_lower_face_and_keeps_the_rest(
    make_client, weights_dir, face_video, short_audio, tmp_path
):
    assert_renders_the_lower_face_only(
        make_client(weights_dir=weights_dir),
        "model4",
        "musetalk",
        face_video,
        short_audio,
        tmp_path,
    )
