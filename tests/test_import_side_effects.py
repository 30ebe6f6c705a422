"""Importing the API or the worker does nothing: no file or folder made, changed or removed, no
thread started. Recovering tasks from disk happens when the app starts, under uvicorn as ever."""

import os
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest

from app.pipeline.media.probe import MediaInfo
from app.pipeline.timeline import SyncMode
from app.services.tasks.choices import RenderChoices
from app.services.tasks.model import TaskInfo
from app.services.tasks.records import write_record
from tests.live_server import LiveServer

_ROOT = Path(__file__).resolve().parents[1]
# Run in a fresh interpreter: imports the module named in argv, then names the threads alive.
_IMPORT_AND_LIST_THREADS = (
    "import importlib, sys, threading; importlib.import_module(sys.argv[1]); "
    "print(','.join(sorted(thread.name for thread in threading.enumerate())))"
)


def crash_leftovers(upload_dir: Path) -> dict[str, Path]:
    """What a killed server leaves: a queued task's record, an upload without one, a partial result."""
    queued = upload_dir / str(uuid.uuid4())
    queued.mkdir(parents=True)
    write_record(
        queued,
        TaskInfo(
            task_id=queued.name,
            model_choice="model1",
            engine="viseme",
            choices=RenderChoices(SyncMode.BOUNCE),
            audio_extension="wav",
            media=MediaInfo(duration_s=1.0, has_video=True, has_audio=False),
        ),
    )
    orphan = upload_dir / str(uuid.uuid4())
    orphan.mkdir()
    (orphan / "input.mp4").write_bytes(b"cut off")
    partial = upload_dir / "results" / f"{queued.name}.mp4.part"
    partial.parent.mkdir()
    partial.write_bytes(b"half")
    return {"queued": queued, "orphan": orphan, "partial": partial}


def disk_state(root: Path) -> dict[str, tuple[int, int]]:
    """Every path under `root` with its size and modification time."""
    return {str(path.relative_to(root)): (path.stat().st_size, path.stat().st_mtime_ns) for path in root.rglob("*")}


@pytest.mark.parametrize("module", ["app.main", "app.worker"])
@pytest.mark.parametrize("uploads", ["missing", "after_a_crash"])
def test_importing_creates_changes_and_starts_nothing(tmp_path, module, uploads):
    upload_dir, workdir = tmp_path / "uploads", tmp_path / "workdir"
    workdir.mkdir()
    if uploads == "after_a_crash":
        crash_leftovers(upload_dir)
    before = disk_state(tmp_path)
    env = {
        **os.environ,
        "PYTHONPATH": str(_ROOT),
        "UPLOAD_DIR": str(upload_dir),
        "WEIGHTS_DIR": str(tmp_path / "weights"),
    }
    # From an empty working directory: a relative path created there would show too.
    imported = subprocess.run(
        [sys.executable, "-c", _IMPORT_AND_LIST_THREADS, module],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.strip() == "MainThread"
    assert disk_state(tmp_path) == before


def test_uvicorn_serves_app_main_app_and_recovers_at_start_up(tmp_path):
    upload_dir = tmp_path / "uploads"
    leftovers = crash_leftovers(upload_dir)
    # `python -m app.server` hands uvicorn the string "app.main:app", as `uvicorn app.main:app` does.
    server = LiveServer({"UPLOAD_DIR": str(upload_dir)}, tmp_path / "server.log").start()
    try:
        assert httpx.get(f"{server.url}/health", timeout=10).json()["status"] == "ok"
        assert httpx.get(f"{server.url}/status/{leftovers['queued'].name}", timeout=10).status_code == 200
        assert not leftovers["orphan"].exists()
        assert not leftovers["partial"].exists()
    finally:
        server.stop()
