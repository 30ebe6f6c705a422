"""The registry in this process's memory; `DurableTaskRegistry` mirrors each task to its task.json."""

import threading
from collections.abc import Callable, KeysView, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from app.errors import TaskNotFound
from app.services.tasks.model import TaskInfo, TaskState


class InMemoryTaskRegistry:
    """Thread-safe: workers update tasks while the event loop reads them."""

    def __init__(self) -> None:
        self._tasks: dict[str, TaskInfo] = {}
        self._lock = threading.Lock()

    def add(self, task: TaskInfo) -> None:
        with self._lock:
            self._tasks[task.task_id] = task

    def admit(self, task: TaskInfo, limit: int, counted: frozenset[TaskState]) -> TaskInfo | None:
        """Add the task while fewer than `limit` tasks are in the `counted` states, and return it;
        None when full. A task already holding its Idempotency-Key is returned instead."""
        with self._lock:
            if task.idempotency_key and (known := self._find_by_key(task.idempotency_key)):
                return known
            if sum(known.status in counted for known in self._tasks.values()) >= limit:
                return None
            self._tasks[task.task_id] = task
            self._changed(task, task.__dataclass_fields__.keys())
            return task

    def find_by_key(self, idempotency_key: str) -> TaskInfo | None:
        with self._lock:
            return self._find_by_key(idempotency_key)

    def _find_by_key(self, idempotency_key: str) -> TaskInfo | None:
        # A cancelled task no longer holds its key: the client may use it for a new task.
        return next(
            (
                task
                for task in self._tasks.values()
                if task.idempotency_key == idempotency_key and task.status is not TaskState.CANCELLED
            ),
            None,
        )

    def get(self, task_id: str) -> TaskInfo:
        with self._lock:
            task = self._tasks.get(task_id)
        if task is None:
            raise TaskNotFound(f"no task with id {task_id}")
        return task

    def transition(
        self,
        task_id: str,
        allowed: frozenset[TaskState],
        expect: Mapping[str, object] | None = None,
        **changes: Any,
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

    def in_state(self, state: TaskState) -> list[TaskInfo]:
        with self._lock:
            return [task for task in self._tasks.values() if task.status is state]

    def answering_since(self) -> datetime | None:
        return None  # in this process's memory: never away

    def check_durable(self) -> None:
        """Nothing to check: a durable registry writes each task's record as it changes."""

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
