"""scripts/serve.sh, as a new user runs it: on this machine only unless HOST opens it."""

import os
import subprocess
import time
from pathlib import Path

import httpx

from tests.live_server import free_port

_ROOT = Path(__file__).resolve().parents[1]
_START_TIMEOUT_S = 90


def listening_addresses(port: int) -> set[str]:
    """Local addresses of the sockets listening on `port`, from /proc (hex, as the kernel writes them)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.rsplit(":", 1)
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                found.add(address)
    return found


def test_serve_sh_listens_on_loopback_only_by_default(tmp_path):
    port = free_port()
    env = {key: value for key, value in os.environ.items() if key != "HOST"}
    env.update(PORT=str(port), UPLOAD_DIR=str(tmp_path / "uploads"))
    process = subprocess.Popen(
        ["bash", "scripts/serve.sh"], cwd=_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + _START_TIMEOUT_S
        while time.monotonic() < deadline and process.poll() is None:
            try:
                httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        assert listening_addresses(port) == {"0100007F"}  # 127.0.0.1, nothing else
    finally:
        process.terminate()
        process.wait(timeout=30)
