"""Where a task's files live on disk, and streaming uploads into it.

<UPLOAD_DIR>/<task_id>/input.<ext>, input_audio.<ext> (extensions of the detected containers);
<UPLOAD_DIR>/results/<task_id>.mp4.
Directories are 0700 and files 0600: nothing is readable by other users of the host.
`s3_storage.S3TaskStorage` keeps the same layout as scratch space and the files in a bucket.
"""

import hashlib
import logging
import os
import shutil
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path

import aiofiles
import aiofiles.os

from app.errors import BackendUnavailable, InsufficientStorage, TaskNotFound, UploadTooLarge
from app.logs import log_event

logger = logging.getLogger(__name__)

# Received bytes are written to disk in blocks of this size, off the event loop.
UPLOAD_CHUNK_BYTES = 1024 * 1024
# Free disk space is checked again after every this many bytes of an upload.
_DISK_CHECK_BYTES = 16 * 1024 * 1024
# Uploads are written under these names, then renamed with their detected container's extension.
VIDEO_UPLOAD_FILENAME = "input_video.upload"
AUDIO_UPLOAD_FILENAME = "input_audio.upload"


@dataclass(frozen=True)
class StoredObject:
    """A finished result kept in a bucket rather than on this host's disk."""

    key: str
    size: int
    etag: str


def remove_quietly(remove: Callable[[str], None], task_id: str) -> None:
    """Remove files a task no longer needs; if the storage is away, the TTL sweep will later."""
    try:
        remove(task_id)
    except BackendUnavailable:
        log_event(logger, "task.cleanup_failed", logging.WARNING, task_id=task_id)


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

    def video_upload_path(self, task_id: str) -> Path:
        return self.task_dir(task_id) / VIDEO_UPLOAD_FILENAME

    def video_path(self, task_id: str, extension: str) -> Path:
        return self.task_dir(task_id) / f"input.{extension}"

    def audio_upload_path(self, task_id: str) -> Path:
        return self.task_dir(task_id) / AUDIO_UPLOAD_FILENAME

    def audio_path(self, task_id: str, extension: str) -> Path:
        return self.task_dir(task_id) / f"input_audio.{extension}"

    def result_path(self, task_id: str) -> Path:
        return self.results_dir / f"{task_id}.mp4"

    def publish_inputs(self, task_id: str, video_extension: str, audio_extension: str) -> None:
        """Make accepted uploads readable by whichever host runs the task: here they already are."""

    def fetch_inputs(self, task_id: str, video_extension: str, audio_extension: str) -> None:
        """Bring a task's inputs to this host before it runs: here they already are."""

    def publish_result(self, task_id: str) -> None:
        """Make a finished result downloadable: the pipeline wrote it in place."""

    def release_scratch(self, task_id: str) -> None:
        """Free this host's working copies once a run ends: here they are the stored files."""

    def hold_scratch(self, task_id: str) -> AbstractContextManager[None]:
        """Mark this host's working copies of a task as a live run's: here they are the stored files."""
        return nullcontext()

    def remove_orphan_scratch(self) -> None:
        """Remove working copies no live run holds (a killed worker's): here there are none."""

    def stored_result(self, task_id: str) -> Path | StoredObject | None:
        """The finished result, or None when it is gone."""
        path = self.result_path(task_id)
        return path if path.is_file() else None

    def leftovers(self, known: set[str], older_than: float) -> list[str]:
        """Task ids that have files but no record, last changed before `older_than` (Unix time)."""
        return [name for name in self.task_dirs() if name not in known and self.modified_at(name) < older_than]

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

    def discard_upload(self, task_id: str) -> None:
        """Delete what a refused upload left on this host (cheap: safe to call on the event loop)."""
        shutil.rmtree(self.task_dir(task_id), ignore_errors=True)

    def remove_task(self, task_id: str) -> None:
        """Delete the task's inputs and result; missing files are fine."""
        shutil.rmtree(self.task_dir(task_id), ignore_errors=True)
        self.result_path(task_id).unlink(missing_ok=True)


class UploadSink:
    """One uploaded file being written straight to its place in the task folder.

    Bytes are refused past `max_bytes` (UploadTooLarge) and when the disk's free space would fall
    below `min_free_bytes` (InsufficientStorage); every byte received is counted, whatever the
    request declared. The caller removes the task folder, and so a partial file, on any error.
    """

    def __init__(self, destination: Path, field: str, max_bytes: int, min_free_bytes: int) -> None:
        # Created at once (a cheap call), so that the file exists even if nothing arrives.
        self._descriptor = os.open(destination, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        self._file = None
        self._folder = destination.parent
        self._field = field
        self._max_bytes = max_bytes
        self._min_free_bytes = min_free_bytes
        self._pending = bytearray()
        self._next_disk_check = 0
        self.size = 0
        # Of every byte received: identifies the upload for Idempotency-Key replays.
        self.digest = hashlib.sha256()

    def add(self, data: bytes) -> None:
        """Take received bytes (no I/O: `flush` writes them)."""
        self.size += len(data)
        if self.size > self._max_bytes:
            raise UploadTooLarge(
                f"{self._field}: file is larger than the limit of {self._max_bytes // (1024 * 1024)} MB"
            )
        self._pending += data
        self.digest.update(data)

    async def flush(self, force: bool = False) -> None:
        """Write what was taken once a block has gathered (everything when `force`), off the loop."""
        if not self._pending or (not force and len(self._pending) < UPLOAD_CHUNK_BYTES):
            return
        block, self._pending = bytes(self._pending), bytearray()
        if self.size >= self._next_disk_check:
            await self._require_free_space(len(block))
            self._next_disk_check = self.size + _DISK_CHECK_BYTES
        if self._file is None:
            self._file = await aiofiles.open(self._descriptor, "wb")
        await self._file.write(block)

    async def close(self) -> None:
        """Close the file; bytes not flushed are dropped (call `flush(force=True)` first to keep them)."""
        if self._file is not None:
            await self._file.close()
        else:
            os.close(self._descriptor)

    async def _require_free_space(self, incoming: int) -> None:
        disk = await aiofiles.os.statvfs(self._folder)
        free = disk.f_bavail * disk.f_frsize
        if free - incoming < self._min_free_bytes:
            raise InsufficientStorage(
                f"the server is short of disk space ({free // (1024 * 1024)} MB free); try again later"
            )
