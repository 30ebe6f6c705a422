"""Where a task's files live on disk, and streaming uploads into it.

<UPLOAD_DIR>/<task_id>/input.mp4, input_audio.<wav|mp3>; <UPLOAD_DIR>/results/<task_id>.mp4.
Directories are 0700 and files 0600: nothing is readable by other users of the host.
"""

import os
import shutil
import uuid
from pathlib import Path
from typing import Protocol

import aiofiles

from app.errors import TaskNotFound, UploadTooLarge

UPLOAD_CHUNK_BYTES = 1024 * 1024
VIDEO_FILENAME = "input.mp4"


class ReadableUpload(Protocol):
    async def read(self, size: int = -1) -> bytes: ...


def parse_task_id(raw: str) -> str:
    """The canonical form of a UUID4 task id; anything else is an unknown task (never a path)."""
    try:
        parsed = uuid.UUID(raw)
    except (ValueError, AttributeError, TypeError):
        parsed = None
    if parsed is None or parsed.version != 4:
        raise TaskNotFound(f"no task with id {raw[:64]!r}")
    return str(parsed)


class TaskStorage:
    def __init__(self, upload_dir: Path) -> None:
        self.upload_dir = upload_dir
        self.results_dir = upload_dir / "results"

    def create_task_dir(self, task_id: str) -> Path:
        self.upload_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.results_dir.mkdir(mode=0o700, exist_ok=True)
        task_dir = self.task_dir(task_id)
        task_dir.mkdir(mode=0o700)
        return task_dir

    def task_dir(self, task_id: str) -> Path:
        return self.upload_dir / task_id

    def video_path(self, task_id: str) -> Path:
        return self.task_dir(task_id) / VIDEO_FILENAME

    def audio_path(self, task_id: str, extension: str) -> Path:
        return self.task_dir(task_id) / f"input_audio.{extension}"

    def result_path(self, task_id: str) -> Path:
        return self.results_dir / f"{task_id}.mp4"

    def remove_inputs(self, task_id: str) -> None:
        """Delete the uploaded media but keep the task's record."""
        for path in self.task_dir(task_id).glob("input*"):
            path.unlink(missing_ok=True)

    def remove_partial_results(self) -> None:
        for path in self.results_dir.glob("*.part"):
            path.unlink(missing_ok=True)

    def modified_at(self, task_id: str) -> float:
        return self.task_dir(task_id).stat().st_mtime

    def task_dirs(self) -> list[str]:
        """Names of the task folders on disk (everything but results/)."""
        if not self.upload_dir.is_dir():
            return []
        return [path.name for path in self.upload_dir.iterdir() if path.is_dir() and path != self.results_dir]

    def free_bytes(self) -> int:
        self.upload_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        return shutil.disk_usage(self.upload_dir).free

    def remove_task(self, task_id: str) -> None:
        """Delete the task's inputs and result; missing files are fine."""
        shutil.rmtree(self.task_dir(task_id), ignore_errors=True)
        self.result_path(task_id).unlink(missing_ok=True)


async def save_upload(upload: ReadableUpload, destination: Path, max_bytes: int, field: str) -> int:
    """Stream an upload to `destination` in 1 MiB chunks; over `max_bytes` it is deleted and refused."""
    written = 0
    descriptor = os.open(destination, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        async with aiofiles.open(descriptor, "wb") as sink:
            while chunk := await upload.read(UPLOAD_CHUNK_BYTES):
                written += len(chunk)
                if written > max_bytes:
                    raise UploadTooLarge(
                        f"{field}: file is larger than the limit of {max_bytes // (1024 * 1024)} MB"
                    )
                await sink.write(chunk)
    except BaseException:
        destination.unlink(missing_ok=True)
        raise
    return written
