"""POST /process/: acceptance and every error row of DESIGN.md; a rejected request leaves nothing."""

import os
from pathlib import Path

import pytest

from tests.conftest import upload


def leftover_entries(client) -> list[str]:
    upload_dir: Path = client.app.state.settings.upload_dir
    if not upload_dir.exists():
        return []
    return sorted(p.name for p in upload_dir.iterdir() if p.name != "results")


def test_accepts_mp4_and_wav_with_202_and_uuid(client, face_video, speech_audio):
    response = upload(client, face_video, speech_audio)
    assert response.status_code == 202
    task_id = response.json()["task_id"]
    assert len(task_id) == 36 and task_id.count("-") == 4
    task_dir = client.app.state.settings.upload_dir / task_id
    assert (task_dir / "input.mp4").read_bytes() == face_video.read_bytes()
    assert (task_dir / "input_audio.wav").read_bytes() == speech_audio.read_bytes()


@pytest.mark.parametrize(
    ("audio_fixture", "name", "label", "stored"),
    [("speech_mp3", "speech.wav", "audio/mpeg", "input_audio.mp3"),
     ("speech_audio", "speech.mp3", "audio/mpeg", "input_audio.wav")],
)
def test_audio_extension_comes_from_the_bytes_not_the_filename_or_label(
    client, face_video, request, tmp_path, audio_fixture, name, label, stored
):
    disguised = tmp_path / name
    disguised.write_bytes(request.getfixturevalue(audio_fixture).read_bytes())
    response = upload(client, face_video, disguised, audio_type=label)
    assert response.status_code == 202
    task_dir = client.app.state.settings.upload_dir / response.json()["task_id"]
    assert sorted(p.name for p in task_dir.glob("input*")) == ["input.mp4", stored]


@pytest.mark.parametrize("audio_type", ["audio/x-wav", "audio/wave", "audio/vnd.wave"])
def test_accepts_browser_wav_aliases(client, face_video, speech_audio, audio_type):
    assert upload(client, face_video, speech_audio, audio_type=audio_type).status_code == 202


@pytest.mark.parametrize(
    ("video_type", "audio_type", "field"),
    [
        ("video/quicktime", "audio/wav", "video_file"),
        ("application/octet-stream", "audio/wav", "video_file"),
        ("video/mp4", "audio/ogg", "audio_file"),
        ("video/mp4", "text/plain", "audio_file"),
    ],
)
def test_wrong_content_type_is_400_naming_field_and_types(
    client, face_video, speech_audio, video_type, audio_type, field
):
    response = upload(client, face_video, speech_audio, video_type=video_type, audio_type=audio_type)
    assert response.status_code == 400
    detail = response.json()["detail"]
    assert detail.startswith(field)
    assert ("video/mp4" in detail) if field == "video_file" else ("audio/wav" in detail and "audio/mpeg" in detail)
    assert leftover_entries(client) == []


def test_missing_field_is_422(client, face_video):
    with face_video.open("rb") as video:
        response = client.post(
            "/process/", files={"video_file": ("v.mp4", video, "video/mp4")}, data={"model_choice": "model1"}
        )
    assert response.status_code == 422
    assert any(error["loc"][-1] == "audio_file" for error in response.json()["detail"])


def test_unknown_model_choice_is_422(client, face_video, speech_audio):
    response = upload(client, face_video, speech_audio, model_choice="model9")
    assert response.status_code == 422
    assert leftover_entries(client) == []


def test_unknown_sync_mode_is_422(client, face_video, speech_audio):
    assert upload(client, face_video, speech_audio, sync_mode="sideways").status_code == 422


def test_text_renamed_mp4_is_400(client, speech_audio, tmp_path):
    fake = tmp_path / "fake.mp4"
    fake.write_text("this is not a video\n" * 100)
    response = upload(client, fake, speech_audio)
    assert response.status_code == 400
    assert response.json()["detail"] == "video_file: not a readable media file"
    assert leftover_entries(client) == []


def test_video_without_audio_as_audio_file_is_400(client, face_video):
    response = upload(client, face_video, face_video, audio_type="audio/wav")
    assert response.status_code == 400
    assert response.json()["detail"] == "audio_file: the file has no decodable audio stream"
    assert leftover_entries(client) == []


def test_random_bytes_as_wav_is_400(client, face_video, tmp_path):
    noise = tmp_path / "noise.wav"
    noise.write_bytes(bytes(range(256)) * 64)
    response = upload(client, face_video, noise)
    assert response.status_code == 400
    assert response.json()["detail"].startswith("audio_file")
    assert leftover_entries(client) == []


def test_video_longer_than_limit_is_400(make_client, face_video, speech_audio):
    client = make_client(max_video_seconds=1.0)
    response = upload(client, face_video, speech_audio)
    assert response.status_code == 400
    assert response.json()["detail"] == "video_file: the video lasts 2.0 s; the limit is 1 s"
    assert leftover_entries(client) == []


def test_upload_over_size_limit_is_413_and_removed(make_client, face_video, speech_audio, tmp_path):
    client = make_client(max_upload_mb=1)
    big = tmp_path / "big.mp4"
    big.write_bytes(face_video.read_bytes() + os.urandom(1024 * 1024))
    response = upload(client, big, speech_audio)
    assert response.status_code == 413
    assert "video_file" in response.json()["detail"] and "1 MB" in response.json()["detail"]
    assert leftover_entries(client) == []


@pytest.mark.parametrize("model_choice", ["model2", "model3"])
def test_model_without_weights_is_503_naming_setting_and_file(client, face_video, speech_audio, model_choice):
    response = upload(client, face_video, speech_audio, model_choice=model_choice)
    assert response.status_code == 503
    detail = response.json()["detail"]
    assert "WEIGHTS_DIR" in detail and ".pth" in detail
    assert leftover_entries(client) == []


def test_full_queue_is_503(make_client, face_video, speech_audio):
    client = make_client(max_concurrent_jobs=1, max_queued=0)
    first = upload(client, face_video, speech_audio)
    assert first.status_code == 202
    # The first task renders for seconds, so it still holds the only slot.
    second = upload(client, face_video, speech_audio)
    assert second.status_code == 503
    assert "queue is full" in second.json()["detail"]
    assert leftover_entries(client) == [first.json()["task_id"]]


def test_declared_body_over_limit_is_413_before_reading(make_client):
    client = make_client(max_upload_mb=1)
    response = client.post(
        "/process/", content=b"x" * (3 * 1024 * 1024 + 10),
        headers={"content-type": "multipart/form-data; boundary=abc"},
    )
    assert response.status_code == 413
    assert "1 MB" in response.json()["detail"]
    assert leftover_entries(client) == []


def test_path_without_trailing_slash_is_accepted_too(client, face_video, speech_audio):
    with face_video.open("rb") as video, speech_audio.open("rb") as audio:
        response = client.post(
            "/process", data={"model_choice": "model1"}, follow_redirects=False,
            files={"video_file": ("v.mp4", video, "video/mp4"), "audio_file": ("a.wav", audio, "audio/wav")},
        )
    assert response.status_code == 202 and "task_id" in response.json()


def test_oversized_text_field_is_400_and_never_echoed(client, face_video, speech_audio):
    response = upload(client, face_video, speech_audio, model_choice="m" * 800_000)
    assert response.status_code == 400
    assert response.json()["detail"] == "model_choice: a form field is limited to 1024 bytes"
    assert leftover_entries(client) == []


def test_422_names_the_fields_without_echoing_uploads(client, face_video):
    big = b"\0" * 800_000
    response = client.post(
        "/process/", files={"model_choice": ("m.bin", big, "application/octet-stream"),
                            "video_file": ("v.mp4", face_video.read_bytes(), "video/mp4")},
    )
    assert response.status_code == 422
    assert len(response.content) < 2000 and b"tmp" not in response.content.lower()
    assert {tuple(error["loc"]) for error in response.json()["detail"]} == {
        ("body", "audio_file"), ("body", "model_choice"),
    }
    assert leftover_entries(client) == []


@pytest.mark.parametrize("path", ["/health", "/status/{task_id}", "/result/{task_id}"])
def test_head_answers_like_get_without_a_body(client, face_video, speech_audio, path):
    task_id = upload(client, face_video, speech_audio).json()["task_id"]
    response = client.head(path.format(task_id=task_id))
    assert response.status_code == client.get(path.format(task_id=task_id)).status_code
    assert response.content == b""
    assert response.headers["content-type"] == "application/json"
