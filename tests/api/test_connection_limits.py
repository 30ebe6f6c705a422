"""Connection and upload caps of a real server (python -m app.server): past each, 503 with
Retry-After and a JSON detail; connections that never finish their request head are closed."""

import json
import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.api.routes.test_bad_input import BOUNDARY, MODEL_PART, multipart
from tests.live_server import LiveServer

_MAX_CONNECTIONS = 4
_MAX_UPLOADS = 2
_HEAD_TIMEOUT_S = 2.0
_WAIT_S = 30


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    folder = tmp_path_factory.mktemp("limits")
    live = LiveServer(
        {
            "UPLOAD_DIR": str(folder / "uploads"),
            "MAX_CONNECTIONS": str(_MAX_CONNECTIONS),
            "MAX_CONCURRENT_UPLOADS": str(_MAX_UPLOADS),
            "REQUEST_HEAD_TIMEOUT_S": str(_HEAD_TIMEOUT_S),
        },
        folder / "server.log",
    ).start()
    yield live
    live.stop()


def connect(server: LiveServer, data: bytes) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=_WAIT_S)
    sock.sendall(data)
    return sock


def half_open(server: LiveServer) -> socket.socket:
    """A connection whose request head never ends (a slowloris client)."""
    return connect(server, f"GET /health HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n".encode())


def slow_upload(server: LiveServer) -> socket.socket:
    """An upload whose head is complete and whose body has only begun to arrive."""
    body = multipart(MODEL_PART)[: -len(f"--{BOUNDARY}--\r\n")]
    head = (
        f"POST /process/ HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nContent-Length: 1000000\r\n"
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n\r\n"
    )
    return connect(server, head.encode() + body)


def until(check, what: str):
    """Poll `check` until it returns a truthy value, with a deadline."""
    deadline = time.monotonic() + _WAIT_S
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(0.05)
    raise AssertionError(f"{what}: not within {_WAIT_S} s")


def assert_busy(response: httpx.Response) -> None:
    assert response.status_code == 503
    assert int(response.headers["retry-after"]) > 0
    assert "try again later" in response.json()["detail"]


def test_half_open_connections_past_the_cap_get_503_and_are_closed_at_the_head_deadline(server):
    held = [half_open(server) for _ in range(_MAX_CONNECTIONS)]
    try:
        # Each new connection is one more: refused while the held ones are open.
        assert_busy(httpx.get(f"{server.url}/health", timeout=_WAIT_S))
        # The server closes each half-open connection once its head is overdue (recv sees EOF).
        for sock in held:
            assert sock.recv(1024) == b""
        until(lambda: httpx.get(f"{server.url}/health", timeout=_WAIT_S).status_code == 200, "health after the cap")
    finally:
        for sock in held:
            sock.close()


def test_uploads_past_the_cap_get_503_until_one_ends(server, face_video, short_audio):
    uploads = [slow_upload(server) for _ in range(_MAX_UPLOADS)]
    files = {
        "video_file": ("v.mp4", face_video.read_bytes(), "video/mp4"),
        "audio_file": ("a.wav", short_audio.read_bytes(), "audio/wav"),
    }
    try:
        # The slow ones hold their slots once their heads are in; then a further upload is refused.
        def refused() -> httpx.Response | None:
            response = httpx.post(
                f"{server.url}/process/", data={"model_choice": "model1"}, files=files, timeout=_WAIT_S
            )
            return response if response.status_code == 503 else None

        assert_busy(until(refused, "an upload refused past the cap"))
    finally:
        for sock in uploads:
            sock.close()
    accepted = until(
        lambda: (
            (
                r := httpx.post(f"{server.url}/process/", data={"model_choice": "model1"}, files=files, timeout=_WAIT_S)
            ).status_code
            == 202
            and r
        ),
        "an upload accepted once the slow ones left",
    )
    assert json.loads(accepted.content)["task_id"]
