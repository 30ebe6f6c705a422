"""model4 (MuseTalk 1.5) through the API, with random weights in the published layout."""

import json
import shutil

import pytest

from tests.conftest import upload
from tests.generator_engines import assert_renders_the_lower_face_only
from tests.musetalk_weights import write_published_layout


@pytest.fixture(scope="module")
def weights_dir(tmp_path_factory):
    return write_published_layout(tmp_path_factory.mktemp("weights"))


def model4(client) -> dict:
    return next(model for model in client.get("/models").json() if model["model_choice"] == "model4")


def test_models_reports_musetalk_available_when_every_file_loads(make_client, weights_dir):
    described = model4(make_client(weights_dir=weights_dir))
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
    make_client,
    weights_dir,
    face_video,
    short_audio,
    tmp_path,
    damage,
    reason,
):
    copy = tmp_path / "weights"
    shutil.copytree(weights_dir, copy)
    damage(copy / "musetalk")
    client = make_client(weights_dir=copy)
    described = model4(client)
    assert described["available"] is False and reason in described["reason"]
    response = upload(client, face_video, short_audio, model_choice="model4")
    assert response.status_code == 503 and reason in response.json()["detail"]


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
