"""Task records and the in-memory registry that holds them (`redis_registry` is the shared one)."""

import threading
from collections.abc import Callable, KeysView
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Protocol

from app.errors import TaskNotFound
from app.pipeline.media.probe import MediaInfo
from app.pipeline.timeline import SyncMode


class TaskState(StrEnum):
    QUEUED = "queued"
    PROCESSING = "processing"
    FINISHED = "finished"
    FAILED = "failed"
    CANCELLED = "cancelled"


ACTIVE_STATES = frozenset({TaskState.QUEUED, TaskState.PROCESSING})


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class TaskInfo:
    task_id: str
    model_choice: str
    engine: str
    sync_mode: SyncMode
    audio_extension: str
    media: MediaInfo
    status: TaskState = TaskState.QUEUED
    stage: str = "queued"
    progress: float = 0.0
    error: str | None = None
    created_at: datetime = field(default_factory=utc_now)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    # Runs started so far; a run may only change the task while it is the latest one.
    attempt: int = 0
    # Last sign of life from the run in progress (a worker that stops reporting is presumed dead).
    heartbeat_at: datetime | None = None


class TaskRegistry(Protocol):
    def add(self, task: TaskInfo) -> None: ...

    def admit(self, task: TaskInfo, limit: int, counted: frozenset[TaskState]) -> bool: ...

    def get(self, task_id: str) -> TaskInfo: ...

    def transition(
        self, task_id: str, allowed: frozenset[TaskState], expect: dict[str, object] | None = None,
        **changes: object,
    ) -> bool: ...

    def count(self, state: TaskState) -> int: ...

    def remove(self, task_id: str) -> None: ...

    def restore(self, task: TaskInfo) -> None: ...

    def all(self) -> list[TaskInfo]: ...


class InMemoryTaskRegistry:
    """Thread-safe: workers update tasks while the event loop reads them."""

    def __init__(self) -> None:
        self._tasks: dict[str, TaskInfo] = {}
        self._lock = threading.Lock()

    def add(self, task: TaskInfo) -> None:
        with self._lock:
            self._tasks[task.task_id] = task

    def admit(self, task: TaskInfo, limit: int, counted: frozenset[TaskState]) -> bool:
        """Add the task only while fewer than `limit` tasks are in the `counted` states."""
        with self._lock:
            if sum(known.status in counted for known in self._tasks.values()) >= limit:
                return False
            self._tasks[task.task_id] = task
            self._changed(task, task.__dataclass_fields__.keys())
            return True

    def get(self, task_id: str) -> TaskInfo:
        with self._lock:
            task = self._tasks.get(task_id)
        if task is None:
            raise TaskNotFound(f"no task with id {task_id}")
        return task

    def transition(
        self, task_id: str, allowed: frozenset[TaskState], expect: dict[str, object] | None = None,
        **changes: object,
    ) -> bool:
        """Apply `changes` only while the task is in one of the `allowed` states and its fields
        hold the `expect`ed values; say whether it was."""
        with self._lock:
            task = self._tasks.get(task_id)
            if task is None or task.status not in allowed:
                return False
            if any(getattr(task, name) != value for name, value in (expect or {}).items()):
                return False
            self._tasks[task_id] = replace(task, **changes)
            self._changed(self._tasks[task_id], changes.keys())
            return True

    def remove(self, task_id: str) -> None:
        with self._lock:
            self._tasks.pop(task_id, None)

    def restore(self, task: TaskInfo) -> None:
        """Put back a task recovered after a restart."""
        with self._lock:
            self._tasks[task.task_id] = task

    def count(self, state: TaskState) -> int:
        with self._lock:
            return sum(task.status is state for task in self._tasks.values())

    def all(self) -> list[TaskInfo]:
        with self._lock:
            return list(self._tasks.values())

    def _changed(self, task: TaskInfo, fields: KeysView[str]) -> None:
        """Called under the lock after each change, so that changes are seen in order."""


# Fields whose change is worth a disk write; progress alone is not (a restart redoes the work).
_DURABLE_FIELDS = frozenset({"status", "error", "started_at", "finished_at"})


class DurableTaskRegistry(InMemoryTaskRegistry):
    """The in-memory registry, with each task's lasting state mirrored to its task.json."""

    def __init__(self, write: Callable[[TaskInfo], None]) -> None:
        super().__init__()
        self._write = write

    def add(self, task: TaskInfo) -> None:
        super().add(task)
        self._write(task)

    def _changed(self, task: TaskInfo, fields: KeysView[str]) -> None:
        if _DURABLE_FIELDS & fields:
            self._write(task)
