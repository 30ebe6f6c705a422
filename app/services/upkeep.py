"""Periodic upkeep, off the event loop: deleting expired tasks, and (with workers elsewhere)
queueing again the tasks whose worker stopped reporting."""

import logging
from datetime import timedelta

from app.logs import log_event
from app.services.execution.executor import TaskExecutor
from app.services.execution.runner import JobRunner
from app.services.storage.interface import TaskStorage
from app.services.tasks.model import ACTIVE_STATES, TaskState, utc_now
from app.services.tasks.registry import TaskRegistry
from app.stages import Stage

logger = logging.getLogger(__name__)


def sweep_expired(registry: TaskRegistry, storage: TaskStorage, ttl_hours: float) -> int:
    """Delete tasks older than TASK_TTL_HOURS that are not running (blocking: call off the loop)."""
    cutoff = utc_now() - timedelta(hours=ttl_hours)
    tasks = registry.all()  # one read: in distributed mode it is every record in Redis
    expired = [task.task_id for task in tasks if task.created_at < cutoff and task.status not in ACTIVE_STATES]
    known = {task.task_id for task in tasks}
    # Files no task owns (a broken record skipped at start-up, an upload cut off on another
    # host) expire by their own age.
    expired += storage.leftovers(known, cutoff.timestamp())
    for task_id in expired:
        # Files first: once a task is unknown (404), nothing of it is left on disk.
        storage.remove_task(task_id)
        registry.remove(task_id)
    if expired:
        log_event(logger, "sweep.deleted", tasks=len(expired))
    return len(expired)


def requeue_stalled(registry: TaskRegistry, runner: JobRunner, executor: TaskExecutor) -> int:
    """Queue again the running tasks whose worker stopped reporting (blocking: call off the loop).

    The worker that takes one counts a new attempt, and fails the task past MAX_ATTEMPTS.
    """
    requeued = 0
    for task in registry.in_state(TaskState.PROCESSING):
        if executor.is_stalled(task) and registry.transition(
            task.task_id,
            frozenset({TaskState.PROCESSING}),
            expect={"attempt": task.attempt, "heartbeat_at": task.heartbeat_at},
            status=TaskState.QUEUED,
            stage=Stage.QUEUED,
            progress=0.0,
        ):
            log_event(logger, "task.requeued", logging.WARNING, task_id=task.task_id, attempt=task.attempt)
            runner.submit(task.task_id)
            requeued += 1
    return requeued
