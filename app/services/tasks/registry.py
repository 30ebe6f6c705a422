"""The task registry interface: every process's view of the tasks and their states.

Implementations: `memory_registry` (one process, optionally mirrored to disk) and `redis_registry`
(shared by every API host and worker). `tests/services/test_registry_contract.py` runs the same
suite against each.
"""

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

from app.services.tasks.model import TaskInfo, TaskState


class TaskRegistry(Protocol):
    def add(self, task: TaskInfo) -> None: ...

    def admit(self, task: TaskInfo, limit: int, counted: frozenset[TaskState]) -> TaskInfo | None: ...

    def find_by_key(self, idempotency_key: str) -> TaskInfo | None:
        """The task holding a client's Idempotency-Key; a cancelled or removed one holds none."""
        ...

    def get(self, task_id: str) -> TaskInfo: ...

    def transition(
        self,
        task_id: str,
        allowed: frozenset[TaskState],
        expect: Mapping[str, object] | None = None,
        **changes: Any,
    ) -> bool: ...

    def count(self, state: TaskState) -> int: ...

    def in_state(self, state: TaskState) -> list[TaskInfo]: ...

    def remove(self, task_id: str) -> None: ...

    def restore(self, task: TaskInfo) -> None: ...

    def all(self) -> list[TaskInfo]: ...

    def answering_since(self) -> datetime | None:
        """When the store came back from its latest outage (None: none seen): heartbeats count
        from then on, as no run could report while it was away."""
        ...

    def check_durable(self) -> None:
        """Raise BackendUnavailable when the store would lose tasks on a restart, or cannot answer."""
        ...
