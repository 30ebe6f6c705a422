"""Session-wide media fixtures (generated once) and an app factory with per-test storage."""

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app
from tests import media_factory

SPEECH_TEXT = "Hello there. Open your mouth wide and say papa, mama, and banana."
CLIP_SECONDS = 2.0
TRAILING_SILENCE_S = 1.5


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def face_video(media_dir: Path) -> Path:
    """2 s, 512x512, 25 fps, the astronaut's face, no audio."""
    return media_factory.talking_head_video(media_dir / "face.mp4", CLIP_SECONDS)


@pytest.fixture(scope="session")
def speech_audio(media_dir: Path) -> Path:
    """espeak-ng speech followed by 1.5 s of silence (WAV)."""
    return media_factory.speech_wav(media_dir / "speech.wav", SPEECH_TEXT, TRAILING_SILENCE_S)


@pytest.fixture(scope="session")
def short_audio(media_dir: Path) -> Path:
    """About 1 s of speech: shorter than the video."""
    return media_factory.speech_wav(media_dir / "short.wav", "Hello there.")


@pytest.fixture(scope="session")
def speech_mp3(media_dir: Path, speech_audio: Path) -> Path:
    return media_factory.to_mp3(speech_audio, media_dir / "speech.mp3")


@pytest.fixture(scope="session")
def no_face_video(media_dir: Path) -> Path:
    return media_factory.no_face_video(media_dir / "no_face.mp4", 1.0)


@pytest.fixture
def make_client(tmp_path: Path) -> Iterator[Callable[..., TestClient]]:
    """Build a client for an app with its own upload dir; keyword arguments override settings."""
    clients: list[TestClient] = []

    def build(**overrides: object) -> TestClient:
        settings = Settings(_env_file=None, **{"upload_dir": tmp_path / "uploads", **overrides})
        client = TestClient(create_app(settings))
        client.__enter__()
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client: Callable[..., TestClient]) -> TestClient:
    return make_client()


def upload(
    client: TestClient,
    video: Path,
    audio: Path,
    model_choice: str = "model1",
    video_type: str = "video/mp4",
    audio_type: str = "audio/wav",
    headers: dict[str, str] | None = None,
    **form: str,
) -> httpx.Response:
    with video.open("rb") as video_file, audio.open("rb") as audio_file:
        return client.post(
            "/process/",
            headers=headers,
            files={
                "video_file": (video.name, video_file, video_type),
                "audio_file": (audio.name, audio_file, audio_type),
            },
            data={"model_choice": model_choice, **form},
        )


def download_result(client: TestClient, task_id: str, path: Path) -> Path:
    """Save the finished task's video to `path`."""
    path.write_bytes(client.get(f"/result/{task_id}").content)
    return path


def wait_until(condition: Callable[[], object], timeout_s: float, what: str, interval_s: float = 0.05) -> None:
    """Poll `condition` until it holds, with a deadline (`what` names it in the failure)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"{what} did not happen within {timeout_s} s"
        time.sleep(interval_s)


def wait_for_end(client: TestClient, task_id: str, timeout_s: float = 120) -> dict:
    """Poll GET /status until the task leaves queued/processing, with a deadline."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        status = client.get(f"/status/{task_id}").json()
        if status["status"] not in ("queued", "processing"):
            return status
        time.sleep(0.05)
    raise AssertionError(f"task {task_id} did not end within {timeout_s} s")
