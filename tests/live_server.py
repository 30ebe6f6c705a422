"""A real uvicorn process on 127.0.0.1 for tests and benchmarks that need one (restart, kill, load)."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

_START_TIMEOUT_S = 90


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LiveServer:
    def __init__(self, env: dict[str, str], log_path: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._env = {**os.environ, **env, "HOST": "127.0.0.1", "PORT": str(self.port)}
        self._log_path = log_path
        self._process: subprocess.Popen | None = None

    def start(self) -> "LiveServer":
        log = self._log_path.open("ab")
        self._process = subprocess.Popen(
            # The service's own entry point, with its connection limits (as scripts/serve.sh runs it).
            [sys.executable, "-m", "app.server"],
            env=self._env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=Path(__file__).resolve().parents[1],
        )
        deadline = time.monotonic() + _START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"uvicorn exited: see {self._log_path}")
            try:
                httpx.get(f"{self.url}/health", timeout=1)
                return self
            except httpx.TransportError:
                time.sleep(0.1)
        self.kill()
        raise RuntimeError("uvicorn did not start in time")

    def kill(self) -> None:
        """SIGKILL: no shutdown hooks run, as in a crash."""
        if self._process and self._process.poll() is None:
            self._process.send_signal(signal.SIGKILL)
            self._process.wait(timeout=30)

    def stop(self) -> None:
        if self._process and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()
