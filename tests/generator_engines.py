"""What every engine that generates the lower face (Wav2Lip, MuseTalk, LatentSync) must do through the API."""

import shutil
from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient

from tests.conftest import download_result, upload, wait_for_end
from tests.face_regions import mouth_and_upper_regions
from tests.media_tools import decode_rgb, ffprobe, psnr, stream


def assert_renders_the_lower_face_only(
    client: TestClient,
    model_choice: str,
    engine: str,
    face_video: Path,
    audio: Path,
    tmp_path: Path,
    timeout_s: float = 120,
) -> None:
    """A task finishes with an H.264 + AAC mp4 of the source's size whose mouth region is
    repainted (random weights paint noise there) while everything above the nose is kept."""
    response = upload(client, face_video, audio, model_choice=model_choice)
    assert response.status_code == 202
    status = wait_for_end(client, response.json()["task_id"], timeout_s)
    assert status["status"] == "finished" and status["engine"] == engine, status
    path = tmp_path / "out.mp4"
    download_result(client, status["task_id"], path)
    video = stream(ffprobe(path), "video")
    assert video["codec_name"] == "h264" and (video["width"], video["height"]) == (512, 512)
    assert stream(ffprobe(path), "audio")["codec_name"] == "aac"

    source = decode_rgb(face_video)[0]
    output = decode_rgb(path)
    mouth, upper = mouth_and_upper_regions(source)
    middle = output[len(output) // 2]
    assert psnr(middle[mouth], source[mouth]) < 25
    assert psnr(middle[upper], source[upper]) >= 38


def described_model(client: TestClient, model_choice: str) -> dict:
    """The `GET /models` entry of one model choice."""
    return next(model for model in client.get("/models").json() if model["model_choice"] == model_choice)


def assert_a_damaged_layout_is_refused(
    make_client: Callable[..., TestClient],
    weights_dir: Path,
    folder: str,
    damage: Callable[[Path], object],
    reason: str,
    model_choice: str,
    face_video: Path,
    audio: Path,
    tmp_path: Path,
) -> None:
    """With a copy of `weights_dir` whose `folder` is damaged, the model is reported unavailable
    with `reason`, and an upload for it is a 503 saying the same."""
    copy = tmp_path / "weights"
    shutil.copytree(weights_dir, copy)
    damage(copy / folder)
    client = make_client(weights_dir=copy)
    described = described_model(client, model_choice)
    assert described["available"] is False and reason in described["reason"]
    response = upload(client, face_video, audio, model_choice=model_choice)
    assert response.status_code == 503 and reason in response.json()["detail"]
