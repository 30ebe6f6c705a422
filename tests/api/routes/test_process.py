"""POST /process/: acceptance and every error row of DESIGN.md; a rejected request leaves nothing."""

import os
from pathlib import Path

import pytest

from app.pipeline.media.ffmpeg_binary import run_ffmpeg
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
    [
        ("speech_mp3", "speech.wav", "audio/mpeg", "input_audio.mp3"),
        ("speech_audio", "speech.mp3", "application/octet-stream", "input_audio.wav"),
    ],
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
    ("video_type", "audio_type"),
    [
        ("video/quicktime", "audio/wav"),  # an iPhone's label on mp4-family bytes
        ("application/octet-stream", "application/octet-stream"),  # curl without ;type=
        ("video/mp4; codecs=avc1", "audio/x-wav"),
    ],
)
def test_uploads_are_decided_by_their_bytes(client, face_video, speech_audio, video_type, audio_type):
    response = upload(client, face_video, speech_audio, video_type=video_type, audio_type=audio_type)
    assert response.status_code == 202, response.text


@pytest.mark.parametrize(
    ("video_type", "audio_type", "detail"),
    [
        (
            "video/webm",
            "audio/wav",
            "video_file: the content type says video/webm but the bytes are an mp4 file; "
            "label it with its own type or as application/octet-stream",
        ),
        (
            "video/mp4",
            "audio/ogg",
            "audio_file: the content type says audio/ogg but the bytes are a wav file; "
            "label it with its own type or as application/octet-stream",
        ),
        (
            "video/mp4",
            "text/plain",
            "audio_file: content type 'text/plain' is not accepted; send an audio file "
            "(wav, mp3, ogg, webm, flac or m4a/aac) labelled with its type or as "
            "application/octet-stream",
        ),
        (
            "image/png",
            "audio/mpeg",
            "video_file: content type 'image/png' is not accepted; send a video file "
            "(mp4, quicktime, webm or matroska) labelled with its type or as application/octet-stream; "
            "audio_file: the content type says audio/mpeg but the bytes are a wav file; "
            "label it with its own type or as application/octet-stream",
        ),
    ],
)
def test_a_label_that_is_no_media_type_or_contradicts_the_bytes_is_400_naming_every_bad_field(
    client, face_video, speech_audio, video_type, audio_type, detail
):
    response = upload(client, face_video, speech_audio, video_type=video_type, audio_type=audio_type)
    assert response.status_code == 400
    assert response.json()["detail"] == detail
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
    assert response.json()["detail"] == (
        "video_file: not a readable media file; send a video file (mp4, quicktime, webm or matroska)"
    )
    assert leftover_entries(client) == []


def test_video_without_audio_as_audio_file_is_400(client, face_video):
    response = upload(client, face_video, face_video, audio_type="video/mp4")
    assert response.status_code == 400
    assert response.json()["detail"] == (
        "audio_file: the file has no decodable audio stream; send an audio file (wav, mp3, ogg, webm, flac or m4a/aac)"
    )
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
    # Both fields are over the limit: one answer names both.
    assert response.json()["detail"] == (
        "video_file: the video lasts 2.0 s; the limit is 1 s: send a shorter video; "
        "audio_file: the audio lasts 7.0 s; the limit is 1 s: send a shorter audio"
    )
    assert response.json()["error_code"] == "media_too_long"
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
        "/process/",
        content=b"x" * (3 * 1024 * 1024 + 10),
        headers={"content-type": "multipart/form-data; boundary=abc"},
    )
    assert response.status_code == 413
    assert "1 MB" in response.json()["detail"]
    assert leftover_entries(client) == []


def test_path_without_trailing_slash_is_accepted_too(client, face_video, speech_audio):
    with face_video.open("rb") as video, speech_audio.open("rb") as audio:
        response = client.post(
            "/process",
            data={"model_choice": "model1"},
            follow_redirects=False,
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
        "/process/",
        files={
            "model_choice": ("m.bin", big, "application/octet-stream"),
            "video_file": ("v.mp4", face_video.read_bytes(), "video/mp4"),
        },
    )
    assert response.status_code == 422
    assert len(response.content) < 2000 and b"tmp" not in response.content.lower()
    assert {tuple(error["loc"]) for error in response.json()["detail"]} == {
        ("body", "audio_file"),
        ("body", "model_choice"),
    }
    assert leftover_entries(client) == []


@pytest.mark.parametrize("path", ["/health", "/status/{task_id}", "/result/{task_id}"])
def test_head_answers_like_get_without_a_body(client, face_video, speech_audio, path):
    task_id = upload(client, face_video, speech_audio).json()["task_id"]
    response = client.head(path.format(task_id=task_id))
    assert response.status_code == client.get(path.format(task_id=task_id)).status_code
    assert response.content == b""
    assert response.headers["content-type"] == "application/json"


def test_an_idempotency_key_repeated_with_the_same_uploads_answers_the_same_task(
    client, face_video, speech_audio, short_audio
):
    headers = {"Idempotency-Key": "order-42"}
    first = upload_with_headers(client, face_video, speech_audio, headers)
    again = upload_with_headers(client, face_video, speech_audio, headers)
    assert first.status_code == again.status_code == 202
    assert again.json()["task_id"] == first.json()["task_id"]
    upload_dir = client.app.state.settings.upload_dir
    assert [path.name for path in upload_dir.iterdir() if path.name != "results"] == [first.json()["task_id"]]
    # Different uploads under the same key: 409, and nothing of them is kept.
    conflict = upload_with_headers(client, face_video, short_audio, headers)
    assert conflict.status_code == 409
    assert "Idempotency-Key" in conflict.json()["detail"]
    assert [path.name for path in upload_dir.iterdir() if path.name != "results"] == [first.json()["task_id"]]
    # Another key is another task.
    other = upload_with_headers(client, face_video, speech_audio, {"Idempotency-Key": "order-43"})
    assert other.json()["task_id"] != first.json()["task_id"]


def upload_with_headers(client, video, audio, headers):
    with video.open("rb") as video_file, audio.open("rb") as audio_file:
        return client.post(
            "/process/",
            headers=headers,
            data={"model_choice": "model1"},
            files={
                "video_file": (video.name, video_file, "video/mp4"),
                "audio_file": (audio.name, audio_file, "audio/wav"),
            },
        )


@pytest.fixture(scope="module")
def other_formats(tmp_path_factory, face_video, speech_audio):
    """The same media in the other accepted containers, made with ffmpeg."""
    folder = tmp_path_factory.mktemp("formats")
    recipes = {
        "face.mov": ["-i", str(face_video), "-c", "copy", "-f", "mov"],
        "face.webm": ["-i", str(face_video), "-t", "1", "-c:v", "libvpx", "-b:v", "1M", "-f", "webm"],
        "face.mkv": ["-i", str(face_video), "-c", "copy", "-f", "matroska"],
        "speech.ogg": ["-i", str(speech_audio), "-c:a", "libvorbis", "-f", "ogg"],
        "speech.webm": ["-i", str(speech_audio), "-c:a", "libopus", "-f", "webm"],
        "speech.flac": ["-i", str(speech_audio), "-c:a", "flac", "-f", "flac"],
        "speech.m4a": ["-i", str(speech_audio), "-c:a", "aac", "-f", "ipod"],
        "speech.aac": ["-i", str(speech_audio), "-c:a", "aac", "-f", "adts"],
    }
    for name, recipe in recipes.items():
        run_ffmpeg([*recipe, str(folder / name)])
    return folder


@pytest.mark.parametrize(
    ("video", "video_type", "audio", "audio_type"),
    [
        ("face.mov", "video/quicktime", None, "audio/wav"),
        ("face.webm", "video/webm", None, "audio/wav"),
        ("face.mkv", "application/octet-stream", None, "audio/wav"),
        (None, "video/mp4", "speech.ogg", "audio/ogg"),
        (None, "video/mp4", "speech.webm", "audio/webm"),
        (None, "video/mp4", "speech.flac", "audio/flac"),
        (None, "video/mp4", "speech.m4a", "audio/x-m4a"),
        (None, "video/mp4", "speech.aac", "audio/aac"),
        (None, "video/mp4", "speech.m4a", "application/octet-stream"),
    ],
)
def test_every_accepted_container_is_taken(
    client, other_formats, face_video, speech_audio, video, video_type, audio, audio_type
):
    response = upload(
        client,
        other_formats / video if video else face_video,
        other_formats / audio if audio else speech_audio,
        video_type=video_type,
        audio_type=audio_type,
    )
    assert response.status_code == 202, response.text
    # Stored under the extension of the container its bytes are (webm is matroska), never the client's name.
    stored = {
        path.suffix for path in (client.app.state.settings.upload_dir / response.json()["task_id"]).glob("input.*")
    }
    assert stored == {".mkv" if video in ("face.webm", "face.mkv") else ".mp4"}


def test_an_idempotent_replay_gets_its_task_even_when_the_queue_is_full(make_client, face_video, speech_audio):
    client = make_client(max_concurrent_jobs=1, max_queued=0)
    headers = {"Idempotency-Key": "full-queue"}
    first = upload_with_headers(client, face_video, speech_audio, headers)
    assert first.status_code == 202
    assert upload(client, face_video, speech_audio).status_code == 503  # no room for new work
    again = upload_with_headers(client, face_video, speech_audio, headers)
    assert again.status_code == 202 and again.json()["task_id"] == first.json()["task_id"]
