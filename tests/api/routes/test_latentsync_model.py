"""model5 (LatentSync 1.6) through the API, with small random networks in the published layout."""

import pytest

from tests.generator_engines import (
    assert_a_damaged_layout_is_refused,
    assert_renders_the_lower_face_only,
    described_model,
)
from tests.latentsync_weights.layout import write_published_layout

# Two denoising steps without guidance: the CPU runs the whole loop, not twenty rounds of it (guidance
# is checked at the engine level, tests/pipeline/engines/latentsync).
FAST = {"latentsync_steps": 2, "latentsync_guidance": 1.0}


@pytest.fixture(scope="module")
def weights_dir(tmp_path_factory):
    return write_published_layout(tmp_path_factory.mktemp("weights"))


def test_models_reports_latentsync_available_when_every_file_loads(make_client, weights_dir):
    described = described_model(make_client(weights_dir=weights_dir), "model5")
    assert described == {
        "model_choice": "model5",
        "engine": "latentsync",
        "description": described["description"],
        "available": True,
        "reason": None,
        "install_command": None,
    }


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda root: (root / "sd-vae-ft-mse/config.json").unlink(), "latentsync/sd-vae-ft-mse/config.json not found"),
        (lambda root: (root / "latentsync_unet.pt").write_bytes(b"\x00garbage" * 100), "latentsync_unet.pt"),
        (lambda root: (root / "config.yaml").write_text("model:\n  in_channels: 9\n"), "latentsync_unet.pt"),
    ],
)
def test_a_missing_or_wrong_file_is_named_and_tasks_get_503(
    make_client, weights_dir, face_video, short_audio, tmp_path, damage, reason
):
    assert_a_damaged_layout_is_refused(
        make_client, weights_dir, "latentsync", damage, reason, "model5", face_video, short_audio, tmp_path
    )


@pytest.mark.e2e
def test_latentsync_renders_the_lower_face_and_keeps_the_rest(
    make_client, weights_dir, face_video, short_audio, tmp_path
):
    client = make_client(weights_dir=weights_dir, **FAST)
    # About 45 s on two CPU cores; more on a loaded machine.
    assert_renders_the_lower_face_only(client, "model5", "latentsync", face_video, short_audio, tmp_path, timeout_s=600)
