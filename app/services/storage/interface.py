"""The task storage interface: where a task's uploads, working copies and result live.

Implementations: `local.LocalTaskStorage` (this host's disk) and `s3.S3TaskStorage` (a bucket, with
this host's disk as scratch space). Both share the disk layout of `folders.TaskFolders`.
`tests/services/test_storage_contract.py` runs the same suite against each.
"""

import logging
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from app.errors import BackendUnavailable
from app.logs import log_event

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class StoredResult:
    """A finished result: its size, a tag that changes with its bytes, and where the bytes are."""

    size: int
    etag: str
    # The file on this host's disk, served straight from it; None when the bytes are elsewhere
    # (read them with `TaskStorage.read_result`).
    local_path: Path | None = None
    # Its name in the storage that keeps it elsewhere (the bucket's key).
    key: str = ""


class TaskStorage(Protocol):
    upload_dir: Path

    # Paths on this host: uploads arrive in the task's folder, the pipeline reads and writes there.
    def create_task_dir(self, task_id: str) -> Path: ...

    def task_dir(self, task_id: str) -> Path: ...

    def video_upload_path(self, task_id: str) -> Path: ...

    def audio_upload_path(self, task_id: str) -> Path: ...

    def video_path(self, task_id: str, extension: str) -> Path: ...

    def audio_path(self, task_id: str, extension: str) -> Path: ...

    def result_path(self, task_id: str) -> Path:
        """Where a run writes the result on this host."""
        ...

    def free_bytes(self) -> int: ...

    def task_dirs(self) -> list[str]:
        """Names of the task folders on this host."""
        ...

    # Moving a task's files between this host and the storage.
    def publish_inputs(self, task_id: str, video_extension: str, audio_extension: str) -> None:
        """Make accepted uploads readable by whichever host runs the task."""
        ...

    def fetch_inputs(self, task_id: str, video_extension: str, audio_extension: str) -> None:
        """Bring a task's inputs to this host before it runs."""
        ...

    def publish_result(self, task_id: str) -> None:
        """Make a finished result downloadable."""
        ...

    def hold_scratch(self, task_id: str) -> AbstractContextManager[None]:
        """Mark this host's working copies of a task as a live run's, for the block's duration."""
        ...

    def release_scratch(self, task_id: str) -> None:
        """Free this host's working copies once a run ends."""
        ...

    def remove_orphan_scratch(self) -> None:
        """Remove working copies no live run holds (a killed worker's)."""
        ...

    # The result.
    def stored_result(self, task_id: str) -> StoredResult | None:
        """The finished result, or None when it is gone."""
        ...

    def read_result(self, stored: StoredResult, start: int, end: int) -> Iterator[bytes]:
        """Bytes `start` to `end` (exclusive) of a result, a block at a time (blocking iterator)."""
        ...

    def result_link(self, stored: StoredResult, filename: str, ttl_s: int) -> str | None:
        """A short-lived URL a client can download the result from directly; None if there is none."""
        ...

    # Removal.
    def leftovers(self, known: set[str], older_than: float) -> list[str]:
        """Task ids that have files but no record, last changed before `older_than` (Unix time)."""
        ...

    def discard_upload(self, task_id: str) -> None:
        """Delete what a refused upload left on this host (cheap: safe to call on the event loop)."""
        ...

    def remove_inputs(self, task_id: str) -> None:
        """Delete the uploaded media but keep the task's record."""
        ...

    def remove_partial_results(self) -> None:
        """Delete results a run stopped writing (at start-up, when no run is live)."""
        ...

    def remove_task(self, task_id: str) -> None:
        """Delete the task's inputs and result; missing files are fine."""
        ...

    def check_ready(self) -> None:
        """Raise BackendUnavailable unless the storage answers (creating the bucket if needed)."""
        ...


def remove_quietly(remove: Callable[[str], None], task_id: str) -> None:
    """Remove files a task no longer needs; if the storage is away, the TTL sweep will later."""
    try:
        remove(task_id)
    except BackendUnavailable:
        log_event(logger, "task.cleanup_failed", logging.WARNING, task_id=task_id)
