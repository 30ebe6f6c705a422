"""The composition root: the one place that reads EXECUTION and STORAGE and builds the registry,
storage, runner, engines and webhook sender. The API (`main`), the worker, the CLI and the benches
get their parts from here.

EXECUTION=local: one process; tasks in memory mirrored to task.json files, run by worker threads.
EXECUTION=celery: tasks in Redis, run by Celery workers on other hosts (`app.worker`).
STORAGE=local keeps files on this host's disk; STORAGE=s3 in a bucket.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass

from app.config import Settings
from app.errors import ModelLabError
from app.logs import log_event
from app.services.execution.engine_catalog import EngineCatalog
from app.services.execution.executor import TaskExecutor
from app.services.execution.runner import JobRunner, RunTask
from app.services.execution.threads import ThreadJobRunner
from app.services.storage.interface import TaskStorage
from app.services.storage.local import LocalTaskStorage
from app.services.task_service import Admission, TaskService
from app.services.tasks.memory_registry import DurableTaskRegistry
from app.services.tasks.model import ACTIVE_STATES, TaskState
from app.services.tasks.records import write_record
from app.services.tasks.recovery import recover_tasks
from app.services.tasks.registry import TaskRegistry
from app.services.upkeep import requeue_stalled, sweep_expired
from app.services.webhooks.sender import WebhookDispatch, WebhookSender

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Chore:
    """Blocking upkeep the API runs off the event loop every `interval_s`."""

    name: str
    run: Callable[[], object]
    interval_s: float


@dataclass(frozen=True)
class ApiParts:
    service: TaskService
    chores: list[Chore]
    # Blocking start-up work (recovering tasks, loading engines, checking the stores) and shutdown.
    start: Callable[[], None]
    stop: Callable[[], None]


def build_api(settings: Settings, registry: TaskRegistry | None = None, runner: JobRunner | None = None) -> ApiParts:
    """What the API process runs (tests may pass their own registry or runner)."""
    storage = task_storage(settings)
    registry = registry or task_registry(settings, storage)
    engines = engine_catalog(settings)
    webhooks = webhook_sender(settings)
    executor = TaskExecutor(settings, registry, storage, engines, webhooks)
    runner = runner or job_runner(settings, executor.run)
    service = TaskService(settings, registry, storage, runner, engines, webhooks, executor, admission(settings))
    chores = [
        Chore("sweep", lambda: sweep_expired(registry, storage, settings.task_ttl_hours), settings.sweep_interval_s)
    ]
    if _workers_elsewhere(settings):
        # Several API hosts may watch at once: a task is requeued by whichever gets there first.
        chores.append(
            Chore("watch", lambda: requeue_stalled(registry, runner, executor), settings.heartbeat_timeout_s / 2)
        )

    def start() -> None:
        if not _workers_elsewhere(settings):
            recover_tasks(registry, storage, runner)
            engines.preload()
        _check_stores(registry, storage)

    return ApiParts(service, chores, start, runner.stop)


def build_worker_executor(settings: Settings) -> TaskExecutor:
    """What a Celery worker process runs jobs with (blocking: loads the engines)."""
    storage = task_storage(settings)
    storage.remove_orphan_scratch()  # what runs killed on this host left (kill -9 skips all clean-up)
    engines = engine_catalog(settings)
    engines.preload()
    return TaskExecutor(settings, task_registry(settings, storage), storage, engines, webhook_sender(settings))


def engine_catalog(settings: Settings) -> EngineCatalog:
    return EngineCatalog.from_settings(settings)


def task_storage(settings: Settings) -> TaskStorage:
    if settings.storage == "s3":
        # Imported here: boto3 is only loaded by hosts that use it.
        from app.services.storage.object_store import ObjectStore
        from app.services.storage.s3 import S3TaskStorage

        return S3TaskStorage(settings.upload_dir, ObjectStore(settings))
    return LocalTaskStorage(settings.upload_dir)


def task_registry(settings: Settings, storage: TaskStorage) -> TaskRegistry:
    if _workers_elsewhere(settings):
        from app.services.tasks.redis_registry import RedisTaskRegistry

        return RedisTaskRegistry(settings.redis_url)
    # One process: tasks in memory, each mirrored to its task.json to survive a restart.
    return DurableTaskRegistry(lambda task: write_record(storage.task_dir(task.task_id), task))


def job_runner(settings: Settings, run: RunTask) -> JobRunner:
    if _workers_elsewhere(settings):
        from app.services.execution.celery_queue import CeleryJobRunner, celery_app

        return CeleryJobRunner(celery_app(settings))
    return ThreadJobRunner(settings.max_concurrent_jobs, run)


def admission(settings: Settings) -> Admission:
    if _workers_elsewhere(settings):
        # Workers are elsewhere and their number unknown here: MAX_QUEUED bounds the tasks
        # waiting, across all API hosts.
        return Admission(settings.max_queued, frozenset({TaskState.QUEUED}))
    return Admission(settings.max_concurrent_jobs + settings.max_queued, ACTIVE_STATES)


def webhook_sender(settings: Settings) -> WebhookSender:
    dispatch: WebhookDispatch | None = None  # tries on a pool of threads in this process
    if _workers_elsewhere(settings):
        # Tries on the broker's webhooks queue: they outlive the process that schedules them.
        from app.services.execution.celery_queue import celery_app
        from app.services.webhooks.celery_dispatch import CeleryWebhookDispatch

        dispatch = CeleryWebhookDispatch(celery_app(settings))
    return WebhookSender(
        settings.webhook_secret,
        settings.webhook_allow_private,
        settings.webhook_retry_base_s,
        deadline_s=settings.webhook_timeout_s,
        concurrency=settings.webhook_concurrency,
        dispatch=dispatch,
    )


def _workers_elsewhere(settings: Settings) -> bool:
    return settings.execution == "celery"


def _check_stores(registry: TaskRegistry, storage: TaskStorage) -> None:
    """Check that the task store keeps its data and that the storage answers. Not fatal: requests
    answer 503 until a backend is back."""
    try:
        registry.check_durable()
        storage.check_ready()
    except ModelLabError as error:
        log_event(logger, "backend.unavailable_at_start", logging.ERROR, reason=error.message)
