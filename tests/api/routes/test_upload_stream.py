"""Uploads are read as they arrive by a real uvicorn: no spool copy, limits on the bytes really
received (chunked bodies too), and bodies that stall or trickle are timed out."""

import select
import socket
import time

import httpx
import pytest

from tests.api.routes.test_bad_input import BOUNDARY, MODEL_PART, multipart
from tests.live_server import LiveServer

_IDLE_TIMEOUT_S = 1.0
_TOTAL_TIMEOUT_S = 3.0


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("stream")
    spool = folder / "tmp"
    spool.mkdir()
    live = LiveServer(
        {
            "UPLOAD_DIR": str(folder / "uploads"),
            "TMPDIR": str(spool),
            "MAX_UPLOAD_MB": "1",
            "UPLOAD_IDLE_TIMEOUT_S": str(_IDLE_TIMEOUT_S),
            "UPLOAD_TIMEOUT_S": str(_TOTAL_TIMEOUT_S),
        },
        folder / "server.log",
    ).start()
    live.spool = spool
    live.upload_dir = folder / "uploads"
    yield live
    live.stop()


def leftovers(server) -> list[str]:
    if not server.upload_dir.exists():
        return []
    return sorted(p.name for p in server.upload_dir.iterdir() if p.name != "results")


def spooled_bytes(server) -> int:
    return sum(p.stat().st_size for p in server.spool.rglob("*") if p.is_file())


def open_post(server, headers: dict[str, str]) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    lines = [
        "POST /process/ HTTP/1.1",
        f"Host: 127.0.0.1:{server.port}",
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}",
        *(f"{k}: {v}" for k, v in headers.items()),
    ]
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    return sock


def answered(sock: socket.socket) -> bool:
    return bool(select.select([sock], [], [], 0)[0])


def read_response(sock: socket.socket) -> tuple[int, str]:
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
            if b"\r\n\r\n" in data and data.rstrip().endswith(b"}"):
                break
    except (ConnectionResetError, TimeoutError):
        pass
    sock.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body.decode(errors="replace")


def test_chunked_body_over_the_limit_is_refused_as_it_arrives_without_a_spool_copy(server, face_video):
    sock = open_post(server, {"Transfer-Encoding": "chunked"})
    body = multipart(MODEL_PART)[: -len(f"--{BOUNDARY}--\r\n")]
    body += f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="video_file"; filename="v.mp4"\r\n'.encode()
    body += b"Content-Type: video/mp4\r\n\r\n"
    sent, block, max_spooled = 0, b"\0" * 65536, 0
    sock.sendall(f"{len(body):x}\r\n".encode() + body + b"\r\n")
    try:
        while sent < 64 * 1024 * 1024 and not answered(sock):
            sock.sendall(f"{len(block):x}\r\n".encode() + block + b"\r\n")
            sent += len(block)
            max_spooled = max(max_spooled, spooled_bytes(server))
    except (BrokenPipeError, ConnectionResetError):
        pass
    status, detail = read_response(sock)
    assert status == 413 and "video_file" in detail and "1 MB" in detail
    assert sent < 16 * 1024 * 1024  # refused soon after the limit, not after reading 64 MB
    assert max_spooled == 0 and spooled_bytes(server) == 0
    assert leftovers(server) == []


def test_a_stalled_body_is_408_and_leaves_nothing(server):
    sock = open_post(server, {"Content-Length": "100000"})
    sock.sendall(b"--" + BOUNDARY.encode() + b"\r\n")
    started = time.monotonic()
    status, detail = read_response(sock)
    assert status == 408 and "too slow" in detail
    assert time.monotonic() - started < _IDLE_TIMEOUT_S + 5
    assert leftovers(server) == []


def test_a_trickling_body_is_408_at_the_total_deadline(server):
    sock = open_post(server, {"Content-Length": "100000"})
    started = time.monotonic()
    sock.sendall(b"--" + BOUNDARY.encode() + b"\r\n")
    while not answered(sock) and time.monotonic() - started < _TOTAL_TIMEOUT_S + 5:
        sock.sendall(b"x")  # a byte well within the idle timeout, every time
        time.sleep(_IDLE_TIMEOUT_S / 4)
    status, detail = read_response(sock)
    assert status == 408 and f"{_TOTAL_TIMEOUT_S:g} s" in detail
    assert leftovers(server) == []


# Last: its task stays in the upload folder that the tests above find empty.
def test_an_accepted_upload_is_written_once_straight_to_the_task_folder(server, face_video, short_audio):
    with face_video.open("rb") as video, short_audio.open("rb") as audio:
        response = httpx.post(
            f"{server.url}/process/",
            data={"model_choice": "model1"},
            timeout=30,
            files={"video_file": ("v.mp4", video, "video/mp4"), "audio_file": ("a.wav", audio, "audio/wav")},
        )
    assert response.status_code == 202
    task_dir = server.upload_dir / response.json()["task_id"]
    assert (task_dir / "input.mp4").read_bytes() == face_video.read_bytes()
    assert spooled_bytes(server) == 0
