"""Start-up of a single host (EXECUTION=local): the registry rebuilt from the task.json records."""

import logging

from app.logs import log_event
from app.services.execution.runner import JobRunner
from app.services.storage.interface import TaskStorage
from app.services.tasks.model import ACTIVE_STATES, TaskState
from app.services.tasks.records import read_records
from app.services.tasks.registry import TaskRegistry
from app.stages import Stage

logger = logging.getLogger(__name__)


def recover_tasks(registry: TaskRegistry, storage: TaskStorage, runner: JobRunner) -> None:
    """Rebuild the registry from task.json files: finished tasks stay, unfinished ones run again."""
    tasks, broken = read_records(storage.upload_dir)
    storage.remove_partial_results()
    known = {task.task_id for task in tasks} | set(broken)
    for leftover in set(storage.task_dirs()) - known:
        storage.remove_task(leftover)  # an upload cut off by the restart
    requeued = []
    for task in tasks:
        if task.status is TaskState.CANCELLED:
            storage.remove_task(task.task_id)
            continue
        registry.restore(task)
        if task.status in ACTIVE_STATES:
            registry.transition(
                task.task_id,
                ACTIVE_STATES,
                status=TaskState.QUEUED,
                stage=Stage.QUEUED,
                progress=0.0,
                started_at=None,
            )
            requeued.append(task.task_id)
    for task_id in requeued:
        runner.submit(task_id)
    if tasks or broken:
        log_event(logger, "registry.recovered", tasks=len(tasks), requeued=len(requeued), broken=len(broken))
