"""The job runner interface: how an accepted task's id reaches whatever runs it.

Implementations: `threads.ThreadJobRunner` (worker threads in this process) and
`celery_queue.CeleryJobRunner` (workers on other hosts, through Redis).
"""

from collections.abc import Callable
from typing import Protocol

RunTask = Callable[[str], None]


class JobRunner(Protocol):
    def submit(self, task_id: str) -> None: ...

    def withdraw(self, task_id: str) -> None:
        """Drop the task's waiting jobs, if the queue can: it was cancelled. Where it cannot, the
        job still starts and its claim finds nothing to run."""
        ...

    def stop(self) -> None: ...
