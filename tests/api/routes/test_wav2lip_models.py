"""model2/model3 through the API with checkpoints in the published format (random weights)."""

import pytest

from tests.conftest import upload
from tests.generator_engines import assert_renders_the_lower_face_only
from tests.wav2lip_checkpoint import save_published_format


@pytest.fixture(scope="module")
def weights_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("weights")
    save_published_format(folder / "wav2lip.pth", seed=1)
    return folder


def test_models_reports_wav2lip_available_when_its_weights_load(make_client, weights_dir):
    client = make_client(weights_dir=weights_dir)
    models = {model["model_choice"]: model for model in client.get("/models").json()}
    assert models["model2"]["available"] is True and models["model2"]["reason"] is None
    assert models["model3"]["available"] is False
    assert "wav2lip_gan.pth" in models["model3"]["reason"] and "not found" in models["model3"]["reason"]


@pytest.mark.e2e
def test_wav2lip_renders_the_lower_face_and_keeps_the_rest(make_client, weights_dir, face_video, short_audio, tmp_path):
    assert_renders_the_lower_face_only(
        make_client(weights_dir=weights_dir),
        "model2",
        "wav2lip",
        face_video,
        short_audio,
        tmp_path,
    )


@pytest.mark.parametrize(
    ("content", "reason"),
    [(b"\x00garbage" * 1000, "could not read"), (None, "does not match")],
)
def test_broken_checkpoint_makes_model_unavailable_never_500(
    make_client, face_video, short_audio, tmp_path, content, reason
):
    import torch

    folder = tmp_path / "weights"
    folder.mkdir()
    if content is None:
        torch.save({"state_dict": {"module.output_block.1.weight": torch.zeros(3, 32, 1, 1)}}, folder / "wav2lip.pth")
    else:
        (folder / "wav2lip.pth").write_bytes(content)
    client = make_client(weights_dir=folder)
    model2 = next(m for m in client.get("/models").json() if m["model_choice"] == "model2")
    assert model2["available"] is False and reason in model2["reason"]
    response = upload(client, face_video, short_audio, model_choice="model2")
    assert response.status_code == 503
    assert reason in response.json()["detail"]
