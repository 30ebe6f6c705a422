"""Which registry, storage and runner a process uses, chosen by EXECUTION and STORAGE."""

from app.config import Settings
from app.services.registry import DurableTaskRegistry, TaskRegistry
from app.services.runner import JobRunner, RunTask, ThreadJobRunner
from app.services.storage import TaskStorage
from app.services.task_records import write_record
from app.services.webhooks import WebhookDispatch, WebhookSender


def task_storage(settings: Settings) -> TaskStorage:
    if settings.storage == "s3":
        # Imported here: boto3 is only loaded by hosts that use it.
        from app.services.object_store import ObjectStore
        from app.services.s3_storage import S3TaskStorage

        return S3TaskStorage(settings.upload_dir, ObjectStore(settings))
    return TaskStorage(settings.upload_dir)


def task_registry(settings: Settings, storage: TaskStorage) -> TaskRegistry:
    if settings.execution == "celery":
        from app.services.redis_registry import RedisTaskRegistry

        return RedisTaskRegistry(settings.redis_url)
    # One process: tasks in memory, each mirrored to its task.json to survive a restart.
    return DurableTaskRegistry(lambda task: write_record(storage.task_dir(task.task_id), task))


def job_runner(settings: Settings, run: RunTask) -> JobRunner:
    if settings.execution == "celery":
        from app.services.celery_queue import CeleryJobRunner, celery_app

        return CeleryJobRunner(celery_app(settings))
    return ThreadJobRunner(settings.max_concurrent_jobs, run)


def webhook_sender(settings: Settings) -> WebhookSender:
    dispatch: WebhookDispatch | None = None  # tries on a pool of threads in this process
    if settings.execution == "celery":
        # Tries on the broker's webhooks queue: they outlive the process that schedules them.
        from app.services.celery_queue import celery_app
        from app.services.webhook_queue import CeleryWebhookDispatch

        dispatch = CeleryWebhookDispatch(celery_app(settings))
    return WebhookSender(
        settings.webhook_secret,
        settings.webhook_allow_private,
        settings.webhook_retry_base_s,
        deadline_s=settings.webhook_timeout_s,
        concurrency=settings.webhook_concurrency,
        dispatch=dispatch,
    )
